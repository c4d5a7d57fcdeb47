#include <odeflow/ad/ops.hpp>
#include <odeflow/core/error.hpp>
#include <odeflow/nn/gru.hpp>
#include <odeflow/nn/init.hpp>

#include <fmt/format.h>

namespace odeflow::nn {

template <Scalar S>
GRUCell<S>::GRUCell(Eigen::Index input, Eigen::Index hidden, SplitMix64& rng, bool bias)
    : input_(input), hidden_(hidden) {
  if (input < 1 || hidden < 1) {
    throw InvalidArgument(fmt::format("GRUCell({}, {}): sizes must be at least 1", input, hidden));
  }
  weight_ih_ = &this->register_parameter("weight_ih", {3 * hidden, input});
  weight_hh_ = &this->register_parameter("weight_hh", {3 * hidden, hidden});
  if (bias) {
    bias_ih_ = &this->register_parameter("bias_ih", {3 * hidden});
    bias_hh_ = &this->register_parameter("bias_hh", {3 * hidden});
  }
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  for (ad::Parameter<S>* p : this->parameters()) init::uniform(*p, -bound, bound, rng);
}

template <Scalar S>
Tensor<S> GRUCell<S>::forward(const Tensor<S>& x) {
  if (!x.defined()) throw InvalidArgument(fmt::format("GRUCell({}, {}): input is an undefined tensor", input_, hidden_));
  return step(x, x.tape().zeros(hidden_, x.cols()));
}

template <Scalar S>
Tensor<S> GRUCell<S>::step(const Tensor<S>& x, const Tensor<S>& h) {
  if (!x.defined() || !h.defined()) {
    throw InvalidArgument(fmt::format("GRUCell({}, {}): input or hidden state is an undefined tensor", input_, hidden_));
  }
  if (x.rows() != input_) {
    throw ShapeError(fmt::format("GRUCell({}, {}): input is {}, expected {} features", input_, hidden_,
                                 x.shape_string(), input_));
  }
  if (h.rows() != hidden_ || h.cols() != x.cols()) {
    throw ShapeError(fmt::format("GRUCell({}, {}): hidden state is {}, expected {}x{} for input {}", input_, hidden_,
                                 h.shape_string(), hidden_, x.cols(), x.shape_string()));
  }
  ad::Tape<S>& tape = x.tape();
  auto maybe = [&](ad::Parameter<S>* p) { return p != nullptr ? tape.param(*p) : Tensor<S>(); };
  const Tensor<S> gi = ad::linear(x, tape.param(*weight_ih_), maybe(bias_ih_));
  const Tensor<S> gh = ad::linear(h, tape.param(*weight_hh_), maybe(bias_hh_));
  // Gate k's pre-activations are row block k of gi and gh (slices, no vector).
  auto block = [&](const Tensor<S>& g, int k) { return ad::slice_rows(g, k * hidden_, hidden_); };
  const Tensor<S> r = ad::sigmoid(ad::add(block(gi, 0), block(gh, 0)));
  const Tensor<S> z = ad::sigmoid(ad::add(block(gi, 1), block(gh, 1)));
  const Tensor<S> n = ad::tanh(ad::add(block(gi, 2), ad::mul(r, block(gh, 2))));
  // (1 - z) n + z h, written as n + z (h - n).
  return ad::add(n, ad::mul(z, ad::sub(h, n)));
}

template class GRUCell<float>;
template class GRUCell<double>;

}  // namespace odeflow::nn
