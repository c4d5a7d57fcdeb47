#include <odeflow/nn/sequential.hpp>

namespace odeflow::nn {

template <Scalar S>
Tensor<S> Sequential<S>::forward(const Tensor<S>& x) {
  Tensor<S> h = x;
  for (Module<S>* layer : layers_) h = layer->forward(h);
  return h;
}

template <Scalar S>
Tensor<S> Sequential<S>::forward(const Tensor<S>& t, const Tensor<S>& x) {
  Tensor<S> h = x;
  for (Module<S>* layer : layers_) h = layer->forward(t, h);
  return h;
}

template class Sequential<float>;
template class Sequential<double>;

}  // namespace odeflow::nn
