#include <odeflow/core/error.hpp>
#include <odeflow/solve/options.hpp>
#include <odeflow/solve/registry.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace odeflow {
namespace {

void check_tolerance(const char* name, const Tolerance& tol) {
  if (tol.values().size() == 0) throw InvalidArgument(fmt::format("{} is empty", name));
  for (Eigen::Index i = 0; i < tol.values().size(); ++i) {
    const double v = tol.values()[i];
    if (!std::isfinite(v) || v < 0.0)
      throw InvalidArgument(fmt::format("{}[{}] = {} must be finite and non-negative", name, i, v));
  }
}

void check_range(const char* name, double value, double lo, double hi) {
  if (!(value >= lo && value <= hi))
    throw InvalidArgument(fmt::format("{} = {} must lie in [{}, {}]", name, value, lo, hi));
}

void check_times(const char* name, const std::vector<double>& times) {
  for (std::size_t i = 0; i < times.size(); ++i)
    if (!std::isfinite(times[i]))
      throw InvalidArgument(fmt::format("{}[{}] = {} is not finite", name, i, times[i]));
}

}  // namespace

void Options::validate() const {
  find_method(method);
  check_tolerance("rtol", rtol);
  check_tolerance("atol", atol);
  if (rtol.values().maxCoeff() == 0.0 && atol.values().maxCoeff() == 0.0)
    throw InvalidArgument("rtol and atol are both zero: no error can be accepted");
  check_range("safety", safety, 1e-4, 1.0);
  check_range("ifactor", ifactor, 1.0, 1e6);
  check_range("dfactor", dfactor, 1e-6, 1.0);
  check_range("pcoeff", pcoeff, 0.0, 10.0);
  check_range("icoeff", icoeff, 0.0, 10.0);
  if (controller == Controller::kPI && pcoeff + icoeff <= 0.0)
    throw InvalidArgument("pcoeff + icoeff must be positive for the PI controller");
  check_range("first_step", first_step, 0.0, HUGE_VAL);
  check_range("min_step", min_step, 0.0, HUGE_VAL);
  if (controlled_rows < 0)
    throw InvalidArgument(fmt::format("controlled_rows = {} must be non-negative", controlled_rows));
  if (!(max_step > 0.0)) throw InvalidArgument(fmt::format("max_step = {} must be positive", max_step));
  if (min_step > max_step)
    throw InvalidArgument(fmt::format("min_step = {} exceeds max_step = {}", min_step, max_step));
  if (max_num_steps <= 0)
    throw InvalidArgument(fmt::format("max_num_steps = {} must be positive", max_num_steps));
  check_range("step_size", step_size, 0.0, HUGE_VAL);
  if (step_size > 0.0 && !grid_points.empty())
    throw InvalidArgument("step_size and grid_points are mutually exclusive");
  check_times("grid_points", grid_points);
  check_times("step_t", step_t);
  check_times("jump_t", jump_t);
  for (double t : step_t)
    if (std::find(jump_t.begin(), jump_t.end(), t) != jump_t.end())
      throw InvalidArgument(fmt::format("time {} is in both step_t and jump_t", t));
  if (max_order < 0 || max_order > 12)
    throw InvalidArgument(fmt::format("max_order = {} must lie in [1, 12] (0 = default)", max_order));
}

}  // namespace odeflow
