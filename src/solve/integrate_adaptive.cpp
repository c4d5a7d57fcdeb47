// The adaptive loop (detail/adaptive_loop.hpp) with the run-time stepper
// (dynamic_rk.hpp): any tableau, Matrix<S> states, f behind Rhs<S>. Compiled
// once per scalar.
#include "dynamic_rk.hpp"
#include "integrators.hpp"

#include <odeflow/core/error.hpp>
#include <odeflow/solve/detail/adaptive_loop.hpp>

#include <fmt/format.h>

#include <cmath>
#include <string>

namespace odeflow::detail {
namespace {

template <Scalar S>
std::string first_non_finite(const S* data, Eigen::Index rows, Eigen::Index cols) {
  for (Eigen::Index c = 0; c < cols; ++c)
    for (Eigen::Index r = 0; r < rows; ++r)
      if (const S v = data[c * rows + r]; !std::isfinite(v)) return fmt::format("component ({}, {}) = {}", r, c, v);
  return "no component";
}

}  // namespace

template <Scalar S>
void throw_non_finite_f0(Time t0, const S* f0, Eigen::Index rows, Eigen::Index cols) {
  throw NonFiniteError(
      fmt::format("f(t0, y0) is not finite at t0 = {}: {}", t0, first_non_finite(f0, rows, cols)), t0, 0.0);
}

template <Scalar S>
void throw_non_finite_state(Time t1, double dt, Time t0, const S* y1, Eigen::Index rows, Eigen::Index cols) {
  throw NonFiniteError(fmt::format("non-finite state at t = {} with dt = min_step = {}: {}", t1, dt,
                                   first_non_finite(y1, rows, cols)),
                       t0, dt);
}

void throw_max_steps(const Options& options, Time t, double dt, const Stats& stats, Time next_out) {
  throw MaxStepsExceeded(fmt::format("max_num_steps = {} exceeded at t = {} (dt = {}, {} accepted, {} "
                                     "rejected); next output time {}",
                                     options.max_num_steps, t, dt, stats.accepted, stats.rejected, next_out),
                         t, dt);
}

void throw_step_underflow(Time t, double dt, const Stats& stats, double last_ratio, bool last_non_finite) {
  throw StepSizeUnderflow(
      fmt::format("step size underflow: dt = {} at t = {} after {} accepted and {} rejected steps "
                  "(last error ratio {}{}); the problem may be stiff or the solution may blow up",
                  dt, t, stats.accepted, stats.rejected, last_ratio,
                  last_non_finite ? ", the last attempt produced non-finite values" : ""),
      t, dt);
}

template <Scalar S>
Solution<S> integrate_adaptive_rk(Rhs<S> f, const Matrix<S>& y0, std::span<const Time> ts,
                                  const Options& options, const ButcherTableau& tableau,
                                  StepRecorder<S>* recorder) {
  DynamicRk<S> stepper(tableau, f, y0.rows(), y0.cols(), recorder);
  return adaptive_loop(stepper, y0, ts, options);
}

#define ODEFLOW_INSTANTIATE(S)                                                                       \
  template void throw_non_finite_f0<S>(Time, const S*, Eigen::Index, Eigen::Index);                  \
  template void throw_non_finite_state<S>(Time, double, Time, const S*, Eigen::Index, Eigen::Index); \
  template Solution<S> integrate_adaptive_rk<S>(Rhs<S>, const Matrix<S>&, std::span<const Time>,      \
                                                const Options&, const ButcherTableau&, StepRecorder<S>*);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::detail
