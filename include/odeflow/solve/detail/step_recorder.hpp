// What a gradient through a solve needs from the forward pass (internal):
// the accepted steps of an explicit Runge–Kutta solve and where each output
// came from. sensitivity/ implements it; the run-time integration loops
// (adaptive and fixed-step) call it when given one.
#pragma once

#include <odeflow/core/types.hpp>
#include <odeflow/solve/options.hpp>
#include <odeflow/solve/rhs.hpp>
#include <odeflow/solve/rk_step.hpp>
#include <odeflow/solve/solution.hpp>

#include <span>

namespace odeflow::detail {

template <Scalar S>
class StepRecorder {
 public:
  virtual ~StepRecorder() = default;
  // An accepted step [t0, t1] (dt as the stages used it) from y0, with
  // work.k[0..s-1] its stages and work.y1 its end. `jump`: t1 is a jump_t
  // time, so the next step's first stage is f re-evaluated just after t1.
  virtual void step(Time t0, Time dt, Time t1, const Matrix<S>& y0, const RkWork<S>& work, bool jump) = 0;
  // The next output was taken at time t from the last recorded step: by
  // its dense output (work.k then also holds any extra dense stages), or by
  // the straight line between y0 and y1 when `linear`.
  virtual void output(Time t, const RkWork<S>& work, bool linear) = 0;
};

// solve() for an explicit Runge–Kutta method with a recorder. Times are those
// of the integration loop: for decreasing ts the loop runs in s = −t on
// g(s, y) = −f(−s, y) (solve()'s reversal), and so do the recorded steps.
template <Scalar S>
Solution<S> solve_recorded(Rhs<S> f, const Matrix<S>& y0, std::span<const Time> ts, const Options& options,
                           StepRecorder<S>& recorder);

}  // namespace odeflow::detail
