#include <odeflow/ad/ops.hpp>
#include <odeflow/core/error.hpp>
#include <odeflow/nn/init.hpp>
#include <odeflow/nn/linear.hpp>

#include <fmt/format.h>

namespace odeflow::nn {

template <Scalar S>
void check_time(const char* layer, const Tensor<S>& t, const Tensor<S>& x) {
  if (!t.defined() || t.rows() != 1 || t.cols() != 1) {
    throw ShapeError(fmt::format("{}: time must be a 1x1 tensor, got {}", layer,
                                 t.defined() ? t.shape_string() : std::string("an undefined tensor")));
  }
  if (&t.tape() != &x.tape()) throw InvalidArgument(fmt::format("{}: time and input belong to different tapes", layer));
}

template <Scalar S>
Linear<S>::Linear(Eigen::Index in, Eigen::Index out, SplitMix64& rng, bool bias) : in_(in), out_(out) {
  if (in < 0 || out < 0) throw ShapeError(fmt::format("Linear({}, {}): negative size", in, out));
  weight_ = &this->register_parameter("weight", {out, in});
  if (bias) bias_ = &this->register_parameter("bias", {out});
  init::pytorch_default(*weight_, bias_, static_cast<double>(in), rng);
}

template <Scalar S>
Tensor<S> Linear<S>::forward(const Tensor<S>& x) {
  if (x.rows() != in_) {
    throw ShapeError(fmt::format("Linear({}, {}): input is {}, expected {} features", in_, out_, x.shape_string(), in_));
  }
  ad::Tape<S>& tape = x.tape();
  return ad::linear(x, tape.param(*weight_), bias_ != nullptr ? tape.param(*bias_) : Tensor<S>());
}

template <Scalar S>
Tensor<S> Linear<S>::forward(const Tensor<S>& x, ad::FusedActivation activation) {
  if (x.rows() != in_) {
    throw ShapeError(fmt::format("Linear({}, {}): input is {}, expected {} features", in_, out_, x.shape_string(), in_));
  }
  ad::Tape<S>& tape = x.tape();
  return ad::linear(x, tape.param(*weight_), bias_ != nullptr ? tape.param(*bias_) : Tensor<S>(), activation);
}

template <Scalar S>
ConcatLinear<S>::ConcatLinear(Eigen::Index in, Eigen::Index out, SplitMix64& rng, TimePosition position)
    : position_(position) {
  layer_ = &this->register_module("_layer", std::make_unique<Linear<S>>(in + 1, out, rng));
}

template <Scalar S>
Tensor<S> ConcatLinear<S>::forward(const Tensor<S>& t, const Tensor<S>& x) {
  check_time("ConcatLinear", t, x);
  if (x.rows() + 1 != layer_->in_features()) {
    throw ShapeError(fmt::format("ConcatLinear({}, {}): input is {}, expected {} features", layer_->in_features() - 1,
                                 layer_->out_features(), x.shape_string(), layer_->in_features() - 1));
  }
  const Tensor<S> tt = ad::broadcast_to(t, 1, x.cols());
  return layer_->forward(position_ == TimePosition::kLast ? ad::concat(x, tt) : ad::concat(tt, x));
}

template <Scalar S>
ConcatSquashLinear<S>::ConcatSquashLinear(Eigen::Index in, Eigen::Index out, SplitMix64& rng) {
  layer_ = &this->register_module("_layer", std::make_unique<Linear<S>>(in, out, rng));
  hyper_bias_ = &this->register_module("_hyper_bias", std::make_unique<Linear<S>>(1, out, rng, false));
  hyper_gate_ = &this->register_module("_hyper_gate", std::make_unique<Linear<S>>(1, out, rng));
}

template <Scalar S>
Tensor<S> ConcatSquashLinear<S>::forward(const Tensor<S>& t, const Tensor<S>& x) {
  check_time("ConcatSquashLinear", t, x);
  // Gate and bias are out x 1 and broadcast along the batch.
  return ad::add(ad::mul(layer_->forward(x), ad::sigmoid(hyper_gate_->forward(t))), hyper_bias_->forward(t));
}

template void check_time<float>(const char*, const Tensor<float>&, const Tensor<float>&);
template void check_time<double>(const char*, const Tensor<double>&, const Tensor<double>&);
template class Linear<float>;
template class Linear<double>;
template class ConcatLinear<float>;
template class ConcatLinear<double>;
template class ConcatSquashLinear<float>;
template class ConcatSquashLinear<double>;

}  // namespace odeflow::nn
