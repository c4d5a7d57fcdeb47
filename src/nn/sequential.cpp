#include <odeflow/nn/activation.hpp>
#include <odeflow/nn/linear.hpp>
#include <odeflow/nn/sequential.hpp>

namespace odeflow::nn {

template <Scalar S>
void Sequential<S>::plan() {
  fused_.assign(layers_.size(), -1);
  for (std::size_t i = 0; i + 1 < layers_.size(); ++i) {
    if (dynamic_cast<Linear<S>*>(layers_[i]) == nullptr) continue;
    const auto* act = dynamic_cast<Activation<S>*>(layers_[i + 1]);
    if (act == nullptr) continue;
    if (act->kind() == ActivationKind::kTanh) fused_[i] = static_cast<signed char>(ad::FusedActivation::kTanh);
    if (act->kind() == ActivationKind::kSigmoid) fused_[i] = static_cast<signed char>(ad::FusedActivation::kSigmoid);
  }
}

template <Scalar S>
Tensor<S> Sequential<S>::run(const Tensor<S>* t, const Tensor<S>& x) {
  if (fused_.size() != layers_.size()) plan();
  Tensor<S> h = x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (fused_[i] >= 0) {
      h = static_cast<Linear<S>*>(layers_[i])->forward(h, static_cast<ad::FusedActivation>(fused_[i]));
      ++i;  // the activation is done
    } else {
      h = t != nullptr ? layers_[i]->forward(*t, h) : layers_[i]->forward(h);
    }
  }
  return h;
}

template <Scalar S>
Tensor<S> Sequential<S>::forward(const Tensor<S>& x) {
  return run(nullptr, x);
}

template <Scalar S>
Tensor<S> Sequential<S>::forward(const Tensor<S>& t, const Tensor<S>& x) {
  return run(&t, x);
}

template class Sequential<float>;
template class Sequential<double>;

}  // namespace odeflow::nn
