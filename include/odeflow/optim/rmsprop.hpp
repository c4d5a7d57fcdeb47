// RMSprop (Tieleman & Hinton, 2012; centered form of Graves, 2013):
// torch.optim.RMSprop of PyTorch 1.13, operation for operation.
//
//   g ← ∇ (negated if maximize) + weight_decay·p
//   v ← α·v + (1 − α)·g·g
//   centered:  ḡ ← α·ḡ + (1 − α)·g;  a ← √(v − ḡ·ḡ) + eps;  else a ← √v + eps
//   momentum > 0:  b ← momentum·b + g/a;  p ← p − lr·b;   else p ← p − lr·g/a
//
// State: square_avg (v), momentum_buffer (b, momentum > 0), grad_avg (ḡ,
// centered).
#pragma once

#include <odeflow/optim/optimizer.hpp>

namespace odeflow::optim {

struct RmsPropOptions {
  double lr = 1e-2;
  double alpha = 0.99;  // smoothing constant, in [0, 1]
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
  bool maximize = false;

  // Throws InvalidArgument naming the first bad field.
  void validate() const;
};

template <Scalar S>
class RmsProp final : public Optimizer<S> {
 public:
  RmsProp(std::vector<ParamView<S>> params, const RmsPropOptions& options);
  const RmsPropOptions& options() const { return options_; }

 private:
  void update() override;

  RmsPropOptions options_;
  std::size_t square_avg_;
  std::size_t momentum_buffer_ = 0;  // momentum > 0 only
  std::size_t grad_avg_ = 0;         // centered only
};

extern template class RmsProp<float>;
extern template class RmsProp<double>;

}  // namespace odeflow::optim
