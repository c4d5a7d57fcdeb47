// The arithmetic of dense output (internal), on raw arrays of n elements: one
// definition for DenseStep (Matrix<S>, dense_output.cpp) and the static
// path's dense output (fixed-size states, detail/static_solve.hpp), so that
// both interpolate to the bit. Every product-sum is an explicit multiply_add:
// with a compile-time n the loops unroll, and compiler contraction must not
// round them differently.
#pragma once

#include <odeflow/core/types.hpp>
#include <odeflow/solve/detail/multiply_add.hpp>
#include <odeflow/solve/tableau.hpp>

#include <Eigen/Core>

#include <cassert>
#include <cstddef>

namespace odeflow::detail {

// Coefficients a, b, c of the quartic e + d·x + c·x² + b·x³ + a·x⁴ (e = y0,
// d = dt·f0) through y0, y_mid, y1, dt·f0 and dt·f1 (ALGORITHMS.md 5.1).
template <class S>
inline void quartic_coefficients(S* __restrict a, S* __restrict b, S* __restrict c, const S* y0, const S* y1,
                                 const S* y_mid, const S* f0, const S* f1, S dt, Eigen::Index n) {
  const S two_dt = 2 * dt;
  for (Eigen::Index i = 0; i < n; ++i) {
    const S b_f = dt * multiply_add(S(5), f0[i], S(-3) * f1[i]);  // dt·(5f0 − 3f1)
    const S c_f = dt * multiply_add(S(-4), f0[i], f1[i]);         // dt·(f1 − 4f0)
    a[i] = multiply_add(S(16), y_mid[i], multiply_add(S(-8), y1[i] + y0[i], two_dt * (f1[i] - f0[i])));
    b[i] = multiply_add(S(-32), y_mid[i], multiply_add(S(14), y1[i], multiply_add(S(18), y0[i], b_f)));
    c[i] = multiply_add(S(16), y_mid[i], multiply_add(S(-5), y1[i], multiply_add(S(-11), y0[i], c_f)));
  }
}

// out = the quartic at x (coefficients of quartic_coefficients), by powers of x.
template <class S>
inline void quartic_value(S* __restrict out, const S* y0, const S* f0, const S* a, const S* b, const S* c, S dt,
                          S x, Eigen::Index n) {
  const S x2 = x * x, x3 = x2 * x, x4 = x3 * x;
  for (Eigen::Index i = 0; i < n; ++i) {
    S v = multiply_add(x, dt * f0[i], y0[i]);
    v = multiply_add(x2, c[i], v);
    v = multiply_add(x3, b[i], v);
    out[i] = multiply_add(x4, a[i], v);
  }
}

// out = the cubic Hermite interpolant through (y0, dt·f0) and (y1, dt·f1) at x.
template <class S>
inline void hermite_value(S* __restrict out, const S* y0, const S* f0, const S* y1, const S* f1, S dt, S x,
                          Eigen::Index n) {
  const S h00 = (1 + 2 * x) * (1 - x) * (1 - x);
  const S h10 = x * (1 - x) * (1 - x) * dt;
  const S h01 = x * x * (3 - 2 * x);
  const S h11 = x * x * (x - 1) * dt;
  for (Eigen::Index i = 0; i < n; ++i)
    out[i] = multiply_add(h11, f1[i], multiply_add(h01, y1[i], multiply_add(h10, f0[i], h00 * y0[i])));
}

// kPolynomial: the weights b_i(θ) of the s + e stages at θ = (t − t0)/(t1 − t0),
// by Horner's rule θ·(b_1 + θ·(b_2 + …)) with explicit multiply_adds (with a
// constexpr tableau the coefficients fold, and contraction could then differ).
inline void polynomial_weights(const ButcherTableau& tableau, double theta, double* weights) {
  const int n = tableau.stages() + tableau.extra_stages();
  const int degree = tableau.dense_degree;
  for (int i = 0; i < n; ++i) {
    const double* b = &tableau.dense_b[static_cast<std::size_t>(i * degree)];
    double u = b[degree - 1];
    for (int p = degree - 1; p >= 1; --p) u = multiply_add(u, theta, b[p - 1]);
    weights[i] = u * theta;
  }
}

// The time of extra dense-output stage m of the step [t0, t1].
inline Time extra_stage_time(const ButcherTableau& tableau, int m, Time t0, Time t1) {
  return multiply_add(tableau.extra_c[static_cast<std::size_t>(m)], t1 - t0, t0);
}

// Most stages (s + e) a kPolynomial interpolant may combine.
inline constexpr int kMaxDenseStages = 32;

}  // namespace odeflow::detail
