// Average pooling, fixed and adaptive windows, and its adjoint. Pooling is
// linear: its VJP is the transposed pooling (each output's cotangent spread
// evenly over its window), whose VJP is the pooling again.
#include "op_support.hpp"

#include <algorithm>

namespace odeflow::ad {
namespace {

struct Range {
  int lo = 0;
  int hi = 0;
};

enum PoolKind { kFixed = 0, kAdaptive = 1 };

// The windows of one pooling, carried in a node's iattr as {kind, a, b, c, H, W}.
// kFixed (PyTorch AvgPool2d, ceil_mode off, count_include_pad on): a = kernel,
// b = stride, c = padding; every window divides by kernel^2, padding included.
// kAdaptive: a x b outputs; output i of n over L inputs averages
// [floor(i L / n), ceil((i+1) L / n)).
struct Pool {
  int kind = kFixed;
  int a = 0;
  int b = 0;
  int c = 0;
  int height = 0;
  int width = 0;

  static Pool of(const std::array<int, 6>& t) { return Pool{t[0], t[1], t[2], t[3], t[4], t[5]}; }
  std::array<int, 6> pack() const { return {kind, a, b, c, height, width}; }
  int out_h() const { return kind == kFixed ? (height + 2 * c - a) / b + 1 : a; }
  int out_w() const { return kind == kFixed ? (width + 2 * c - a) / b + 1 : b; }
  Range window(int i, int limit, int outs) const {
    if (kind == kAdaptive) return Range{i * limit / outs, ((i + 1) * limit + outs - 1) / outs};
    const int begin = i * b - c;
    return Range{std::max(begin, 0), std::min(begin + a, limit)};
  }
  int divisor(Range rows, Range cols) const {
    return kind == kFixed ? a * a : (rows.hi - rows.lo) * (cols.hi - cols.lo);
  }
  const char* name() const { return kind == kFixed ? "avg_pool2d" : "adaptive_avg_pool2d"; }
};

template <Scalar S>
Tensor<S> pool(const Tensor<S>& x, const Pool& spec);
template <Scalar S>
Tensor<S> pool_transpose(const Tensor<S>& g, const Pool& spec);

template <Scalar S>
void pool_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  tape.accumulate(n.in[0], pool_transpose(bar, Pool::of(n.iattr)));
}

template <Scalar S>
void pool_transpose_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  tape.accumulate(n.in[0], pool(bar, Pool::of(n.iattr)));
}

// x is (C*H*W) x N with H, W from spec; result (C*out_h*out_w) x N.
template <Scalar S>
Tensor<S> pool(const Tensor<S>& x, const Pool& spec) {
  Tape<S>& tape = x.tape();
  const Eigen::Index area = Eigen::Index{spec.height} * spec.width;
  const int channels = static_cast<int>(x.rows() / area);
  const int oh = spec.out_h();
  const int ow = spec.out_w();
  const Shape shape{channels, oh, ow};
  Tensor<S> out = tape.make(shape.size(), x.cols(), shape);
  S* y = const_cast<S*>(out.data());
  for (Eigen::Index plane = 0; plane < channels * x.cols(); ++plane) {
    const S* src = x.data() + plane * area;
    for (int i = 0; i < oh; ++i) {
      const Range rows = spec.window(i, spec.height, oh);
      for (int j = 0; j < ow; ++j, ++y) {
        const Range cols = spec.window(j, spec.width, ow);
        S total(0);
        for (int h = rows.lo; h < rows.hi; ++h) {
          for (int w = cols.lo; w < cols.hi; ++w) total += src[Eigen::Index{h} * spec.width + w];
        }
        *y = total / static_cast<S>(spec.divisor(rows, cols));
      }
    }
  }
  return tape.records(x) ? tape.record(out, pool_vjp<S>, spec.name(), {x}, {}, spec.pack()) : out;
}

// g is (C*out_h*out_w) x N; result (C*H*W) x N.
template <Scalar S>
Tensor<S> pool_transpose(const Tensor<S>& g, const Pool& spec) {
  Tape<S>& tape = g.tape();
  const int oh = spec.out_h();
  const int ow = spec.out_w();
  const int channels = static_cast<int>(g.rows() / (Eigen::Index{oh} * ow));
  const Eigen::Index area = Eigen::Index{spec.height} * spec.width;
  const Shape shape{channels, spec.height, spec.width};
  Tensor<S> out = tape.make(shape.size(), g.cols(), shape);
  tape.mutable_value(out).setZero();
  const S* src = g.data();
  for (Eigen::Index plane = 0; plane < channels * g.cols(); ++plane) {
    S* dst = const_cast<S*>(out.data()) + plane * area;
    for (int i = 0; i < oh; ++i) {
      const Range rows = spec.window(i, spec.height, oh);
      for (int j = 0; j < ow; ++j, ++src) {
        const Range cols = spec.window(j, spec.width, ow);
        const S share = *src / static_cast<S>(spec.divisor(rows, cols));
        for (int h = rows.lo; h < rows.hi; ++h) {
          for (int w = cols.lo; w < cols.hi; ++w) dst[Eigen::Index{h} * spec.width + w] += share;
        }
      }
    }
  }
  return tape.records(g) ? tape.record(out, pool_transpose_vjp<S>, "avg_pool2d_backward", {g}, {}, spec.pack())
                         : out;
}

}  // namespace

template <Scalar S>
Tensor<S> avg_pool2d(const Tensor<S>& x, int kernel, int stride, int padding) {
  detail::require_defined(x, "avg_pool2d", "input");
  if (kernel < 1 || stride < 1 || padding < 0 || 2 * padding > kernel) {
    throw InvalidArgument(fmt::format("avg_pool2d: kernel {}, stride {}, padding {}: the kernel and stride must be "
                                      "positive and the padding between 0 and half the kernel",
                                      kernel, stride, padding));
  }
  const Shape in = x.shape();
  if (in.height + 2 * padding < kernel || in.width + 2 * padding < kernel) {
    throw ShapeError(fmt::format("avg_pool2d: a {}x{} window with padding {} does not fit input {}", kernel, kernel,
                                 padding, x.shape_string()));
  }
  return pool(x, Pool{kFixed, kernel, stride, padding, in.height, in.width});
}

template <Scalar S>
Tensor<S> adaptive_avg_pool2d(const Tensor<S>& x, int out_h, int out_w) {
  detail::require_defined(x, "adaptive_avg_pool2d", "input");
  if (out_h < 1 || out_w < 1) {
    throw InvalidArgument(fmt::format("adaptive_avg_pool2d: output size {}x{} for input {} must be positive", out_h,
                                      out_w, x.shape_string()));
  }
  const Shape in = x.shape();
  return pool(x, Pool{kAdaptive, out_h, out_w, 0, in.height, in.width});
}

#define ODEFLOW_INSTANTIATE(S)                                             \
  template Tensor<S> avg_pool2d(const Tensor<S>&, int, int, int);         \
  template Tensor<S> adaptive_avg_pool2d(const Tensor<S>&, int, int);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::ad
