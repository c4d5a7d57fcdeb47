// Adam (Kingma & Ba, ICLR 2015) with the AMSGrad variant (Reddi, Kale &
// Kumar, ICLR 2018), and AdamW (Loshchilov & Hutter, ICLR 2019): PyTorch
// 1.13's torch.optim.Adam and torch.optim.AdamW, operation for operation.
// AdamW is Adam with decoupled weight decay; the two share this code.
//
//   t ← t + 1;  g ← ∇ (negated if maximize)
//   Adam:  g ← g + weight_decay·p           AdamW:  p ← p·(1 − lr·weight_decay)
//   m ← β1·m + (1 − β1)·g;   v ← β2·v + (1 − β2)·g·g
//   v̂ ← max(v̂, v) (amsgrad);  denom ← √(v or v̂)/√(1 − β2^t) + eps
//   p ← p − (lr/(1 − β1^t))·m/denom
//
// State: exp_avg (m), exp_avg_sq (v), max_exp_avg_sq (v̂, amsgrad only).
#pragma once

#include <odeflow/optim/optimizer.hpp>

namespace odeflow::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;    // PyTorch's betas[0]
  double beta2 = 0.999;  // PyTorch's betas[1]
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
  bool maximize = false;
  // Decay p itself by lr·weight_decay (AdamW) instead of adding
  // weight_decay·p to the gradient (Adam's L2 penalty).
  bool decoupled_weight_decay = false;

  // Throws InvalidArgument naming the first bad field.
  void validate() const;
};

// torch.optim.AdamW's defaults (weight decay 1e-2, decoupled).
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  bool maximize = false;

  AdamOptions as_adam() const;
  void validate() const { as_adam().validate(); }
};

template <Scalar S>
class Adam : public Optimizer<S> {
 public:
  Adam(std::vector<ParamView<S>> params, const AdamOptions& options);
  const AdamOptions& options() const { return options_; }

 private:
  void update() override;

  AdamOptions options_;
  std::size_t exp_avg_;
  std::size_t exp_avg_sq_;
  std::size_t max_exp_avg_sq_ = 0;  // amsgrad only
};

template <Scalar S>
class AdamW final : public Adam<S> {
 public:
  AdamW(std::vector<ParamView<S>> params, const AdamWOptions& options)
      : Adam<S>(std::move(params), options.as_adam()) {}
};

extern template class Adam<float>;
extern template class Adam<double>;

}  // namespace odeflow::optim
