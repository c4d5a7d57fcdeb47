#include <odeflow/core/error.hpp>
#include <odeflow/nn/conv.hpp>
#include <odeflow/nn/init.hpp>
#include <odeflow/nn/linear.hpp>

#include <fmt/format.h>

namespace odeflow::nn {

template <Scalar S>
void check_image(const std::string& layer, const Tensor<S>& x, int channels) {
  if (!x.defined()) throw InvalidArgument(fmt::format("{}: input is an undefined tensor", layer));
  if (x.shape().channels != channels || x.rows() != x.shape().size()) {
    throw ShapeError(fmt::format("{}: input is {}, expected images of {} channels ({}xHxW per column)", layer,
                                 x.shape_string(), channels, channels));
  }
}

template <Scalar S>
Conv2d<S>::Conv2d(int in, int out, int kernel, SplitMix64& rng, const Conv2dOptions& options)
    : in_(in), out_(out), geometry_{kernel, kernel, options.stride, options.padding} {
  if (in < 1 || out < 1 || kernel < 1 || options.stride < 1 || options.padding < 0) {
    throw InvalidArgument(fmt::format("{}: channels, kernel and stride must be positive and padding non-negative",
                                      describe()));
  }
  weight_ = &this->register_parameter("weight", {out, in, kernel, kernel});
  if (options.bias) bias_ = &this->register_parameter("bias", {out});
  init::pytorch_default(*weight_, bias_, static_cast<double>(in) * kernel * kernel, rng);
}

template <Scalar S>
std::string Conv2d<S>::describe() const {
  return fmt::format("Conv2d({}, {}, kernel_size={}, stride={}, padding={})", in_, out_, geometry_.kernel_h,
                     geometry_.stride, geometry_.padding);
}

template <Scalar S>
Tensor<S> Conv2d<S>::forward(const Tensor<S>& x) {
  check_image(describe(), x, in_);
  const ad::Shape& s = x.shape();
  const int k = geometry_.kernel_h;
  if (s.height + 2 * geometry_.padding < k || s.width + 2 * geometry_.padding < k) {
    throw ShapeError(fmt::format("{}: input is {}, smaller than the {}x{} kernel even with padding", describe(),
                                 x.shape_string(), k, k));
  }
  ad::Tape<S>& tape = x.tape();
  return ad::conv2d(x, tape.param(*weight_), bias_ != nullptr ? tape.param(*bias_) : Tensor<S>(), geometry_);
}

template <Scalar S>
ConcatConv2d<S>::ConcatConv2d(int in, int out, int kernel, SplitMix64& rng, const Conv2dOptions& options) {
  layer_ = &this->register_module("_layer", std::make_unique<Conv2d<S>>(in + 1, out, kernel, rng, options));
}

template <Scalar S>
Tensor<S> ConcatConv2d<S>::forward(const Tensor<S>& t, const Tensor<S>& x) {
  check_time("ConcatConv2d", t, x);
  const int in = layer_->in_channels() - 1;
  check_image(fmt::format("ConcatConv2d({}, {})", in, layer_->out_channels()), x, in);
  // The time plane: t broadcast over H*W rows and the batch, given image geometry.
  const ad::Shape plane{1, x.shape().height, x.shape().width};
  const Tensor<S> tt = ad::reshape(ad::broadcast_to(t, plane.size(), x.cols()), plane.size(), x.cols(), plane);
  return layer_->forward(ad::concat(tt, x));
}

template void check_image<float>(const std::string&, const Tensor<float>&, int);
template void check_image<double>(const std::string&, const Tensor<double>&, int);
template class Conv2d<float>;
template class Conv2d<double>;
template class ConcatConv2d<float>;
template class ConcatConv2d<double>;

}  // namespace odeflow::nn
