// Parameter initialization from the SplitMix64 generator (core/random.hpp).
//
// Draws fill a parameter in its storage order, which is PyTorch's row-major
// order ([out, in] for a Linear weight), so a Python script drawing the same
// numbers in the same order builds the same network.
//
// PyTorch's defaults for Linear and Conv2d: kaiming_uniform(a = sqrt(5)) for
// the weight, which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same
// range for the bias; weight first, then bias.
#pragma once

#include <odeflow/ad/parameter.hpp>
#include <odeflow/core/random.hpp>

namespace odeflow::nn::init {

template <Scalar S>
void uniform(ad::Parameter<S>& p, double lo, double hi, SplitMix64& rng) {
  for (Eigen::Index i = 0; i < p.value.size(); ++i) p.value.data()[i] = static_cast<S>(rng.uniform(lo, hi));
}

template <Scalar S>
void normal(ad::Parameter<S>& p, double mean, double stddev, SplitMix64& rng) {
  for (Eigen::Index i = 0; i < p.value.size(); ++i) p.value.data()[i] = static_cast<S>(mean + stddev * rng.normal());
}

template <Scalar S>
void constant(ad::Parameter<S>& p, double value) {
  p.value.setConstant(static_cast<S>(value));
}

// PyTorch's default for a layer with `fan_in` inputs per output; bias may be null.
template <Scalar S>
void pytorch_default(ad::Parameter<S>& weight, ad::Parameter<S>* bias, double fan_in, SplitMix64& rng) {
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(fan_in) : 0.0;
  uniform(weight, -bound, bound, rng);
  if (bias != nullptr) uniform(*bias, -bound, bound, rng);
}

}  // namespace odeflow::nn::init
