// The right-hand side as the solvers see it: an in-place, type-erased
// `f(t, y, dy)` writing dy/dt into a matrix of y's shape.
#pragma once

#include <odeflow/core/function_ref.hpp>
#include <odeflow/core/types.hpp>

namespace odeflow {

template <Scalar S>
using Rhs = FunctionRef<void(Time, const Matrix<S>&, Matrix<S>&)>;

}  // namespace odeflow
