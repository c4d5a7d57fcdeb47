// The backward passes of the odeint op (internal), one per gradient method;
// odeint_vjp (odeint.cpp) picks one. Each is defined in its own file.
#pragma once

#include "dynamics.hpp"

#include <odeflow/ad/tape.hpp>
#include <odeflow/core/types.hpp>

#include <span>
#include <vector>

namespace odeflow::detail {

// kDirect and kCheckpoint: y0bar from the output cotangents g[0..K-1]
// (g[0] belongs to ys[0] = y0 itself). Parameter gradients land in the
// redirected grads.
template <Scalar S>
Matrix<S> direct_vjp(OdeintRecord<S>& rec, ad::Tape<S>& tape, std::span<const Matrix<S>> g);  // sweep.cpp
template <Scalar S>
Matrix<S> checkpoint_vjp(OdeintRecord<S>& rec, ad::Tape<S>& tape, std::span<const Matrix<S>> g);  // checkpoint.cpp

// kAdjoint (adjoint.cpp): the same, with dL/dts added into t_bar when want_t.
template <Scalar S>
Matrix<S> adjoint_vjp(OdeintRecord<S>& rec, ad::Tape<S>& tape, GradRedirect<S>& redirect,
                      std::span<const Matrix<S>> g, std::vector<double>& t_bar, bool want_t);

}  // namespace odeflow::detail
