// Step-size control for the adaptive Runge–Kutta methods. A pure function of
// the error ratio history: tests can script error sequences.
#pragma once

#include <odeflow/solve/options.hpp>

namespace odeflow {

struct ControllerState {
  double previous_ratio = 1.0;  // error ratio of the last accepted step (PI controller)

  // I controller: ratios beyond which the factor is clamped, so pow() can be
  // skipped (it dominates the step cost of small systems). Set on first use.
  int order = 0;
  double keep_above = 0.0;    // accepted with ratio ≥ this: factor 1
  double grow_below = 0.0;    // ratio ≤ this: factor ifactor
  double shrink_above = 0.0;  // rejected with ratio ≥ this: factor dfactor
};

// The next step size after a step of size dt whose error ratio was `ratio`
// (accepted iff ratio ≤ 1, or forced). `order` is the exponent's q: the
// propagated order, as torchdiffeq. Clamped to [min_step, max_step].
double next_step_size(const Options& options, int order, double dt, double ratio, bool accepted,
                      ControllerState& state);

}  // namespace odeflow
