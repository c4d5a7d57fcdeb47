// Elementwise activation layers (no parameters), named as PyTorch's modules.
#pragma once

#include <odeflow/nn/module.hpp>

#include <string_view>

namespace odeflow::nn {

enum class ActivationKind { kIdentity, kTanh, kSigmoid, kSoftplus, kRelu, kElu, kSilu, kGelu };

// "tanh", "relu", ... (lower case, as the CLI spells them) -> kind; throws
// InvalidArgument listing the valid names.
ActivationKind activation_from_name(std::string_view name);
std::string_view activation_name(ActivationKind kind);

// Softplus uses beta 1 and threshold 20, ELU alpha 1, GELU the exact erf form:
// PyTorch's defaults.
template <Scalar S>
Tensor<S> activate(ActivationKind kind, const Tensor<S>& x);

template <Scalar S>
class Activation : public Module<S> {
 public:
  explicit Activation(ActivationKind kind) : kind_(kind) {}
  // PyTorch's class name: Tanh, Sigmoid, Softplus, ReLU, ELU, SiLU, GELU, Identity.
  std::string type_name() const override;
  using Module<S>::forward;
  Tensor<S> forward(const Tensor<S>& x) override { return activate(kind_, x); }
  ActivationKind kind() const { return kind_; }

 private:
  ActivationKind kind_;
};

extern template class Activation<float>;
extern template class Activation<double>;

}  // namespace odeflow::nn
