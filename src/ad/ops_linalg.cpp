// Matrix products and the fused Linear op.
#include "op_support.hpp"

namespace odeflow::ad {
namespace {

template <Scalar S>
Eigen::Index dim(const Tensor<S>& t, bool transposed, bool first) {
  return (first != transposed) ? t.rows() : t.cols();
}

// C = op_a(A) op_b(B). With bar = C_bar:
//   A_bar = bar op_b(B)^T, or its transpose op_b(B) bar^T when A was transposed;
//   B_bar = op_a(A)^T bar, or its transpose bar^T op_a(A) when B was transposed.
template <Scalar S>
void matmul_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  const bool ta = n.iattr[0] != 0;
  const bool tb = n.iattr[1] != 0;
  const Tensor<S>& a = n.in[0];
  const Tensor<S>& b = n.in[1];
  if (tape.wants(a)) tape.accumulate(a, ta ? matmul(b, bar, tb, true) : matmul(bar, b, false, !tb));
  if (tape.wants(b)) tape.accumulate(b, tb ? matmul(bar, a, true, ta) : matmul(a, bar, !ta, false));
}

template <Scalar S>
void linear_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  const Tensor<S>& x = n.in[0];
  const Tensor<S>& w = n.in[1];
  const Tensor<S>& b = n.in[2];
  if (tape.wants(x)) tape.accumulate(x, matmul(w, bar));
  if (tape.wants(w)) tape.accumulate(w, matmul(x, bar, false, true));
  if (b.defined() && tape.wants(b)) tape.accumulate(b, sum(bar, Axis::kCols));
}

}  // namespace

template <Scalar S>
Tensor<S> matmul(const Tensor<S>& a, const Tensor<S>& b, bool transpose_a, bool transpose_b) {
  detail::require_defined(a, "matmul", "first operand");
  detail::require_defined(b, "matmul", "second operand");
  detail::require_same_tape("matmul", a, b);
  const Eigen::Index inner_a = dim(a, transpose_a, false);
  const Eigen::Index inner_b = dim(b, transpose_b, true);
  if (inner_a != inner_b) {
    throw ShapeError(fmt::format("matmul: shapes {}{} and {}{} do not chain ({} != {})", a.shape_string(),
                                 transpose_a ? "^T" : "", b.shape_string(), transpose_b ? "^T" : "", inner_a, inner_b));
  }
  Tape<S>& tape = a.tape();
  Tensor<S> out = tape.make(dim(a, transpose_a, true), dim(b, transpose_b, false));
  auto c = tape.mutable_value(out);
  const auto A = a.value();
  const auto B = b.value();
  if (!transpose_a && !transpose_b) c.noalias() = A * B;
  else if (transpose_a && !transpose_b) c.noalias() = A.transpose() * B;
  else if (!transpose_a && transpose_b) c.noalias() = A * B.transpose();
  else c.noalias() = A.transpose() * B.transpose();
  if (!tape.records(a, b)) return out;
  return tape.record(out, matmul_vjp<S>, "matmul", {a, b}, {}, {transpose_a ? 1 : 0, transpose_b ? 1 : 0});
}

template <Scalar S>
Tensor<S> linear(const Tensor<S>& x, const Tensor<S>& weight_t, const Tensor<S>& bias) {
  detail::require_defined(x, "linear", "input");
  detail::require_defined(weight_t, "linear", "weight");
  detail::require_same_tape("linear", x, weight_t);
  if (weight_t.rows() != x.rows()) {
    throw ShapeError(fmt::format("linear: weight [out, in] = [{}, {}] does not take an input of {} ({} features)",
                                 weight_t.cols(), weight_t.rows(), x.shape_string(), x.rows()));
  }
  if (bias.defined() && (bias.rows() != weight_t.cols() || bias.cols() != 1)) {
    throw ShapeError(fmt::format("linear: bias is {} for {} outputs (expected {}x1)", bias.shape_string(),
                                 weight_t.cols(), weight_t.cols()));
  }
  Tape<S>& tape = x.tape();
  Tensor<S> out = tape.make(weight_t.cols(), x.cols());
  auto y = tape.mutable_value(out);
  y.noalias() = weight_t.value().transpose() * x.value();
  if (bias.defined()) y.colwise() += bias.value().col(0);
  const bool rec = bias.defined() ? tape.records(x, weight_t, bias) : tape.records(x, weight_t);
  return rec ? tape.record(out, linear_vjp<S>, "linear", {x, weight_t, bias}) : out;
}

#define ODEFLOW_INSTANTIATE(S)                                                      \
  template Tensor<S> matmul(const Tensor<S>&, const Tensor<S>&, bool, bool);        \
  template Tensor<S> linear(const Tensor<S>&, const Tensor<S>&, const Tensor<S>&);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::ad
