// Broadcasting elementwise binary ops, affine maps, broadcast_to and its
// adjoint sum_to.
#include "op_support.hpp"

namespace odeflow::ad {
namespace {

using detail::arr;
using detail::out_arr;

template <Scalar S>
Eigen::Index broadcast_dim(const char* op, const Tensor<S>& a, const Tensor<S>& b, Eigen::Index da, Eigen::Index db) {
  if (da == db || db == 1) return da;
  if (da == 1) return db;
  detail::shape_mismatch(op, a, b, "cannot be broadcast together");
}

// out(:, j) = f(a(:, j'), b(:, j')) with broadcast operands read as
// constants; same-shape operands take one vectorized expression.
template <Scalar S, class F>
Tensor<S> broadcast_apply(const char* op, const Tensor<S>& a, const Tensor<S>& b, F f) {
  detail::require_defined(a, op, "first operand");
  detail::require_defined(b, op, "second operand");
  detail::require_same_tape(op, a, b);
  const Eigen::Index r = broadcast_dim(op, a, b, a.rows(), b.rows());
  const Eigen::Index c = broadcast_dim(op, a, b, a.cols(), b.cols());
  const Shape shape = a.rows() == r ? a.shape() : b.shape();
  Tensor<S> out = a.tape().make(r, c, shape);
  auto o = out_arr(out);
  auto A = arr(a);
  auto B = arr(b);
  if (a.rows() == b.rows() && a.cols() == b.cols()) {
    o = f(A, B);
    return out;
  }
  using Col = Eigen::Array<S, Eigen::Dynamic, 1>;
  for (Eigen::Index j = 0; j < c; ++j) {
    const Eigen::Index ja = a.cols() == 1 ? 0 : j;
    const Eigen::Index jb = b.cols() == 1 ? 0 : j;
    const bool full_a = a.rows() == r;
    const bool full_b = b.rows() == r;
    if (full_a && full_b) o.col(j) = f(A.col(ja), B.col(jb));
    else if (full_a) o.col(j) = f(A.col(ja), Col::Constant(r, B(0, jb)));
    else if (full_b) o.col(j) = f(Col::Constant(r, A(0, ja)), B.col(jb));
    else o.col(j) = f(Col::Constant(r, A(0, ja)), Col::Constant(r, B(0, jb)));
  }
  return out;
}

template <Scalar S>
Tensor<S> reduce_like(const Tensor<S>& bar, const Tensor<S>& like) {
  return detail::sum_to(bar, like.rows(), like.cols());
}

template <Scalar S>
void add_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  tape.accumulate(n.in[0], reduce_like(bar, n.in[0]));
  tape.accumulate(n.in[1], reduce_like(bar, n.in[1]));
}

template <Scalar S>
void sub_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  tape.accumulate(n.in[0], reduce_like(bar, n.in[0]));
  if (tape.wants(n.in[1])) tape.accumulate(n.in[1], reduce_like(neg(bar), n.in[1]));
}

template <Scalar S>
void mul_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  if (tape.wants(n.in[0])) tape.accumulate(n.in[0], reduce_like(mul(bar, n.in[1]), n.in[0]));
  if (tape.wants(n.in[1])) tape.accumulate(n.in[1], reduce_like(mul(bar, n.in[0]), n.in[1]));
}

// y = a / b: a_bar = bar / b, b_bar = -bar * y / b.
template <Scalar S>
void div_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  const Tensor<S> bar_over_b = div(bar, n.in[1]);
  if (tape.wants(n.in[0])) tape.accumulate(n.in[0], reduce_like(bar_over_b, n.in[0]));
  if (tape.wants(n.in[1])) tape.accumulate(n.in[1], reduce_like(neg(mul(bar_over_b, n.out)), n.in[1]));
}

template <Scalar S>
void affine_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  tape.accumulate(n.in[0], affine(bar, n.attr[0], 0.0));
}

template <Scalar S>
void broadcast_to_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  tape.accumulate(n.in[0], reduce_like(bar, n.in[0]));
}

template <Scalar S>
void sum_to_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  tape.accumulate(n.in[0], broadcast_to(bar, n.in[0].rows(), n.in[0].cols()));
}

}  // namespace

template <Scalar S>
Tensor<S> add(const Tensor<S>& a, const Tensor<S>& b) {
  Tensor<S> out = broadcast_apply("add", a, b, [](const auto& x, const auto& y) { return x + y; });
  return a.tape().records(a, b) ? a.tape().record(out, add_vjp<S>, "add", {a, b}) : out;
}

template <Scalar S>
Tensor<S> sub(const Tensor<S>& a, const Tensor<S>& b) {
  Tensor<S> out = broadcast_apply("sub", a, b, [](const auto& x, const auto& y) { return x - y; });
  return a.tape().records(a, b) ? a.tape().record(out, sub_vjp<S>, "sub", {a, b}) : out;
}

template <Scalar S>
Tensor<S> mul(const Tensor<S>& a, const Tensor<S>& b) {
  Tensor<S> out = broadcast_apply("mul", a, b, [](const auto& x, const auto& y) { return x * y; });
  return a.tape().records(a, b) ? a.tape().record(out, mul_vjp<S>, "mul", {a, b}) : out;
}

template <Scalar S>
Tensor<S> div(const Tensor<S>& a, const Tensor<S>& b) {
  Tensor<S> out = broadcast_apply("div", a, b, [](const auto& x, const auto& y) { return x / y; });
  return a.tape().records(a, b) ? a.tape().record(out, div_vjp<S>, "div", {a, b}) : out;
}

template <Scalar S>
Tensor<S> affine(const Tensor<S>& a, double s, double c) {
  detail::require_defined(a, "affine", "operand");
  Tensor<S> out = a.tape().make(a.rows(), a.cols(), a.shape());
  out_arr(out) = arr(a) * static_cast<S>(s) + static_cast<S>(c);
  return a.tape().records(a) ? a.tape().record(out, affine_vjp<S>, "affine", {a}, {s, c}) : out;
}

template <Scalar S>
Tensor<S> neg(const Tensor<S>& x) {
  return affine(x, -1.0, 0.0);
}

template <Scalar S>
Tensor<S> broadcast_to(const Tensor<S>& x, Eigen::Index rows, Eigen::Index cols) {
  detail::require_defined(x, "broadcast_to", "operand");
  if ((x.rows() != rows && x.rows() != 1) || (x.cols() != cols && x.cols() != 1)) {
    throw ShapeError(fmt::format("broadcast_to: {} cannot be broadcast to {}x{}", x.shape_string(), rows, cols));
  }
  if (x.rows() == rows && x.cols() == cols) return x;
  Tensor<S> out = x.tape().make(rows, cols, x.rows() == rows ? x.shape() : Shape{});
  // Per column rather than replicate() with run-time factors, which costs
  // hundreds of instructions even for a 1x1 seed (the loss's backward).
  auto o = out_arr(out);
  if (x.rows() == rows) {
    for (Eigen::Index j = 0; j < cols; ++j) o.col(j) = arr(x).col(0);
  } else if (x.cols() == cols) {
    for (Eigen::Index j = 0; j < cols; ++j) o.col(j).setConstant(x.data()[j]);
  } else {
    o.setConstant(x.data()[0]);
  }
  return x.tape().records(x) ? x.tape().record(out, broadcast_to_vjp<S>, "broadcast_to", {x}) : out;
}

template <Scalar S>
Tensor<S> detail::sum_to(const Tensor<S>& x, Eigen::Index rows, Eigen::Index cols) {
  if (x.rows() == rows && x.cols() == cols) return x;
  Tensor<S> out = x.tape().make(rows, cols, x.rows() == rows ? x.shape() : Shape{});
  auto o = out_arr(out);
  if (rows == x.rows()) o = arr(x).rowwise().sum();
  else if (cols == x.cols()) o = arr(x).colwise().sum();
  else o(0, 0) = arr(x).sum();
  return x.tape().records(x) ? x.tape().record(out, sum_to_vjp<S>, "sum_to", {x}) : out;
}

#define ODEFLOW_INSTANTIATE(S)                                                       \
  template Tensor<S> add(const Tensor<S>&, const Tensor<S>&);                        \
  template Tensor<S> sub(const Tensor<S>&, const Tensor<S>&);                        \
  template Tensor<S> mul(const Tensor<S>&, const Tensor<S>&);                        \
  template Tensor<S> div(const Tensor<S>&, const Tensor<S>&);                        \
  template Tensor<S> affine(const Tensor<S>&, double, double);                       \
  template Tensor<S> neg(const Tensor<S>&);                                          \
  template Tensor<S> broadcast_to(const Tensor<S>&, Eigen::Index, Eigen::Index);     \
  template Tensor<S> detail::sum_to(const Tensor<S>&, Eigen::Index, Eigen::Index);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::ad
