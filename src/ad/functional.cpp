#include <odeflow/ad/functional.hpp>
#include <odeflow/ad/ops.hpp>
#include <odeflow/core/error.hpp>

#include <fmt/format.h>

namespace odeflow::ad {
namespace {

template <Scalar S>
void require_square_rows(const char* what, const Tensor<S>& y, const Tensor<S>& x) {
  if (y.rows() != x.rows() || y.cols() != x.cols()) {
    throw ShapeError(fmt::format("{}: output {} and input {} must have the same shape", what, y.shape_string(),
                                 x.shape_string()));
  }
}

template <Scalar S>
Tensor<S> unit_rows(Tape<S>& tape, Eigen::Index rows, Eigen::Index cols, Eigen::Index i) {
  Tensor<S> e = tape.zeros(rows, cols);
  tape.mutable_value(e).row(i).setOnes();
  return e;
}

}  // namespace

template <Scalar S>
Tensor<S> vjp(const Tensor<S>& y, const Tensor<S>& x, const Tensor<S>& v, bool create_graph) {
  return y.tape().grad(y, x, v, create_graph);
}

template <Scalar S>
Tensor<S> jvp(const Tensor<S>& y, const Tensor<S>& x, const Tensor<S>& u, bool create_graph) {
  Tape<S>& tape = y.tape();
  if (u.rows() != x.rows() || u.cols() != x.cols()) {
    throw ShapeError(fmt::format("jvp: direction {} for an input of {}", u.shape_string(), x.shape_string()));
  }
  GradScope<S> scope(tape);
  // g(v) = J^T v is linear in v; its VJP with u is J u.
  const Tensor<S> v = tape.variable(Matrix<S>::Zero(y.rows(), y.cols()));
  const Tensor<S> g = tape.grad(y, x, v, true);
  return tape.grad(g, v, u, create_graph);
}

template <Scalar S>
Matrix<S> jacobian(const Tensor<S>& y, const Tensor<S>& x) {
  Tape<S>& tape = y.tape();
  Matrix<S> J(y.size(), x.size());
  for (Eigen::Index i = 0; i < y.size(); ++i) {
    const auto mark = tape.mark();
    Tensor<S> e = tape.zeros(y.rows(), y.cols());
    tape.mutable_value(e).data()[i] = S(1);
    J.row(i) = tape.grad(y, x, e).value().reshaped().transpose();
    tape.rewind(mark);
  }
  return J;
}

template <Scalar S>
std::vector<Matrix<S>> batch_jacobian(const Tensor<S>& y, const Tensor<S>& x) {
  Tape<S>& tape = y.tape();
  std::vector<Matrix<S>> J(static_cast<std::size_t>(y.cols()), Matrix<S>(y.rows(), x.rows()));
  if (y.cols() != x.cols()) {
    throw ShapeError(fmt::format("batch_jacobian: output {} and input {} differ in batch size", y.shape_string(),
                                 x.shape_string()));
  }
  for (Eigen::Index i = 0; i < y.rows(); ++i) {
    const auto mark = tape.mark();
    const Tensor<S> g = tape.grad(y, x, unit_rows(tape, y.rows(), y.cols(), i));
    for (Eigen::Index b = 0; b < y.cols(); ++b) J[static_cast<std::size_t>(b)].row(i) = g.value().col(b).transpose();
    tape.rewind(mark);
  }
  return J;
}

template <Scalar S>
Tensor<S> divergence(const Tensor<S>& y, const Tensor<S>& x, bool create_graph) {
  require_square_rows("divergence", y, x);
  Tape<S>& tape = y.tape();
  Tensor<S> total;
  for (Eigen::Index i = 0; i < y.rows(); ++i) {
    const Tensor<S> g = tape.grad(y, x, unit_rows(tape, y.rows(), y.cols(), i), create_graph);
    const Tensor<S> diag = slice_rows(g, i, 1);
    total = total.defined() ? add(total, diag) : diag;
  }
  return total;
}

template <Scalar S>
Tensor<S> hutchinson(const Tensor<S>& y, const Tensor<S>& x, const Tensor<S>& eps, bool create_graph) {
  require_square_rows("hutchinson", y, x);
  if (eps.rows() != y.rows() || eps.cols() != y.cols()) {
    throw ShapeError(fmt::format("hutchinson: noise {} for an output of {}", eps.shape_string(), y.shape_string()));
  }
  return sum(mul(y.tape().grad(y, x, eps, create_graph), eps), Axis::kRows);
}

#define ODEFLOW_INSTANTIATE(S)                                                                  \
  template Tensor<S> vjp(const Tensor<S>&, const Tensor<S>&, const Tensor<S>&, bool);           \
  template Tensor<S> jvp(const Tensor<S>&, const Tensor<S>&, const Tensor<S>&, bool);           \
  template Matrix<S> jacobian(const Tensor<S>&, const Tensor<S>&);                              \
  template std::vector<Matrix<S>> batch_jacobian(const Tensor<S>&, const Tensor<S>&);           \
  template Tensor<S> divergence(const Tensor<S>&, const Tensor<S>&, bool);                      \
  template Tensor<S> hutchinson(const Tensor<S>&, const Tensor<S>&, const Tensor<S>&, bool);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::ad
