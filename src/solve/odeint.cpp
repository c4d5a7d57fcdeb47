#include "integrators.hpp"

#include <odeflow/core/error.hpp>
#include <odeflow/solve/detail/step_recorder.hpp>
#include <odeflow/solve/odeint.hpp>
#include <odeflow/solve/registry.hpp>

#include <fmt/format.h>

#include <cmath>

namespace odeflow {

namespace detail {

void throw_rhs_shape(Eigen::Index rows, Eigen::Index cols, Eigen::Index want_rows, Eigen::Index want_cols,
                     Time t) {
  throw ShapeError(fmt::format("f returned a {}x{} matrix at t = {}; expected {}x{} (the shape of y)", rows, cols,
                               t, want_rows, want_cols));
}

template <Scalar S>
void check_inputs(const Matrix<S>& y0, std::span<const Time> ts, const Options& options) {
  options.validate();
  if (y0.rows() == 0 || y0.cols() == 0)
    throw ShapeError(fmt::format("y0 is {}x{}; it needs at least one row and one column", y0.rows(), y0.cols()));
  for (Eigen::Index c = 0; c < y0.cols(); ++c)
    for (Eigen::Index r = 0; r < y0.rows(); ++r)
      if (!std::isfinite(y0(r, c)))
        throw NonFiniteError(fmt::format("y0({}, {}) = {} is not finite", r, c, y0(r, c)), 0.0, 0.0);
  for (const auto* tol : {&options.rtol, &options.atol})
    if (!tol->is_scalar() && tol->values().size() != y0.rows())
      throw ShapeError(fmt::format("{} has {} components but the state has {} rows",
                                   tol == &options.rtol ? "rtol" : "atol", tol->values().size(), y0.rows()));
  if (ts.empty()) throw InvalidArgument("ts is empty; it needs at least the initial time");
  for (std::size_t i = 0; i < ts.size(); ++i)
    if (!std::isfinite(ts[i])) throw InvalidArgument(fmt::format("ts[{}] = {} is not finite", i, ts[i]));
  if (ts.size() < 2) return;
  const bool increasing = ts[1] > ts[0];
  for (std::size_t i = 1; i < ts.size(); ++i)
    if (increasing ? !(ts[i] > ts[i - 1]) : !(ts[i] < ts[i - 1]))
      throw InvalidArgument(fmt::format("ts must be strictly increasing or strictly decreasing: ts[{}] = {} "
                                        "follows ts[{}] = {}",
                                        i, ts[i], i - 1, ts[i - 1]));
}

Options reversed_options(const Options& options) {
  Options reversed = options;
  reversed.step_t = negated_times(options.step_t);
  reversed.jump_t = negated_times(options.jump_t);
  reversed.grid_points = negated_times(options.grid_points);
  if (options.on_step)
    reversed.on_step = [&options](const StepInfo& info) {
      options.on_step({-info.t0, -info.dt, info.error_ratio, info.accepted});
    };
  return reversed;
}

std::vector<Time> negated_times(std::span<const Time> times) {
  std::vector<Time> out(times.size());
  for (std::size_t i = 0; i < times.size(); ++i) out[i] = -times[i];
  return out;
}

template void check_inputs<float>(const Matrix<float>&, std::span<const Time>, const Options&);
template void check_inputs<double>(const Matrix<double>&, std::span<const Time>, const Options&);

}  // namespace detail

namespace {

template <Scalar S>
Solution<S> dispatch(Rhs<S> f, const Matrix<S>& y0, std::span<const Time> ts, const Options& options) {
  const MethodInfo& method = find_method(options.method);
  switch (method.kind) {
    case MethodKind::kExplicitRk: {
      const bool fixed = !method.adaptive || options.step_size > 0.0 || !options.grid_points.empty();
      return fixed ? detail::integrate_fixed_rk<S>(f, y0, ts, options, *method.tableau)
                   : detail::integrate_adaptive_rk<S>(f, y0, ts, options, *method.tableau);
    }
    case MethodKind::kAdamsBashforth:
      return detail::integrate_fixed_adams<S>(f, y0, ts, options, false);
    case MethodKind::kAdamsMoulton:
      return detail::integrate_fixed_adams<S>(f, y0, ts, options, true);
    case MethodKind::kAdamsVariable:
      return detail::integrate_adams<S>(f, y0, ts, options);
  }
  throw UnknownMethod(fmt::format("method '{}' has no integrator", options.method));
}

}  // namespace

template <Scalar S>
Solution<S> solve(Rhs<S> f, const Matrix<S>& y0, std::span<const Time> ts, const Options& options) {
  detail::check_inputs(y0, ts, options);
  if (ts.size() < 2 || ts[1] > ts[0]) return dispatch<S>(f, y0, ts, options);

  // Backwards in time: solve dz/ds = −f(−s, z) for s = −t, increasing.
  const std::vector<Time> s = detail::negated_times(ts);
  const Options reversed = detail::reversed_options(options);
  auto g = [&f](Time si, const Matrix<S>& z, Matrix<S>& dz) {
    f(-si, z, dz);
    dz = -dz;
  };
  Solution<S> sol = dispatch<S>(Rhs<S>(g), y0, s, reversed);
  sol.ts.assign(ts.begin(), ts.end());
  return sol;
}

namespace detail {

template <Scalar S>
Solution<S> solve_recorded(Rhs<S> f, const Matrix<S>& y0, std::span<const Time> ts, const Options& options,
                           StepRecorder<S>& recorder) {
  check_inputs(y0, ts, options);
  const MethodInfo& method = find_method(options.method);
  if (method.kind != MethodKind::kExplicitRk)
    throw InvalidArgument(fmt::format("method '{}' cannot be differentiated through its steps; use an explicit "
                                      "Runge-Kutta method or the adjoint",
                                      options.method));
  const bool fixed = !method.adaptive || options.step_size > 0.0 || !options.grid_points.empty();
  auto run = [&](Rhs<S> g, std::span<const Time> times, const Options& opts) {
    return fixed ? integrate_fixed_rk<S>(g, y0, times, opts, *method.tableau, &recorder)
                 : integrate_adaptive_rk<S>(g, y0, times, opts, *method.tableau, &recorder);
  };
  if (ts.size() < 2 || ts[1] > ts[0]) return run(f, ts, options);
  const std::vector<Time> s = negated_times(ts);
  const Options reversed = reversed_options(options);
  auto g = [&f](Time si, const Matrix<S>& z, Matrix<S>& dz) {
    f(-si, z, dz);
    dz = -dz;
  };
  Solution<S> sol = run(Rhs<S>(g), s, reversed);
  sol.ts.assign(ts.begin(), ts.end());
  return sol;
}

template Solution<float> solve_recorded<float>(Rhs<float>, const Matrix<float>&, std::span<const Time>,
                                               const Options&, StepRecorder<float>&);
template Solution<double> solve_recorded<double>(Rhs<double>, const Matrix<double>&, std::span<const Time>,
                                                 const Options&, StepRecorder<double>&);

}  // namespace detail

template Solution<float> solve<float>(Rhs<float>, const Matrix<float>&, std::span<const Time>, const Options&);
template Solution<double> solve<double>(Rhs<double>, const Matrix<double>&, std::span<const Time>,
                                        const Options&);

}  // namespace odeflow
