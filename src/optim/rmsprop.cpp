#include <odeflow/optim/rmsprop.hpp>

#include "optim/option_checks.hpp"

#include <cmath>

namespace odeflow::optim {

void RmsPropOptions::validate() const {
  detail::check_non_negative("RMSprop", "lr", lr);
  detail::check_unit_interval("RMSprop", "alpha", alpha, true);
  detail::check_positive("RMSprop", "eps", eps);
  detail::check_non_negative("RMSprop", "weight_decay", weight_decay);
  detail::check_non_negative("RMSprop", "momentum", momentum);
}

template <Scalar S>
RmsProp<S>::RmsProp(std::vector<ParamView<S>> params, const RmsPropOptions& options)
    : Optimizer<S>(std::move(params), detail::validated(options).lr), options_(options) {
  square_avg_ = this->add_state("square_avg");
  if (options_.momentum > 0.0) momentum_buffer_ = this->add_state("momentum_buffer");
  if (options_.centered) grad_avg_ = this->add_state("grad_avg");
}

template <Scalar S>
void RmsProp<S>::update() {
  const RmsPropOptions& o = options_;
  const S weight_decay = static_cast<S>(o.weight_decay);
  const S alpha = static_cast<S>(o.alpha), one_minus_alpha = static_cast<S>(1.0 - o.alpha);
  const S eps = static_cast<S>(o.eps);
  const S momentum = static_cast<S>(o.momentum);
  const S minus_lr = static_cast<S>(-this->lr());
  for (std::size_t i = 0; i < this->params_.size(); ++i) {
    const ParamView<S>& view = this->params_[i];
    S* p = view.value.data();
    const S* grad = view.grad.data();
    S* v = this->buffer(square_avg_, i).data();
    S* buf = o.momentum > 0.0 ? this->buffer(momentum_buffer_, i).data() : nullptr;
    S* g_avg = o.centered ? this->buffer(grad_avg_, i).data() : nullptr;
    for (std::size_t j = 0; j < view.size(); ++j) {
      S g = o.maximize ? -grad[j] : grad[j];
      if (o.weight_decay != 0.0) g = g + weight_decay * p[j];
      v[j] = v[j] * alpha + one_minus_alpha * g * g;
      S avg;
      if (g_avg != nullptr) {
        g_avg[j] = g_avg[j] * alpha + one_minus_alpha * g;
        avg = std::sqrt(v[j] - g_avg[j] * g_avg[j]) + eps;
      } else {
        avg = std::sqrt(v[j]) + eps;
      }
      if (buf != nullptr) {
        buf[j] = buf[j] * momentum + g / avg;
        p[j] = p[j] + minus_lr * buf[j];
      } else {
        p[j] = p[j] + minus_lr * g / avg;
      }
    }
  }
}

template class RmsProp<float>;
template class RmsProp<double>;

}  // namespace odeflow::optim
