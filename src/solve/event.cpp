// odeint_event: the adaptive loop (detail/adaptive_loop.hpp) with a stepper
// that looks for a sign change of the event function after every accepted
// step and ends the solve at the first one.
#include <odeflow/solve/event.hpp>

#include "dynamic_rk.hpp"

#include <odeflow/core/error.hpp>
#include <odeflow/solve/detail/adaptive_loop.hpp>
#include <odeflow/solve/detail/bracket_root.hpp>
#include <odeflow/solve/detail/solve_checks.hpp>
#include <odeflow/solve/registry.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

namespace odeflow {

void EventOptions::validate() const {
  if (std::isnan(t_end)) throw InvalidArgument("EventOptions::t_end is NaN");
  if (!(root_tol >= 0.0) || !std::isfinite(root_tol))
    throw InvalidArgument(fmt::format("EventOptions::root_tol = {} must be finite and non-negative", root_tol));
}

namespace {

double sign(double x) { return x > 0.0 ? 1.0 : (x < 0.0 ? -1.0 : 0.0); }

// What the stepper found: the event, in the loop's time (s = −t backwards).
template <Scalar S>
struct Found {
  Time t = 0, bracket = 0;
  double value = 0;
  Matrix<S> y;
  int root_iterations = 0;
};

// The Stepper of adaptive_loop: the run-time RK stepper (dynamic_rk.hpp)
// plus the event search (stop_after) in the loop's increasing time.
template <Scalar S>
class EventRk : public detail::DynamicRk<S> {
 public:
  using State = Matrix<S>;

  // direction: +1, or −1 when the loop runs backwards in s = −t (for messages).
  EventRk(const ButcherTableau& tableau, Rhs<S> f, EventFunction<S> e, const Matrix<S>& y0, Time t0, Time t_end,
          const EventOptions& event, double direction)
      : detail::DynamicRk<S>(tableau, f, y0.rows(), y0.cols(), nullptr), e_(e), t_end_(t_end),
        direction_(direction), event_(event), f1_(y0.rows(), y0.cols()), probe_(y0.rows(), y0.cols()) {
    g_start_ = evaluate_event(t0, y0);
    last_sign_ = sign(g_start_);
  }

  // After the accepted step [t0, t1] from y0: whether e changed sign in it
  // (up to t_end), and then where.
  bool stop_after(Time t0, Time t1, const State& y0) {
    const bool last = t1 >= t_end_;
    const Time end = last ? t_end_ : t1;
    double g_end;
    if (end == t1) {
      g_end = evaluate_event(t1, this->y1());
    } else {
      this->ensure_dense(t0, t1, y0, &f1_, &extra_nfe_);
      this->probe_dense(end, probe_);
      g_end = evaluate_event(end, probe_);
    }
    const double g_start = g_start_, s = sign(g_end);
    g_start_ = g_end;
    const bool crossed = last_sign_ != 0.0 && s != last_sign_;
    const bool wanted = event_.direction == EventDirection::kAny ||
                        (event_.direction == EventDirection::kRising ? last_sign_ < 0.0 : last_sign_ > 0.0);
    if (s != 0.0) last_sign_ = s;
    if (!(crossed && wanted)) return false;

    // g_start is nonzero here: a zero at a step end is itself a crossing
    // (then reported) unless no sign was seen yet or the direction differs,
    // and in both cases no wanted crossing can follow it directly.
    Found<S>& found = found_.emplace();
    this->ensure_dense(t0, t1, y0, &f1_, &extra_nfe_);
    auto g = [&](double t) {
      this->probe_dense(t, probe_);
      return evaluate_event(t, probe_);
    };
    const double tol = std::max(event_.root_tol, 4.0 * std::numeric_limits<double>::epsilon() *
                                                     std::max(std::abs(t0), std::abs(end)));
    const detail::BracketRoot root = detail::bracket_root(g, t0, g_start, end, g_end, tol);
    found.t = root.after;
    found.bracket = root.before;
    found.value = root.g_after;
    found.root_iterations = root.iterations;
    found.y = this->make_state();
    this->probe_dense(root.after, found.y);
    return true;
  }

  const std::optional<Found<S>>& found() const { return found_; }
  std::int64_t event_evaluations() const { return event_evaluations_; }
  std::int64_t extra_nfe() const { return extra_nfe_; }
  double last_value() const { return g_start_; }

 private:
  double evaluate_event(Time t, const Matrix<S>& y) {
    const double g = e_(t, y);
    ++event_evaluations_;
    if (!std::isfinite(g))
      throw NonFiniteError(fmt::format("odeint_event: the event function returned {} at t = {}", g, direction_ * t),
                           direction_ * t, 0.0);
    return g;
  }

  EventFunction<S> e_;
  Time t_end_;
  double direction_;
  const EventOptions& event_;
  Matrix<S> f1_, probe_;
  double g_start_ = 0.0;    // e at the start of the next step
  double last_sign_ = 0.0;  // sign of the last nonzero e (0: none yet)
  std::optional<Found<S>> found_;
  std::int64_t event_evaluations_ = 0, extra_nfe_ = 0;
};

const ButcherTableau& event_tableau(const Options& options) {
  const MethodInfo& method = find_method(options.method);
  if (method.kind != MethodKind::kExplicitRk || !method.adaptive || options.step_size > 0.0 ||
      !options.grid_points.empty())
    throw InvalidArgument(fmt::format("odeint_event: method '{}'{} is not supported; events need an adaptive "
                                      "Runge-Kutta method (dopri5, tsit5, dopri8, bosh3, fehlberg2, adaptive_heun) "
                                      "without step_size or grid_points",
                                      options.method,
                                      method.adaptive && method.kind == MethodKind::kExplicitRk ? " with fixed steps"
                                                                                                 : ""));
  return *method.tableau;
}

// The solve in the loop's increasing time u (u = t forwards, u = −t backwards).
template <Scalar S>
EventSolution<S> search(Rhs<S> f, const Matrix<S>& y0, Time u0, Time u_end, EventFunction<S> e,
                        const Options& options, const EventOptions& event, double direction) {
  EventRk<S> stepper(event_tableau(options), f, e, y0, u0, u_end, event, direction);
  const std::vector<Time> ts{u0, u_end};
  Solution<S> sol;
  try {
    sol = detail::adaptive_loop(stepper, y0, ts, options);
  } catch (const MaxStepsExceeded& error) {
    throw MaxStepsExceeded(fmt::format("odeint_event: no event within max_num_steps = {} (reached t = {}, "
                                       "where the event function is {})",
                                       options.max_num_steps, direction * error.t(), stepper.last_value()),
                           direction * error.t(), error.dt());
  }
  if (!stepper.found())
    throw EventNotFound(fmt::format("odeint_event: no event between t0 = {} and t_end = {} ({} accepted steps)",
                                    direction * u0, direction * u_end, sol.stats.accepted),
                        direction * u_end, sol.stats.last_step);
  const Found<S>& found = *stepper.found();
  EventSolution<S> out;
  out.t = direction * found.t;
  out.bracket = direction * found.bracket;
  out.y = found.y;
  out.value = found.value;
  out.stats = sol.stats;
  out.stats.nfe += stepper.extra_nfe();
  out.event_evaluations = stepper.event_evaluations();
  out.root_iterations = found.root_iterations;
  return out;
}

}  // namespace

template <Scalar S>
EventSolution<S> solve_event(Rhs<S> f, const Matrix<S>& y0, Time t0, EventFunction<S> event_fn,
                             const Options& options, const EventOptions& event) {
  detail::check_inputs<S>(y0, std::span<const Time>(&t0, 1), options);
  event.validate();
  if (event.t_end == t0)
    throw InvalidArgument(fmt::format("odeint_event: t_end = {} equals t0; it sets the direction of integration",
                                      event.t_end));
  if (event.t_end > t0) return search<S>(f, y0, t0, event.t_end, event_fn, options, event, 1.0);

  // Backwards in time: the loop runs in s = −t on dz/ds = −f(−s, z), with e(−s, z).
  const Options reversed = detail::reversed_options(options);
  auto g = [&f](Time s, const Matrix<S>& z, Matrix<S>& dz) {
    f(-s, z, dz);
    dz = -dz;
  };
  auto e = [&event_fn](Time s, const Matrix<S>& z) { return event_fn(-s, z); };
  return search<S>(Rhs<S>(g), y0, -t0, -event.t_end, EventFunction<S>(e), reversed, event, -1.0);
}

template EventSolution<float> solve_event<float>(Rhs<float>, const Matrix<float>&, Time, EventFunction<float>,
                                                 const Options&, const EventOptions&);
template EventSolution<double> solve_event<double>(Rhs<double>, const Matrix<double>&, Time,
                                                   EventFunction<double>, const Options&, const EventOptions&);

}  // namespace odeflow
