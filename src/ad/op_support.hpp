// Shared helpers of the op implementations (not installed).
#pragma once

#include <odeflow/ad/ops.hpp>
#include <odeflow/core/error.hpp>

#include <fmt/format.h>

namespace odeflow::ad::detail {

template <Scalar S>
using ArrayMap = Eigen::Map<Eigen::Array<S, Eigen::Dynamic, Eigen::Dynamic>>;
template <Scalar S>
using ConstArrayMap = Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, Eigen::Dynamic>>;

template <Scalar S>
ConstArrayMap<S> arr(const Tensor<S>& t) {
  return ConstArrayMap<S>(t.data(), t.rows(), t.cols());
}
template <Scalar S>
ArrayMap<S> out_arr(const Tensor<S>& t) {
  return ArrayMap<S>(const_cast<S*>(t.data()), t.rows(), t.cols());
}

template <Scalar S>
void require_defined(const Tensor<S>& t, const char* op, const char* what) {
  if (!t.defined()) throw InvalidArgument(fmt::format("{}: {} is an undefined tensor", op, what));
}

template <Scalar S>
[[noreturn]] void shape_mismatch(const char* op, const Tensor<S>& a, const Tensor<S>& b, const char* why) {
  throw ShapeError(fmt::format("{}: shapes {} and {} {}", op, a.shape_string(), b.shape_string(), why));
}

template <Scalar S>
void require_same_tape(const char* op, const Tensor<S>& a, const Tensor<S>& b) {
  if (&a.tape() != &b.tape()) throw InvalidArgument(fmt::format("{}: operands belong to different tapes", op));
}

// Internal op: x summed over the dimensions where the target has 1 (the
// adjoint of broadcasting). Its VJP is broadcast_to.
template <Scalar S>
Tensor<S> sum_to(const Tensor<S>& x, Eigen::Index rows, Eigen::Index cols);

// Internal op: x placed at rows [begin, begin + x.rows()) of a zero
// `rows x x.cols()` tensor with geometry `shape` (the adjoint of slice_rows,
// which is its VJP).
template <Scalar S>
Tensor<S> pad_rows(const Tensor<S>& x, Eigen::Index begin, Eigen::Index rows, Shape shape = {});
// x placed at columns [begin, begin + x.cols()) of zeros with `cols` columns.
template <Scalar S>
Tensor<S> pad_cols(const Tensor<S>& x, Eigen::Index begin, Eigen::Index cols);

// Internal op: bar * f'(x) for the unary op `kind`, fused (see ops_unary.cpp).
enum class UnaryKind {
  kExp, kLog, kLog1p, kSqrt, kSquare, kPow, kAbs, kSin, kCos, kTanh, kSigmoid, kSoftplus, kRelu, kElu, kSilu,
  kGelu, kClamp
};

// bar * f'(y) for an activation whose derivative reads only its output y
// (tanh, sigmoid), as a differentiable op (ops_unary.cpp).
template <Scalar S>
Tensor<S> output_activation_backward(UnaryKind kind, const Tensor<S>& bar, const Tensor<S>& y);

}  // namespace odeflow::ad::detail
