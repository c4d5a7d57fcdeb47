// Convolution layers on images, PyTorch-compatible (names, shapes, init).
//
//   Conv2d(in, out, kernel):  2-D cross-correlation as torch.nn.Conv2d with a
//                             square kernel, zero padding, dilation 1, groups 1.
//                             "weight" [out, in, k, k] (stored (in*k*k) x out,
//                             the bytes of PyTorch's tensor), "bias" [out].
//   ConcatConv2d(in, out, k): torchdiffeq's examples/odenet_mnist.py layer:
//                             time as the FIRST input channel, a constant
//                             plane t, then x; "_layer" = Conv2d(in + 1, out, k).
//
// Inputs are images: a Tensor whose shape() is Shape{in, H, W}, one column
// (in*H*W values, channel-major, row-major within a plane) per sample; the
// output has Shape{out, H_out, W_out} with H_out = (H + 2 pad - k) / stride + 1.
// Initialization: PyTorch's default (kaiming_uniform(a = sqrt(5)), i.e.
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in*k*k), weight then bias,
// drawn from `rng`. Plain features (no image shape) of exactly `in` rows are
// read as 1x1 images; any other channel count throws ShapeError naming the
// layer and both shapes, as does an image smaller than the padded kernel.
#pragma once

#include <odeflow/ad/ops.hpp>
#include <odeflow/core/random.hpp>
#include <odeflow/nn/module.hpp>

namespace odeflow::nn {

struct Conv2dOptions {
  int stride = 1;
  int padding = 0;
  bool bias = true;
};

template <Scalar S>
class Conv2d : public Module<S> {
 public:
  // Throws InvalidArgument for a size below 1, a stride below 1 or a negative padding.
  Conv2d(int in, int out, int kernel, SplitMix64& rng, const Conv2dOptions& options = {});
  std::string type_name() const override { return "Conv2d"; }
  using Module<S>::forward;
  Tensor<S> forward(const Tensor<S>& x) override;

  int in_channels() const { return in_; }
  int out_channels() const { return out_; }
  const ad::Conv2dGeometry& geometry() const { return geometry_; }
  ad::Parameter<S>& weight() { return *weight_; }
  ad::Parameter<S>* bias() { return bias_; }
  // "Conv2d(3, 4, kernel_size=3, stride=1, padding=1)", as PyTorch prints it.
  std::string describe() const;

 private:
  int in_;
  int out_;
  ad::Conv2dGeometry geometry_;
  ad::Parameter<S>* weight_;
  ad::Parameter<S>* bias_ = nullptr;
};

template <Scalar S>
class ConcatConv2d : public Module<S> {
 public:
  ConcatConv2d(int in, int out, int kernel, SplitMix64& rng, const Conv2dOptions& options = {});
  std::string type_name() const override { return "ConcatConv2d"; }
  using Module<S>::forward;
  // t is a 1x1 tensor on x's tape; x has Shape{in, H, W}.
  Tensor<S> forward(const Tensor<S>& t, const Tensor<S>& x) override;
  Conv2d<S>& layer() { return *layer_; }

 private:
  Conv2d<S>* layer_;
};

// Throws ShapeError naming `layer` unless x holds images of `channels`
// channels (shape().channels == channels and rows == shape().size()).
template <Scalar S>
void check_image(const std::string& layer, const Tensor<S>& x, int channels);

extern template class Conv2d<float>;
extern template class Conv2d<double>;
extern template class ConcatConv2d<float>;
extern template class ConcatConv2d<double>;

}  // namespace odeflow::nn
