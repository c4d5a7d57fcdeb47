// 2-D convolution by im2col + GEMM, its two adjoint ops, and the per-channel
// bias sum.
//
// The batch goes in chunks of b samples. A chunk's patches form a (b*P) x K
// matrix (P = H_out*W_out positions, K = C_in*kh*kw): row q + s*P is
// position q of sample s, column k = (c, i, j) the pixels that kernel tap
// (i, j) of channel c sees, each column a run of contiguous strips. One GEMM
// per chunk gives a (b*P) x C_out "position-major" result, copied into the
// samples' [C_out, H_out, W_out] blocks. Chunks rather than single samples
// make the GEMMs large and keep Eigen's packing buffers (heap, freed and
// trimmed after every product) to a few per call.
#include "conv_support.hpp"

#include <algorithm>

namespace odeflow::ad {
namespace {

using detail::ConvDims;

template <Scalar S>
using MatMap = Eigen::Map<Matrix<S>>;
template <Scalar S>
using ConstMatMap = Eigen::Map<const Matrix<S>>;

// Output indices o in [0, count) whose input index o*stride + offset lies in
// [0, limit): a contiguous range [lo, hi).
struct Range {
  int lo = 0;
  int hi = 0;
};

Range valid_range(int offset, int stride, int limit, int count) {
  Range r;
  r.lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  r.hi = limit - offset <= 0 ? 0 : std::min(count, (limit - offset - 1) / stride + 1);
  r.lo = std::min(r.lo, r.hi);
  return r;
}

// Writes the patches of one image x (C_in x H x W, zero padded) as P rows of
// a column-major K-column matrix with leading dimension ld.
template <Scalar S>
void im2col(const ConvDims& d, const S* x, S* cols, Eigen::Index ld) {
  const Eigen::Index p = d.positions();
  S* col = cols;
  for (int c = 0; c < d.channels_in; ++c) {
    const S* plane = x + Eigen::Index{c} * d.height * d.width;
    for (int i = 0; i < d.kernel_h; ++i) {
      const Range rows = valid_range(i - d.padding, d.stride, d.height, d.height_out);
      for (int j = 0; j < d.kernel_w; ++j, col += ld) {
        const Range cs = valid_range(j - d.padding, d.stride, d.width, d.width_out);
        std::fill(col, col + p, S(0));
        for (int oh = rows.lo; oh < rows.hi; ++oh) {
          const S* src = plane + Eigen::Index{oh * d.stride + i - d.padding} * d.width + (j - d.padding);
          S* dst = col + Eigen::Index{oh} * d.width_out;
          for (int ow = cs.lo; ow < cs.hi; ++ow) dst[ow] = src[ow * d.stride];
        }
      }
    }
  }
}

// x += the adjoint of im2col applied to those P rows: each patch entry is
// added back to the pixel it was read from.
template <Scalar S>
void col2im_add(const ConvDims& d, const S* cols, Eigen::Index ld, S* x) {
  const S* col = cols;
  for (int c = 0; c < d.channels_in; ++c) {
    S* plane = x + Eigen::Index{c} * d.height * d.width;
    for (int i = 0; i < d.kernel_h; ++i) {
      const Range rows = valid_range(i - d.padding, d.stride, d.height, d.height_out);
      for (int j = 0; j < d.kernel_w; ++j, col += ld) {
        const Range cs = valid_range(j - d.padding, d.stride, d.width, d.width_out);
        for (int oh = rows.lo; oh < rows.hi; ++oh) {
          S* dst = plane + Eigen::Index{oh * d.stride + i - d.padding} * d.width + (j - d.padding);
          const S* src = col + Eigen::Index{oh} * d.width_out;
          for (int ow = cs.lo; ow < cs.hi; ++ow) dst[ow * d.stride] += src[ow];
        }
      }
    }
  }
}

// Samples per GEMM: enough rows to amortize packing, few enough to keep the
// scratch (patches and position-major result) near 2^19 scalars.
Eigen::Index chunk_samples(const ConvDims& d, Eigen::Index batch) {
  constexpr Eigen::Index kScratchScalars = Eigen::Index{1} << 19;
  const Eigen::Index per_sample = d.positions() * (d.patch() + d.channels_out);
  return std::clamp<Eigen::Index>(kScratchScalars / std::max<Eigen::Index>(per_sample, 1), 1,
                                  std::max<Eigen::Index>(batch, 1));
}

// b samples of c channels x p positions: sample-major y (the tensor layout)
// to and from position-major z, a (b*p) x c matrix.
template <Scalar S>
void to_position_major(const S* y, Eigen::Index b, Eigen::Index p, Eigen::Index c, S* z) {
  for (Eigen::Index s = 0; s < b; ++s)
    for (Eigen::Index o = 0; o < c; ++o) std::copy_n(y + (s * c + o) * p, p, z + o * b * p + s * p);
}
template <Scalar S>
void to_sample_major(const S* z, Eigen::Index b, Eigen::Index p, Eigen::Index c, S* y) {
  for (Eigen::Index s = 0; s < b; ++s)
    for (Eigen::Index o = 0; o < c; ++o) std::copy_n(z + o * b * p + s * p, p, y + (s * c + o) * p);
}

template <Scalar S>
S* scratch(Tape<S>& tape, Eigen::Index rows, Eigen::Index cols) {
  return const_cast<S*>(tape.make(rows, cols).data());
}

// Geometry and input image travel in iattr: {kh, kw, stride, padding, H, W};
// channel counts follow from the operands.
std::array<int, 6> pack(const Conv2dGeometry& g, Shape in) {
  return {g.kernel_h, g.kernel_w, g.stride, g.padding, in.height, in.width};
}
Conv2dGeometry geometry_of(const std::array<int, 6>& a) { return Conv2dGeometry{a[0], a[1], a[2], a[3]}; }
Shape in_shape_of(const std::array<int, 6>& a, Eigen::Index rows) {
  return Shape{static_cast<int>(rows / (Eigen::Index{a[4]} * a[5])), a[4], a[5]};
}

// ---- Per-channel bias: sum over positions and batch, and its adjoint -------
template <Scalar S>
Tensor<S> channel_sum(const Tensor<S>& g, Shape shape);
template <Scalar S>
Tensor<S> channel_broadcast(const Tensor<S>& b, Shape shape, Eigen::Index cols);

template <Scalar S>
void channel_sum_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  const Shape shape{n.iattr[0], n.iattr[1], n.iattr[2]};
  tape.accumulate(n.in[0], channel_broadcast(bar, shape, n.in[0].cols()));
}

template <Scalar S>
void channel_broadcast_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  tape.accumulate(n.in[0], channel_sum(bar, n.out.shape()));
}

// g is (C*H*W) x N read with image `shape`; result C x 1.
template <Scalar S>
Tensor<S> channel_sum(const Tensor<S>& g, Shape shape) {
  Tape<S>& tape = g.tape();
  const Eigen::Index p = Eigen::Index{shape.height} * shape.width;
  Tensor<S> out = tape.make(shape.channels, 1);
  auto o = tape.mutable_value(out);
  o.setZero();
  for (Eigen::Index n = 0; n < g.cols(); ++n) {
    o.col(0) += ConstMatMap<S>(g.data() + n * g.rows(), p, shape.channels).colwise().sum().transpose();
  }
  if (!tape.records(g)) return out;
  return tape.record(out, channel_sum_vjp<S>, "conv2d_bias_grad", {g}, {}, {shape.channels, shape.height, shape.width});
}

template <Scalar S>
Tensor<S> channel_broadcast(const Tensor<S>& b, Shape shape, Eigen::Index cols) {
  Tape<S>& tape = b.tape();
  const Eigen::Index p = Eigen::Index{shape.height} * shape.width;
  Tensor<S> out = tape.make(shape.size(), cols, shape);
  for (Eigen::Index n = 0; n < cols; ++n) {
    MatMap<S>(const_cast<S*>(out.data()) + n * out.rows(), p, shape.channels).rowwise() = b.value().col(0).transpose();
  }
  return tape.records(b) ? tape.record(out, channel_broadcast_vjp<S>, "conv2d_bias_broadcast", {b}) : out;
}

// ---- VJPs --------------------------------------------------------------------
template <Scalar S>
void conv2d_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  const Tensor<S>& x = n.in[0];
  const Tensor<S>& w = n.in[1];
  const Tensor<S>& b = n.in[2];
  const Conv2dGeometry g = geometry_of(n.iattr);
  const Shape in = in_shape_of(n.iattr, x.rows());
  if (tape.wants(x)) tape.accumulate(x, detail::conv2d_input_grad(bar, w, g, in));
  if (tape.wants(w)) tape.accumulate(w, detail::conv2d_weight_grad(x, bar, g, in));
  if (b.defined() && tape.wants(b)) tape.accumulate(b, channel_sum(bar, n.out.shape()));
}

// x_bar = col2im(G W^T) is bilinear in (G, W): with u its cotangent,
// G_bar = conv2d(u, W) and W_bar = sum_n im2col(u_n)^T G_n.
template <Scalar S>
void input_grad_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& u) {
  const Tensor<S>& out_bar = n.in[0];
  const Tensor<S>& w = n.in[1];
  const Conv2dGeometry g = geometry_of(n.iattr);
  const Shape in = n.out.shape();
  if (tape.wants(out_bar)) tape.accumulate(out_bar, detail::conv2d_image(u, w, Tensor<S>(), g, in));
  if (tape.wants(w)) tape.accumulate(w, detail::conv2d_weight_grad(u, out_bar, g, in));
}

// W_bar = sum_n C_n^T G_n is bilinear in (x, G): with V its cotangent,
// G_bar = conv2d(x, V) and x_bar = col2im(G V^T).
template <Scalar S>
void weight_grad_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& v) {
  const Tensor<S>& x = n.in[0];
  const Tensor<S>& out_bar = n.in[1];
  const Conv2dGeometry g = geometry_of(n.iattr);
  const Shape in = in_shape_of(n.iattr, x.rows());
  if (tape.wants(x)) tape.accumulate(x, detail::conv2d_input_grad(out_bar, v, g, in));
  if (tape.wants(out_bar)) tape.accumulate(out_bar, detail::conv2d_image(x, v, Tensor<S>(), g, in));
}

// Calls body(n0, b, cols, z) for each chunk of b samples starting at n0, with
// im2col (cols) and GEMM (z) scratch sized for a chunk, from the arena and
// released on return.
template <Scalar S, class Body>
void for_each_chunk(Tape<S>& tape, const ConvDims& d, Eigen::Index batch, Body body) {
  const Eigen::Index p = d.positions();
  const Eigen::Index chunk = chunk_samples(d, batch);
  detail::ScratchScope<S> scope(tape);
  S* cols = scratch(tape, chunk * p, d.patch());
  S* z = scratch(tape, chunk * p, d.channels_out);
  for (Eigen::Index n0 = 0; n0 < batch; n0 += chunk) body(n0, std::min(chunk, batch - n0), cols, z);
}

}  // namespace

detail::ConvDims::ConvDims(const Conv2dGeometry& g, Shape in, int c_out)
    : channels_in(in.channels), height(in.height), width(in.width), channels_out(c_out), kernel_h(g.kernel_h),
      kernel_w(g.kernel_w), stride(g.stride), padding(g.padding),
      height_out((in.height + 2 * g.padding - g.kernel_h) / g.stride + 1),
      width_out((in.width + 2 * g.padding - g.kernel_w) / g.stride + 1) {}

template <Scalar S>
Tensor<S> detail::conv2d_image(const Tensor<S>& x, const Tensor<S>& weight, const Tensor<S>& bias,
                               const Conv2dGeometry& g, Shape in) {
  Tape<S>& tape = x.tape();
  const ConvDims d(g, in, static_cast<int>(weight.cols()));
  const Eigen::Index p = d.positions();
  Tensor<S> out = tape.make(d.out_shape().size(), x.cols(), d.out_shape());
  for_each_chunk(tape, d, x.cols(), [&](Eigen::Index n0, Eigen::Index b, S* cols, S* z) {
    for (Eigen::Index s = 0; s < b; ++s) im2col(d, x.data() + (n0 + s) * x.rows(), cols + s * p, b * p);
    MatMap<S> y(z, b * p, d.channels_out);
    y.noalias() = MatMap<S>(cols, b * p, d.patch()) * weight.value();
    if (bias.defined()) y.rowwise() += bias.value().col(0).transpose();
    to_sample_major(z, b, p, Eigen::Index{d.channels_out}, const_cast<S*>(out.data()) + n0 * out.rows());
  });
  if (!tape.records(x, weight, bias)) return out;
  return tape.record(out, conv2d_vjp<S>, "conv2d", {x, weight, bias}, {}, pack(g, in));
}

template <Scalar S>
Tensor<S> detail::conv2d_input_grad(const Tensor<S>& out_bar, const Tensor<S>& weight, const Conv2dGeometry& g,
                                    Shape in) {
  Tape<S>& tape = out_bar.tape();
  in.channels = static_cast<int>(weight.rows() / (Eigen::Index{g.kernel_h} * g.kernel_w));
  const ConvDims d(g, in, static_cast<int>(weight.cols()));
  const Eigen::Index p = d.positions();
  Tensor<S> out = tape.make(in.size(), out_bar.cols(), in);
  tape.mutable_value(out).setZero();
  for_each_chunk(tape, d, out_bar.cols(), [&](Eigen::Index n0, Eigen::Index b, S* cols, S* z) {
    to_position_major(out_bar.data() + n0 * out_bar.rows(), b, p, Eigen::Index{d.channels_out}, z);
    MatMap<S>(cols, b * p, d.patch()).noalias() = MatMap<S>(z, b * p, d.channels_out) * weight.value().transpose();
    for (Eigen::Index s = 0; s < b; ++s) {
      col2im_add(d, cols + s * p, b * p, const_cast<S*>(out.data()) + (n0 + s) * out.rows());
    }
  });
  if (!tape.records(out_bar, weight)) return out;
  return tape.record(out, input_grad_vjp<S>, "conv2d_input_grad", {out_bar, weight}, {}, pack(g, in));
}

template <Scalar S>
Tensor<S> detail::conv2d_weight_grad(const Tensor<S>& x, const Tensor<S>& out_bar, const Conv2dGeometry& g,
                                     Shape in) {
  Tape<S>& tape = x.tape();
  in.channels = static_cast<int>(x.rows() / (Eigen::Index{in.height} * in.width));
  ConvDims d(g, in, 0);
  const Eigen::Index p = d.positions();
  d.channels_out = static_cast<int>(out_bar.rows() / p);
  Tensor<S> out = tape.make(d.patch(), d.channels_out);
  auto w_bar = tape.mutable_value(out);
  w_bar.setZero();
  for_each_chunk(tape, d, x.cols(), [&](Eigen::Index n0, Eigen::Index b, S* cols, S* z) {
    for (Eigen::Index s = 0; s < b; ++s) im2col(d, x.data() + (n0 + s) * x.rows(), cols + s * p, b * p);
    to_position_major(out_bar.data() + n0 * out_bar.rows(), b, p, Eigen::Index{d.channels_out}, z);
    w_bar.noalias() += MatMap<S>(cols, b * p, d.patch()).transpose() * MatMap<S>(z, b * p, d.channels_out);
  });
  if (!tape.records(x, out_bar)) return out;
  return tape.record(out, weight_grad_vjp<S>, "conv2d_weight_grad", {x, out_bar}, {}, pack(g, in));
}

template <Scalar S>
Tensor<S> conv2d(const Tensor<S>& x, const Tensor<S>& weight, const Tensor<S>& bias, const Conv2dGeometry& g) {
  detail::require_defined(x, "conv2d", "input");
  detail::require_defined(weight, "conv2d", "weight");
  detail::require_same_tape("conv2d", x, weight);
  if (bias.defined()) detail::require_same_tape("conv2d", x, bias);
  if (g.kernel_h < 1 || g.kernel_w < 1 || g.stride < 1 || g.padding < 0) {
    throw InvalidArgument(fmt::format("conv2d: kernel {}x{}, stride {}, padding {}: the kernel and stride must be "
                                      "positive and the padding non-negative",
                                      g.kernel_h, g.kernel_w, g.stride, g.padding));
  }
  const Shape in = x.shape();
  const Eigen::Index taps = Eigen::Index{g.kernel_h} * g.kernel_w;
  if (weight.rows() != Eigen::Index{in.channels} * taps) {
    throw ShapeError(fmt::format("conv2d: input {} has {} channels, so a {}x{} kernel needs a weight of {} rows "
                                 "(C_in*kh*kw), but the weight is {}",
                                 x.shape_string(), in.channels, g.kernel_h, g.kernel_w, Eigen::Index{in.channels} * taps,
                                 weight.shape_string()));
  }
  if (in.height + 2 * g.padding < g.kernel_h || in.width + 2 * g.padding < g.kernel_w) {
    throw ShapeError(fmt::format("conv2d: a {}x{} kernel with padding {} does not fit input {} (weight {})",
                                 g.kernel_h, g.kernel_w, g.padding, x.shape_string(), weight.shape_string()));
  }
  if (bias.defined() && (bias.rows() != weight.cols() || bias.cols() != 1)) {
    throw ShapeError(fmt::format("conv2d: bias {} does not match weight {} ({} output channels, expected {}x1)",
                                 bias.shape_string(), weight.shape_string(), weight.cols(), weight.cols()));
  }
  return detail::conv2d_image(x, weight, bias, g, in);
}

#define ODEFLOW_INSTANTIATE(S)                                                                                    \
  template Tensor<S> conv2d(const Tensor<S>&, const Tensor<S>&, const Tensor<S>&, const Conv2dGeometry&);         \
  template Tensor<S> detail::conv2d_image(const Tensor<S>&, const Tensor<S>&, const Tensor<S>&,                    \
                                          const Conv2dGeometry&, Shape);                                          \
  template Tensor<S> detail::conv2d_input_grad(const Tensor<S>&, const Tensor<S>&, const Conv2dGeometry&, Shape); \
  template Tensor<S> detail::conv2d_weight_grad(const Tensor<S>&, const Tensor<S>&, const Conv2dGeometry&, Shape);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::ad
