// Internal ops of the convolution (not installed). conv2d's VJPs are the
// transposed convolution and the weight correlation below; each of the three
// has VJPs made of the other two, so gradients of any order stay on the tape.
//
// These take the input image's geometry explicitly instead of reading it from
// a tensor's shape(): a cotangent may arrive as plain features.
#pragma once

#include "op_support.hpp"

namespace odeflow::ad::detail {

// Every size of one convolution, resolved from the geometry, the input image
// and the number of output channels.
struct ConvDims {
  int channels_in = 0;
  int height = 0;
  int width = 0;
  int channels_out = 0;
  int kernel_h = 0;
  int kernel_w = 0;
  int stride = 1;
  int padding = 0;
  int height_out = 0;
  int width_out = 0;

  ConvDims(const Conv2dGeometry& g, Shape in, int channels_out);
  Eigen::Index positions() const { return Eigen::Index{height_out} * width_out; }
  // Rows of the weight: one per (input channel, kernel row, kernel column).
  Eigen::Index patch() const { return Eigen::Index{channels_in} * kernel_h * kernel_w; }
  Shape in_shape() const { return Shape{channels_in, height, width}; }
  Shape out_shape() const { return Shape{channels_out, height_out, width_out}; }
};

// conv2d of x read as images of shape `in` (validated by the caller).
template <Scalar S>
Tensor<S> conv2d_image(const Tensor<S>& x, const Tensor<S>& weight, const Tensor<S>& bias, const Conv2dGeometry& g,
                       Shape in);

// The transposed convolution: col2im(G_n W^T) per sample, the input cotangent
// of conv2d for an output cotangent `out_bar`. Result has image shape `in`.
template <Scalar S>
Tensor<S> conv2d_input_grad(const Tensor<S>& out_bar, const Tensor<S>& weight, const Conv2dGeometry& g, Shape in);

// sum_n im2col(x_n)^T G_n: the weight cotangent of conv2d, (C_in*kh*kw) x C_out.
template <Scalar S>
Tensor<S> conv2d_weight_grad(const Tensor<S>& x, const Tensor<S>& out_bar, const Conv2dGeometry& g, Shape in);

// Arena memory taken inside an op for scratch and given back when the op
// returns (everything allocated since construction is released).
template <Scalar S>
class ScratchScope {
 public:
  explicit ScratchScope(Tape<S>& tape) : tape_(tape), mark_(tape.mark()) {}
  ~ScratchScope() { tape_.rewind(mark_); }
  ScratchScope(const ScratchScope&) = delete;
  ScratchScope& operator=(const ScratchScope&) = delete;

 private:
  Tape<S>& tape_;
  typename Tape<S>::Mark mark_;
};

}  // namespace odeflow::ad::detail
