#include <odeflow/core/error.hpp>
#include <odeflow/nn/module.hpp>

#include <fmt/format.h>

namespace odeflow::nn {

template <Scalar S>
Tensor<S> Module<S>::forward(const Tensor<S>&) {
  throw InvalidArgument(fmt::format("{} needs the time: call forward(t, x)", type_name()));
}

template <Scalar S>
void Module<S>::check_name(const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos) {
    throw InvalidArgument(fmt::format("{}: invalid member name '{}' (empty or containing '.')", type_name(), name));
  }
  auto taken = [&](const auto& list) {
    for (const auto& [n, p] : list) {
      if (n == name) return true;
    }
    return false;
  };
  if (taken(params_) || taken(buffers_) || taken(children_)) {
    throw InvalidArgument(fmt::format("{}: member name '{}' is already registered", type_name(), name));
  }
}

template <Scalar S>
ad::Parameter<S>& Module<S>::register_parameter(std::string name, std::vector<std::int64_t> shape) {
  check_name(name);
  params_.emplace_back(std::move(name), std::make_unique<ad::Parameter<S>>(ad::Parameter<S>::zeros(std::move(shape))));
  return *params_.back().second;
}

template <Scalar S>
ad::Parameter<S>& Module<S>::register_buffer(std::string name, std::vector<std::int64_t> shape) {
  check_name(name);
  auto buffer = std::make_unique<ad::Parameter<S>>(ad::Parameter<S>::zeros(std::move(shape)));
  buffer->requires_grad = false;
  buffer->grad.resize(0, 0);
  buffers_.emplace_back(std::move(name), std::move(buffer));
  return *buffers_.back().second;
}

template <Scalar S>
void Module<S>::adopt(std::string name, std::unique_ptr<Module> child) {
  check_name(name);
  children_.emplace_back(std::move(name), child.get());
  owned_.push_back(std::move(child));
}

template <Scalar S>
void Module<S>::collect(const std::string& prefix, bool buffers, std::vector<NamedParameter<S>>& out) {
  for (auto& [name, p] : buffers ? buffers_ : params_) out.push_back({prefix + name, p.get()});
  for (auto& [name, child] : children_) child->collect(prefix + name + ".", buffers, out);
}

template <Scalar S>
std::vector<NamedParameter<S>> Module<S>::named_parameters() {
  std::vector<NamedParameter<S>> out;
  collect("", false, out);
  return out;
}

template <Scalar S>
std::vector<NamedParameter<S>> Module<S>::named_buffers() {
  std::vector<NamedParameter<S>> out;
  collect("", true, out);
  return out;
}

template <Scalar S>
std::vector<ad::Parameter<S>*> Module<S>::parameters() {
  std::vector<ad::Parameter<S>*> out;
  for (const NamedParameter<S>& np : named_parameters()) out.push_back(np.param);
  return out;
}

template <Scalar S>
std::int64_t Module<S>::parameter_count() {
  std::int64_t n = 0;
  for (const NamedParameter<S>& np : named_parameters()) n += np.param->value.size();
  return n;
}

template <Scalar S>
void Module<S>::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

template <Scalar S>
void Module<S>::zero_grad() {
  for (const NamedParameter<S>& np : named_parameters()) np.param->zero_grad();
}

template <Scalar S>
Vector<S> Module<S>::flat_parameters() {
  Vector<S> flat(parameter_count());
  Eigen::Index at = 0;
  for (const NamedParameter<S>& np : named_parameters()) {
    flat.segment(at, np.param->value.size()) = np.param->value.reshaped();
    at += np.param->value.size();
  }
  return flat;
}

template <Scalar S>
Vector<S> Module<S>::flat_gradients() {
  Vector<S> flat = Vector<S>::Zero(parameter_count());
  Eigen::Index at = 0;
  for (const NamedParameter<S>& np : named_parameters()) {
    const Eigen::Index n = np.param->value.size();
    if (np.param->grad.size() == n) flat.segment(at, n) = np.param->grad.reshaped();
    at += n;
  }
  return flat;
}

template <Scalar S>
void Module<S>::set_flat_parameters(const Eigen::Ref<const Vector<S>>& flat) {
  if (flat.size() != parameter_count()) {
    throw ShapeError(fmt::format("{}: {} values for {} parameters", type_name(), flat.size(), parameter_count()));
  }
  Eigen::Index at = 0;
  for (const NamedParameter<S>& np : named_parameters()) {
    np.param->value.reshaped() = flat.segment(at, np.param->value.size());
    at += np.param->value.size();
  }
}

template class Module<float>;
template class Module<double>;

}  // namespace odeflow::nn
