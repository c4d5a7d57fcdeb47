// Events: integrate until a scalar event function changes sign.
//
//   auto f = [](double, const Eigen::MatrixXd& y) -> Eigen::MatrixXd { ... };   // y = [h, v]
//   auto ground = [](double, const Eigen::MatrixXd& y) { return y(0); };          // e(t, y) = h
//   odeflow::EventSolution<double> ev = odeflow::odeint_event(f, y0, 0.0, ground, options);
//   ev.t;  ev.y;    // the first time h crosses zero, and the state there
//
// The solve is odeint's adaptive Runge–Kutta loop with `options` (the same
// steps, statistics and errors as odeint(f, y0, {t0, t_end})). After each
// accepted step e is evaluated at the step's end; when its sign differs from
// its last nonzero value (in the requested direction), the crossing is
// located on that step's dense output (the method's own interpolant, as for
// odeint's outputs) by Anderson–Björck regula falsi with a bisection
// safeguard (detail/bracket_root.hpp): typically 6–12 evaluations of the
// interpolant and of e, and no evaluation of f for FSAL methods.
//
// - y0: rows x batch. e(t, y) returns one number for the whole state, so the
//   whole batch stops at one event (torchdiffeq's convention).
// - Accuracy: the returned t is within EventOptions::root_tol (default
//   4ε·max(|t0|, |t1|) of the step holding it: a few ulps of t) of a sign
//   change of e along the dense output; the dense output itself is accurate
//   to the solver's tolerance. t is the end of the final bracket past the
//   crossing: e(t, y) is zero or has the new sign, so a chained solve that
//   restarts from (t, y) with the same event and a direction does not see
//   this crossing again.
// - Crossings are detected at step ends: two crossings inside one step (the
//   sign equal at both ends) are missed, and with several sign changes in a
//   step any one may be found. Bound Options::max_step to resolve them.
// - e(t0, y0) == 0 is not an event: the search starts once e leaves zero.
// - Backwards in time: EventOptions::t_end < t0 (−∞ allowed).
// - Methods: the adaptive explicit Runge–Kutta ones (dopri5, tsit5, dopri8,
//   bosh3, fehlberg2, adaptive_heun), without step_size/grid_points.
//
// Throws InvalidArgument before solving (odeint's checks on y0 and options,
// another method, t_end equal to t0 or NaN, bad root_tol), NonFiniteError
// when e returns NaN or ±∞, EventNotFound when t_end is reached without an
// event, MaxStepsExceeded (naming the event search) after
// Options::max_num_steps attempted steps, and odeint's other SolverErrors.
#pragma once

#include <odeflow/core/error.hpp>
#include <odeflow/core/function_ref.hpp>
#include <odeflow/core/stats.hpp>
#include <odeflow/core/types.hpp>
#include <odeflow/solve/odeint.hpp>
#include <odeflow/solve/options.hpp>
#include <odeflow/solve/rhs.hpp>

#include <Eigen/Core>

#include <cstdint>
#include <limits>
#include <type_traits>

namespace odeflow {

// Which sign changes count, in the direction of integration.
enum class EventDirection {
  kAny,
  kRising,   // from negative to zero or positive
  kFalling,  // from positive to zero or negative
};

struct EventOptions {
  // Integrate from t0 towards t_end (t_end < t0: backwards in time); reaching
  // it without an event throws EventNotFound.
  Time t_end = std::numeric_limits<Time>::infinity();
  EventDirection direction = EventDirection::kAny;
  // Width (in time) of the final bracket of the root search; 0: 4ε·max(|t0|,
  // |t1|) of the step that holds the event, about as tight as doubles allow.
  double root_tol = 0.0;

  // Throws InvalidArgument naming the first bad field.
  void validate() const;
};

template <Scalar S>
struct EventSolution {
  Time t = 0;        // the event time
  Matrix<S> y;       // y(t), same shape as y0
  double value = 0;  // e(t, y): zero or of the sign after the crossing
  Time bracket = 0;  // the final bracket's other end: the sign change lies between it and t
  Stats stats;       // the solve's (nfe includes evaluations made for the dense output)
  std::int64_t event_evaluations = 0;  // calls of e (one per accepted step, plus the root search)
  int root_iterations = 0;             // interpolant evaluations of the root search
};

// The event function as the solver sees it.
template <Scalar S>
using EventFunction = FunctionRef<double(Time, const Matrix<S>&)>;

// The type-erased event solve (compiled for float and double in src/solve/event.cpp).
template <Scalar S>
EventSolution<S> solve_event(Rhs<S> f, const Matrix<S>& y0, Time t0, EventFunction<S> event_fn,
                             const Options& options, const EventOptions& event);

// f: f(t, y) -> dy/dt or f(t, y, dy), on Matrix<S> (as odeint's run-time
// path); event_fn: e(t, y) -> a number, y a const Matrix<S>&.
template <class F, class E, class Derived>
EventSolution<typename Derived::Scalar> odeint_event(F&& f, const Eigen::MatrixBase<Derived>& y0, Time t0,
                                                     E&& event_fn, const Options& options = {},
                                                     const EventOptions& event = {}) {
  using S = typename Derived::Scalar;
  static_assert(Scalar<S>, "odeint_event: y0 must hold float or double");
  static_assert(std::is_invocable_v<F&, Time, const Matrix<S>&, Matrix<S>&> ||
                    std::is_invocable_v<F&, Time, const Matrix<S>&>,
                "odeint_event: f must be callable as f(t, y) -> dy or f(t, y, dy) with y a Matrix");
  static_assert(std::is_invocable_v<E&, Time, const Matrix<S>&>,
                "odeint_event: event_fn must be callable as e(t, y) -> number with y a Matrix");
  auto rhs = detail::make_rhs<S>(f);
  auto e = [&event_fn](Time t, const Matrix<S>& y) { return static_cast<double>(event_fn(t, y)); };
  const Matrix<S> y0_matrix = y0;
  return solve_event<S>(Rhs<S>(rhs), y0_matrix, t0, EventFunction<S>(e), options, event);
}

}  // namespace odeflow
