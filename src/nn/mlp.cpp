#include <odeflow/core/error.hpp>
#include <odeflow/nn/linear.hpp>
#include <odeflow/nn/mlp.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace odeflow::nn {

template <Scalar S>
std::unique_ptr<Sequential<S>> make_mlp(const MlpSpec& spec, SplitMix64& rng) {
  if (spec.sizes.size() < 2) throw InvalidArgument(fmt::format("make_mlp: needs at least an input and an output size, got [{}]", fmt::join(spec.sizes, ", ")));
  for (Eigen::Index n : spec.sizes) {
    if (n < 1) throw InvalidArgument(fmt::format("make_mlp: sizes must be positive, got [{}]", fmt::join(spec.sizes, ", ")));
  }
  auto net = std::make_unique<Sequential<S>>();
  for (std::size_t i = 0; i + 1 < spec.sizes.size(); ++i) {
    const Eigen::Index in = spec.sizes[i];
    const Eigen::Index out = spec.sizes[i + 1];
    switch (spec.time) {
      case TimeInput::kNone: net->push_back(std::make_unique<Linear<S>>(in, out, rng)); break;
      case TimeInput::kConcat: net->push_back(std::make_unique<ConcatLinear<S>>(in, out, rng)); break;
      case TimeInput::kConcatSquash: net->push_back(std::make_unique<ConcatSquashLinear<S>>(in, out, rng)); break;
    }
    const bool last = i + 2 == spec.sizes.size();
    if ((!last || spec.final_activation) && spec.activation != ActivationKind::kIdentity) {
      net->push_back(std::make_unique<Activation<S>>(spec.activation));
    }
  }
  return net;
}

template std::unique_ptr<Sequential<float>> make_mlp<float>(const MlpSpec&, SplitMix64&);
template std::unique_ptr<Sequential<double>> make_mlp<double>(const MlpSpec&, SplitMix64&);

}  // namespace odeflow::nn
