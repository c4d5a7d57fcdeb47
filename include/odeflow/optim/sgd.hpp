// Stochastic gradient descent with momentum, Nesterov momentum and L2 weight
// decay: torch.optim.SGD of PyTorch 1.13, operation for operation.
//
//   g ← ∇ (negated if maximize) + weight_decay·p
//   b ← g on the first step, else momentum·b + (1 − dampening)·g
//   g ← g + momentum·b (nesterov) or b (momentum ≠ 0)
//   p ← p − lr·g
//
// State: momentum_buffer (only when momentum ≠ 0; ignored before step 1).
// References: Sutskever, Martens, Dahl & Hinton, ICML 2013 (the momentum and
// Nesterov forms PyTorch implements).
#pragma once

#include <odeflow/optim/optimizer.hpp>

#include <limits>

namespace odeflow::optim {

struct SgdOptions {
  // Required, as in PyTorch: NaN means "not set" and fails validate().
  double lr = std::numeric_limits<double>::quiet_NaN();
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;  // needs momentum > 0 and dampening = 0
  bool maximize = false;

  // Throws InvalidArgument naming the first bad field.
  void validate() const;
};

template <Scalar S>
class Sgd final : public Optimizer<S> {
 public:
  Sgd(std::vector<ParamView<S>> params, const SgdOptions& options);
  const SgdOptions& options() const { return options_; }

 private:
  void update() override;

  SgdOptions options_;
  std::size_t momentum_buffer_ = 0;  // state handle; unused when momentum = 0
};

extern template class Sgd<float>;
extern template class Sgd<double>;

}  // namespace odeflow::optim
