// Step-size control for the adaptive Runge–Kutta methods. A pure function of
// the error ratio history: tests can script error sequences.
#pragma once

#include <odeflow/solve/options.hpp>

#include <algorithm>
#include <cmath>

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
// Inline: it runs after every attempted step, and for small systems its call
// overhead is a visible part of a step.
inline double next_step_size(const Options& options, int order, double dt, double ratio, bool accepted,
                             ControllerState& state) {
  double factor;
  if (!std::isfinite(ratio)) {
    factor = options.dfactor;
  } else if (ratio == 0.0) {
    factor = options.ifactor;
  } else if (options.controller == Controller::kI) {
    // torchdiffeq: accepted steps never shrink.
    if (state.order != order) {
      state.order = order;
      state.keep_above = std::pow(options.safety, order);
      state.grow_below = std::pow(options.safety / options.ifactor, order);
      state.shrink_above = std::pow(options.safety / options.dfactor, order);
    }
    const double lower = ratio < 1.0 ? 1.0 : options.dfactor;
    if (ratio < 1.0 && ratio >= state.keep_above)
      factor = 1.0;
    else if (ratio <= state.grow_below)
      factor = options.ifactor;
    else if (ratio >= state.shrink_above)
      factor = options.dfactor;
    else
      factor = std::min(options.ifactor, std::max(options.safety / std::pow(ratio, 1.0 / order), lower));
  } else {
    // Gustafsson's PI controller in diffrax's form: r_n^(-(p+i)/q) · r_{n-1}^(p/q).
    const double q = order;
    factor = options.safety * std::pow(ratio, -(options.pcoeff + options.icoeff) / q) *
             std::pow(state.previous_ratio, options.pcoeff / q);
    const double lower = accepted ? 1.0 : options.dfactor;
    const double upper = accepted ? options.ifactor : options.safety;
    factor = std::clamp(factor, lower, upper);
  }
  if (accepted && std::isfinite(ratio)) state.previous_ratio = std::max(ratio, 1e-10);
  return std::clamp(dt * factor, options.min_step, options.max_step);
}

}  // namespace odeflow
