#include <odeflow/solve/controller.hpp>

#include <algorithm>
#include <cmath>

namespace odeflow {

double next_step_size(const Options& options, int order, double dt, double ratio, bool accepted,
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
