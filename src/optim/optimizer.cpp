#include <odeflow/core/error.hpp>
#include <odeflow/optim/optimizer.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace odeflow::optim {
namespace {

void check_lr(double lr) {
  if (!(std::isfinite(lr) && lr >= 0.0))
    throw InvalidArgument(fmt::format("lr = {} must be finite and non-negative", lr));
}

// Steps are stored as doubles; every integer up to 2^53 is exact.
std::int64_t checked_step(double step) {
  if (!(step >= 0.0 && step <= 9007199254740992.0 && step == std::floor(step)))
    throw InvalidArgument(fmt::format("state scalar step = {} must be a non-negative integer", step));
  return static_cast<std::int64_t>(step);
}

double required_scalar(const std::map<std::string, double>& scalars, const std::string& key) {
  const auto it = scalars.find(key);
  if (it == scalars.end()) throw InvalidArgument(fmt::format("optimizer state has no scalar '{}'", key));
  return it->second;
}

}  // namespace

template <Scalar S>
Optimizer<S>::Optimizer(std::vector<ParamView<S>> params, double lr) : params_(std::move(params)), lr_(lr) {
  if (params_.empty()) throw InvalidArgument("the optimizer got an empty parameter list");
  validate_params<S>(params_);
  check_lr(lr);
}

template <Scalar S>
void Optimizer<S>::step() {
  ++step_count_;
  update();
}

template <Scalar S>
void Optimizer<S>::zero_grad() {
  for (const ParamView<S>& p : params_) std::fill(p.grad.begin(), p.grad.end(), S(0));
}

template <Scalar S>
void Optimizer<S>::set_lr(double lr) {
  check_lr(lr);
  lr_ = lr;
}

template <Scalar S>
std::size_t Optimizer<S>::add_state(std::string key) {
  NamedState state{std::move(key), {}};
  for (const ParamView<S>& p : params_)
    state.buffers.push_back(Vector<S>::Zero(static_cast<Eigen::Index>(p.size())));
  states_.push_back(std::move(state));
  return states_.size() - 1;
}

template <Scalar S>
OptimizerState<S> Optimizer<S>::export_state() const {
  OptimizerState<S> out;
  for (const NamedState& state : states_) {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const Vector<S>& b = state.buffers[i];
      out.arrays.emplace(params_[i].name + "." + state.key,
                         StateArray<S>{params_[i].resolved_shape(), std::vector<S>(b.data(), b.data() + b.size())});
    }
  }
  out.scalars["step"] = static_cast<double>(step_count_);
  out.scalars["lr"] = lr_;
  return out;
}

template <Scalar S>
void Optimizer<S>::import_state(const OptimizerState<S>& state) {
  // Check everything first so that a failed import changes nothing.
  const std::int64_t step = checked_step(required_scalar(state.scalars, "step"));
  const double lr = required_scalar(state.scalars, "lr");
  check_lr(lr);
  for (const auto& [key, value] : state.scalars)
    if (key != "step" && key != "lr")
      throw InvalidArgument(fmt::format("optimizer state has unknown scalar '{}'", key));

  std::set<std::string> expected;
  for (const NamedState& named : states_) {
    for (const ParamView<S>& p : params_) {
      const std::string name = p.name + "." + named.key;
      expected.insert(name);
      const auto it = state.arrays.find(name);
      if (it == state.arrays.end()) throw InvalidArgument(fmt::format("optimizer state has no array '{}'", name));
      const StateArray<S>& a = it->second;
      if (a.shape != p.resolved_shape() || a.values.size() != p.size())
        throw ShapeError(fmt::format("optimizer state array '{}' has shape {} and {} values; expected shape {}", name,
                                     a.shape, a.values.size(), p.resolved_shape()));
    }
  }
  for (const auto& [name, array] : state.arrays)
    if (!expected.contains(name)) throw InvalidArgument(fmt::format("optimizer state has unknown array '{}'", name));

  for (NamedState& named : states_)
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const std::vector<S>& values = state.arrays.at(params_[i].name + "." + named.key).values;
      std::copy(values.begin(), values.end(), named.buffers[i].data());
    }
  step_count_ = step;
  lr_ = lr;
}

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace odeflow::optim
