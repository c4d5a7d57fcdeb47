// Classical right-hand sides shared by the solver tests (in-place form).
#pragma once

#include <odeflow/core/types.hpp>

namespace odeflow::test {

// Lorenz (σ = 10, ρ = 28, β = 8/3); the W3 benchmark problem with y0 = (1, 1, 1).
inline void lorenz(Time, const Matrix<double>& y, Matrix<double>& dy) {
  dy(0) = 10.0 * (y(1) - y(0));
  dy(1) = y(0) * (28.0 - y(2)) - y(1);
  dy(2) = y(0) * y(1) - (8.0 / 3.0) * y(2);
}

// Van der Pol with μ = 1; the W3 problem with y0 = (2, 0).
inline void van_der_pol(Time, const Matrix<double>& y, Matrix<double>& dy) {
  dy(0) = y(1);
  dy(1) = (1.0 - y(0) * y(0)) * y(1) - y(0);
}

}  // namespace odeflow::test
