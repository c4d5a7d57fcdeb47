// Dropout, as torch.nn.Dropout: in train mode each element is kept with
// probability 1 - p and scaled by 1 / (1 - p), so the expected output equals
// the input; in eval mode the layer is the identity.
//
// The mask is drawn from the layer's own SplitMix64 (seeded at construction):
// one uniform u per element in storage order (features within a sample, then
// the next sample), the element kept when u >= p. A new mask is drawn on
// every train-mode forward, so two layers with the same seed give the same
// sequence of masks. p = 0 returns the input and draws nothing. The mask is a
// constant of the tape: gradients are masked and scaled the same way.
#pragma once

#include <odeflow/core/random.hpp>
#include <odeflow/nn/module.hpp>

#include <cstdint>

namespace odeflow::nn {

template <Scalar S>
class Dropout : public Module<S> {
 public:
  // Throws InvalidArgument unless 0 <= p < 1.
  explicit Dropout(double p = 0.5, std::uint64_t seed = 0);
  std::string type_name() const override { return "Dropout"; }
  using Module<S>::forward;
  Tensor<S> forward(const Tensor<S>& x) override;
  double p() const { return p_; }

 private:
  double p_;
  SplitMix64 rng_;
  Matrix<S> mask_;  // reused between calls
};

extern template class Dropout<float>;
extern template class Dropout<double>;

}  // namespace odeflow::nn
