// logsumexp, softmax, log_softmax and cross_entropy, each computed per slice
// (a column for Axis::kRows, a row for Axis::kCols) shifted by the slice's
// maximum so that exp never overflows. VJPs:
//   logsumexp:   x_bar = bar * softmax(x)
//   softmax:     x_bar = y * (bar - sum(bar * y))
//   log_softmax: x_bar = bar - exp(y) * sum(bar)
//   cross_entropy (mean over B samples): x_bar = (softmax(x) - onehot) * bar / B
// all with broadcasting ops, so they differentiate again.
#include "op_support.hpp"

#include <cmath>

namespace odeflow::ad {
namespace {

using detail::arr;
using detail::out_arr;

// The shift that keeps exp in range; 0 when the maximum is infinite (all
// -inf gives lse -inf, any +inf gives +inf, without inf - inf).
template <Scalar S>
S shift_of(S max) {
  return std::isfinite(max) ? max : S(0);
}

template <class V>
auto lse_of(const V& v) {
  using S = typename V::Scalar;
  const S shift = shift_of<S>(v.maxCoeff());
  return shift + std::log((v - shift).exp().sum());
}

template <Scalar S>
void require_nonempty_axis(const char* op, const Tensor<S>& x, Axis axis) {
  detail::require_defined(x, op, "operand");
  if ((axis == Axis::kRows ? x.rows() : x.cols()) == 0) {
    throw ShapeError(fmt::format("{}: tensor {} is empty along the reduced axis", op, x.shape_string()));
  }
}

// f(x slice, y slice) for each slice of x and the same-shaped y.
template <Scalar S, class F>
void for_each_slice(const Tensor<S>& x, const Tensor<S>& y, Axis axis, F f) {
  auto X = arr(x);
  auto Y = out_arr(y);
  if (axis == Axis::kRows) {
    for (Eigen::Index j = 0; j < x.cols(); ++j) f(X.col(j), Y.col(j));
  } else {
    for (Eigen::Index i = 0; i < x.rows(); ++i) f(X.row(i), Y.row(i));
  }
}

template <Scalar S>
Axis axis_of(const Node<S>& n) {
  return static_cast<Axis>(n.iattr[0]);
}

template <Scalar S>
void logsumexp_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  tape.accumulate(n.in[0], mul(bar, softmax(n.in[0], axis_of(n))));
}

template <Scalar S>
void softmax_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  const Tensor<S>& y = n.out;
  tape.accumulate(n.in[0], mul(y, sub(bar, sum(mul(bar, y), axis_of(n)))));
}

template <Scalar S>
void log_softmax_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  tape.accumulate(n.in[0], sub(bar, mul(exp(n.out), sum(bar, axis_of(n)))));
}

// in[1] holds the labels as a 1 x B row of numbers (exact up to 2^24 classes
// in float).
template <Scalar S>
void cross_entropy_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  const Tensor<S>& logits = n.in[0];
  const Tensor<S> onehot = tape.zeros(logits.rows(), logits.cols());
  auto h = tape.mutable_value(onehot);
  const auto labels = n.in[1].value();
  for (Eigen::Index b = 0; b < logits.cols(); ++b) h(static_cast<Eigen::Index>(labels(0, b)), b) = S(1);
  const Tensor<S> scale = affine(bar, 1.0 / static_cast<double>(logits.cols()), 0.0);
  tape.accumulate(logits, mul(sub(softmax(logits, Axis::kRows), onehot), scale));
}

}  // namespace

template <Scalar S>
Tensor<S> logsumexp(const Tensor<S>& x, Axis axis) {
  require_nonempty_axis("logsumexp", x, axis);
  Tape<S>& tape = x.tape();
  Tensor<S> out = axis == Axis::kRows ? tape.make(1, x.cols()) : tape.make(x.rows(), 1, x.shape());
  auto X = arr(x);
  auto o = out_arr(out);
  if (axis == Axis::kRows) {
    for (Eigen::Index j = 0; j < x.cols(); ++j) o(0, j) = lse_of(X.col(j));
  } else {
    for (Eigen::Index i = 0; i < x.rows(); ++i) o(i, 0) = lse_of(X.row(i));
  }
  if (!tape.records(x)) return out;
  return tape.record(out, logsumexp_vjp<S>, "logsumexp", {x}, {}, {static_cast<int>(axis)});
}

template <Scalar S>
Tensor<S> softmax(const Tensor<S>& x, Axis axis) {
  require_nonempty_axis("softmax", x, axis);
  Tape<S>& tape = x.tape();
  Tensor<S> out = tape.make(x.rows(), x.cols(), x.shape());
  for_each_slice(x, out, axis, [](const auto& v, auto y) {
    y = (v - shift_of<S>(v.maxCoeff())).exp();
    y /= y.sum();
  });
  if (!tape.records(x)) return out;
  return tape.record(out, softmax_vjp<S>, "softmax", {x}, {}, {static_cast<int>(axis)});
}

template <Scalar S>
Tensor<S> log_softmax(const Tensor<S>& x, Axis axis) {
  require_nonempty_axis("log_softmax", x, axis);
  Tape<S>& tape = x.tape();
  Tensor<S> out = tape.make(x.rows(), x.cols(), x.shape());
  for_each_slice(x, out, axis, [](const auto& v, auto y) { y = v - lse_of(v); });
  if (!tape.records(x)) return out;
  return tape.record(out, log_softmax_vjp<S>, "log_softmax", {x}, {}, {static_cast<int>(axis)});
}

template <Scalar S>
Tensor<S> cross_entropy(const Tensor<S>& logits, std::span<const std::int64_t> labels) {
  detail::require_defined(logits, "cross_entropy", "logits");
  if (logits.rows() == 0 || logits.cols() == 0) {
    throw ShapeError(fmt::format("cross_entropy: logits {} are empty (classes x batch)", logits.shape_string()));
  }
  if (static_cast<Eigen::Index>(labels.size()) != logits.cols()) {
    throw ShapeError(fmt::format("cross_entropy: {} labels for logits {} (classes x batch: {} samples)", labels.size(),
                                 logits.shape_string(), logits.cols()));
  }
  for (std::size_t b = 0; b < labels.size(); ++b) {
    if (labels[b] < 0 || labels[b] >= logits.rows()) {
      throw InvalidArgument(fmt::format("cross_entropy: label {} of sample {} is outside [0, {}) for logits {}",
                                        labels[b], b, logits.rows(), logits.shape_string()));
    }
  }
  Tape<S>& tape = logits.tape();
  auto X = arr(logits);
  double total = 0;
  for (Eigen::Index b = 0; b < logits.cols(); ++b) {
    total += static_cast<double>(lse_of(X.col(b)) - X(static_cast<Eigen::Index>(labels[static_cast<std::size_t>(b)]), b));
  }
  Tensor<S> out = tape.scalar(static_cast<S>(total / static_cast<double>(logits.cols())));
  if (!tape.records(logits)) return out;
  const Tensor<S> label_row = tape.make(1, logits.cols());
  auto l = tape.mutable_value(label_row);
  for (Eigen::Index b = 0; b < logits.cols(); ++b) l(0, b) = static_cast<S>(labels[static_cast<std::size_t>(b)]);
  return tape.record(out, cross_entropy_vjp<S>, "cross_entropy", {logits, label_row});
}

#define ODEFLOW_INSTANTIATE(S)                                                               \
  template Tensor<S> logsumexp(const Tensor<S>&, Axis);                                      \
  template Tensor<S> softmax(const Tensor<S>&, Axis);                                        \
  template Tensor<S> log_softmax(const Tensor<S>&, Axis);                                    \
  template Tensor<S> cross_entropy(const Tensor<S>&, std::span<const std::int64_t>);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::ad
