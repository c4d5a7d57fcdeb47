#include <odeflow/ad/ops.hpp>
#include <odeflow/core/error.hpp>
#include <odeflow/nn/activation.hpp>

#include <fmt/format.h>

#include <array>
#include <utility>

namespace odeflow::nn {
namespace {

struct Names {
  ActivationKind kind;
  std::string_view name;
  const char* type;
};

constexpr std::array<Names, 8> kNames{{{ActivationKind::kIdentity, "identity", "Identity"},
                                       {ActivationKind::kTanh, "tanh", "Tanh"},
                                       {ActivationKind::kSigmoid, "sigmoid", "Sigmoid"},
                                       {ActivationKind::kSoftplus, "softplus", "Softplus"},
                                       {ActivationKind::kRelu, "relu", "ReLU"},
                                       {ActivationKind::kElu, "elu", "ELU"},
                                       {ActivationKind::kSilu, "silu", "SiLU"},
                                       {ActivationKind::kGelu, "gelu", "GELU"}}};

const Names& entry(ActivationKind kind) {
  for (const Names& n : kNames) {
    if (n.kind == kind) return n;
  }
  throw InvalidArgument("unknown activation kind");
}

}  // namespace

ActivationKind activation_from_name(std::string_view name) {
  std::string valid;
  for (const Names& n : kNames) {
    if (n.name == name) return n.kind;
    valid += (valid.empty() ? "" : ", ") + std::string(n.name);
  }
  throw InvalidArgument(fmt::format("unknown activation '{}' (valid: {})", name, valid));
}

std::string_view activation_name(ActivationKind kind) { return entry(kind).name; }

template <Scalar S>
Tensor<S> activate(ActivationKind kind, const Tensor<S>& x) {
  switch (kind) {
    case ActivationKind::kIdentity: return x;
    case ActivationKind::kTanh: return ad::tanh(x);
    case ActivationKind::kSigmoid: return ad::sigmoid(x);
    case ActivationKind::kSoftplus: return ad::softplus(x);
    case ActivationKind::kRelu: return ad::relu(x);
    case ActivationKind::kElu: return ad::elu(x);
    case ActivationKind::kSilu: return ad::silu(x);
    case ActivationKind::kGelu: return ad::gelu(x);
  }
  throw InvalidArgument("unknown activation kind");
}

template <Scalar S>
std::string Activation<S>::type_name() const {
  return entry(kind_).type;
}

template Tensor<float> activate<float>(ActivationKind, const Tensor<float>&);
template Tensor<double> activate<double>(ActivationKind, const Tensor<double>&);
template class Activation<float>;
template class Activation<double>;

}  // namespace odeflow::nn
