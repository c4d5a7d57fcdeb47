#include <odeflow/optim/sgd.hpp>

#include "optim/option_checks.hpp"

#include <cmath>

namespace odeflow::optim {

void SgdOptions::validate() const {
  if (std::isnan(lr)) throw InvalidArgument("SGD: lr is not set (SGD has no default learning rate)");
  detail::check_non_negative("SGD", "lr", lr);
  detail::check_non_negative("SGD", "momentum", momentum);
  if (!std::isfinite(dampening)) throw InvalidArgument(fmt::format("SGD: dampening = {} must be finite", dampening));
  detail::check_non_negative("SGD", "weight_decay", weight_decay);
  if (nesterov && (momentum <= 0.0 || dampening != 0.0))
    throw InvalidArgument(fmt::format(
        "SGD: nesterov needs momentum > 0 and dampening = 0 (momentum = {}, dampening = {})", momentum, dampening));
}

template <Scalar S>
Sgd<S>::Sgd(std::vector<ParamView<S>> params, const SgdOptions& options)
    : Optimizer<S>(std::move(params), detail::validated(options).lr), options_(options) {
  if (options_.momentum != 0.0) momentum_buffer_ = this->add_state("momentum_buffer");
}

template <Scalar S>
void Sgd<S>::update() {
  // PyTorch applies the Python-float hyperparameters in the parameter's dtype.
  const S weight_decay = static_cast<S>(options_.weight_decay);
  const S momentum = static_cast<S>(options_.momentum);
  const S one_minus_dampening = static_cast<S>(1.0 - options_.dampening);
  const S minus_lr = static_cast<S>(-this->lr());
  const bool first_step = this->step_count() == 1;
  for (std::size_t i = 0; i < this->params_.size(); ++i) {
    const ParamView<S>& view = this->params_[i];
    S* p = view.value.data();
    const S* grad = view.grad.data();
    S* buf = options_.momentum != 0.0 ? this->buffer(momentum_buffer_, i).data() : nullptr;
    for (std::size_t j = 0; j < view.size(); ++j) {
      S d = options_.maximize ? -grad[j] : grad[j];
      if (options_.weight_decay != 0.0) d = d + weight_decay * p[j];
      if (buf != nullptr) {
        buf[j] = first_step ? d : buf[j] * momentum + one_minus_dampening * d;
        d = options_.nesterov ? d + momentum * buf[j] : buf[j];
      }
      p[j] = p[j] + minus_lr * d;
    }
  }
}

template class Sgd<float>;
template class Sgd<double>;

}  // namespace odeflow::optim
