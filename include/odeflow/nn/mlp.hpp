// The MLP builder: the dynamics networks most neural ODEs use.
//
// make_mlp({2, 50, 2}, ...) builds Sequential(L0, act, L2) with PyTorch's
// names ("0.weight", "2.bias", ...): one layer per consecutive pair of sizes,
// the activation between layers (and after the last one only if
// `final_activation`). `time` picks the layer type: plain Linear (the network
// ignores t), ConcatLinear (t as an extra input of every layer, torchdiffeq's
// and FFJORD's concat) or ConcatSquashLinear (FFJORD's gating).
#pragma once

#include <odeflow/core/random.hpp>
#include <odeflow/nn/activation.hpp>
#include <odeflow/nn/sequential.hpp>

#include <memory>
#include <vector>

namespace odeflow::nn {

enum class TimeInput { kNone, kConcat, kConcatSquash };

struct MlpSpec {
  std::vector<Eigen::Index> sizes;  // input, hidden..., output (at least two)
  ActivationKind activation = ActivationKind::kTanh;
  TimeInput time = TimeInput::kNone;
  bool final_activation = false;
};

// Throws InvalidArgument for fewer than two sizes or a size below 1.
template <Scalar S>
std::unique_ptr<Sequential<S>> make_mlp(const MlpSpec& spec, SplitMix64& rng);

extern template std::unique_ptr<Sequential<float>> make_mlp<float>(const MlpSpec&, SplitMix64&);
extern template std::unique_ptr<Sequential<double>> make_mlp<double>(const MlpSpec&, SplitMix64&);

}  // namespace odeflow::nn
