// Jacobian products built on Tape::grad. `y` must have been computed from
// `x` on the same tape while recording (inside a GradScope).
//
//   vjp(y, x, v)          v^T dy/dx, shaped like x (one reverse pass)
//   jvp(y, x, u)          dy/dx u, shaped like y (two reverse passes: the
//                         VJP is linear in v, so J u is the gradient of
//                         <v, VJP(v)> ... with respect to v)
//   jacobian(y, x)        the full y.size() x x.size() matrix (y.size() passes;
//                         for small dimensions), column-major element order
//   batch_jacobian(y, x)  per sample b, dy[:, b]/dx[:, b] (rows(y) passes, for
//                         functions that treat batch columns independently)
//   divergence(y, x)      per sample the exact trace of dy/dx (rows(x) passes),
//                         a 1 x batch tensor; FFJORD's exact log-density term
//   hutchinson(y, x, eps) per sample eps^T (dy/dx) eps, a 1 x batch tensor: the
//                         unbiased trace estimate (one pass)
// With create_graph the results are themselves recorded (differentiable), as
// training a CNF through its trace requires.
#pragma once

#include <odeflow/ad/tape.hpp>

#include <vector>

namespace odeflow::ad {

template <Scalar S>
Tensor<S> vjp(const Tensor<S>& y, const Tensor<S>& x, const Tensor<S>& v, bool create_graph = false);
template <Scalar S>
Tensor<S> jvp(const Tensor<S>& y, const Tensor<S>& x, const Tensor<S>& u, bool create_graph = false);
template <Scalar S>
Matrix<S> jacobian(const Tensor<S>& y, const Tensor<S>& x);
template <Scalar S>
std::vector<Matrix<S>> batch_jacobian(const Tensor<S>& y, const Tensor<S>& x);
template <Scalar S>
Tensor<S> divergence(const Tensor<S>& y, const Tensor<S>& x, bool create_graph = false);
template <Scalar S>
Tensor<S> hutchinson(const Tensor<S>& y, const Tensor<S>& x, const Tensor<S>& eps, bool create_graph = false);

}  // namespace odeflow::ad
