#include <odeflow/optim/adam.hpp>

#include "optim/option_checks.hpp"

#include <algorithm>
#include <cmath>

namespace odeflow::optim {

void AdamOptions::validate() const {
  const char* owner = decoupled_weight_decay ? "AdamW" : "Adam";
  detail::check_non_negative(owner, "lr", lr);
  detail::check_unit_interval(owner, "beta1", beta1, false);
  detail::check_unit_interval(owner, "beta2", beta2, false);
  detail::check_positive(owner, "eps", eps);
  detail::check_non_negative(owner, "weight_decay", weight_decay);
}

AdamOptions AdamWOptions::as_adam() const {
  return AdamOptions{.lr = lr,
                     .beta1 = beta1,
                     .beta2 = beta2,
                     .eps = eps,
                     .weight_decay = weight_decay,
                     .amsgrad = amsgrad,
                     .maximize = maximize,
                     .decoupled_weight_decay = true};
}

template <Scalar S>
Adam<S>::Adam(std::vector<ParamView<S>> params, const AdamOptions& options)
    : Optimizer<S>(std::move(params), detail::validated(options).lr), options_(options) {
  exp_avg_ = this->add_state("exp_avg");
  exp_avg_sq_ = this->add_state("exp_avg_sq");
  if (options_.amsgrad) max_exp_avg_sq_ = this->add_state("max_exp_avg_sq");
}

template <Scalar S>
void Adam<S>::update() {
  const AdamOptions& o = options_;
  const double lr = this->lr();
  // Bias corrections in double, as PyTorch computes them in Python floats;
  // every scalar then enters the arithmetic in the parameter's dtype.
  const double step = static_cast<double>(this->step_count());
  const double bias_correction1 = 1.0 - std::pow(o.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(o.beta2, step);
  const S minus_step_size = static_cast<S>(-(lr / bias_correction1));
  const S bias_correction2_sqrt = static_cast<S>(std::sqrt(bias_correction2));
  const S decay = static_cast<S>(1.0 - lr * o.weight_decay);
  const S weight_decay = static_cast<S>(o.weight_decay);
  const S beta1 = static_cast<S>(o.beta1), one_minus_beta1 = static_cast<S>(1.0 - o.beta1);
  const S beta2 = static_cast<S>(o.beta2), one_minus_beta2 = static_cast<S>(1.0 - o.beta2);
  const S eps = static_cast<S>(o.eps);
  for (std::size_t i = 0; i < this->params_.size(); ++i) {
    const ParamView<S>& view = this->params_[i];
    S* p = view.value.data();
    const S* grad = view.grad.data();
    S* m = this->buffer(exp_avg_, i).data();
    S* v = this->buffer(exp_avg_sq_, i).data();
    S* v_max = o.amsgrad ? this->buffer(max_exp_avg_sq_, i).data() : nullptr;
    for (std::size_t j = 0; j < view.size(); ++j) {
      S g = o.maximize ? -grad[j] : grad[j];
      if (o.decoupled_weight_decay)
        p[j] = p[j] * decay;
      else if (o.weight_decay != 0.0)
        g = g + weight_decay * p[j];
      m[j] = m[j] * beta1 + one_minus_beta1 * g;
      v[j] = v[j] * beta2 + one_minus_beta2 * g * g;
      S second = v[j];
      if (v_max != nullptr) second = v_max[j] = std::max(v_max[j], v[j]);
      const S denom = std::sqrt(second) / bias_correction2_sqrt + eps;
      p[j] = p[j] + minus_step_size * m[j] / denom;
    }
  }
}

template class Adam<float>;
template class Adam<double>;

}  // namespace odeflow::optim
