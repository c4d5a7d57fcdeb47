// Butcher tableaus: an explicit Runge–Kutta method as data.
//
// One generic stepper runs every tableau: rk_step.hpp with the coefficients
// read at run time, or static_rk_step.hpp with them as compile-time constants
// for fixed-size states. A method is an inline constexpr ButcherTableau in
// include/odeflow/solve/tableaus/<name>.hpp plus its line in the registry
// (registry.cpp). Coefficients are written as exact rationals
// with `q(p, r)`; IEEE division rounds p/r correctly, so the doubles are the
// same as any reference implementation's.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace odeflow {

// p/r rounded once: exact rationals in tableau definitions.
constexpr double q(long long p, long long r) {
  return static_cast<double>(p) / static_cast<double>(r);
}

// How a method produces output between its step end points.
enum class DenseKind {
  kHermite,     // cubic Hermite from (y0, f0, y1, f1): order 3, any method
  kQuartic,     // quartic through y0, y1, y(t0+dt/2) = y0 + dt·Σ c_mid_i k_i, dt·f0, dt·f1
                //   (torchdiffeq's fit; order 4)
  kPolynomial,  // the method's own continuous extension: y(t0+θdt) = y0 + dt·Σ_i b_i(θ) k_i,
                //   b_i(θ) = Σ_{p=1..P} dense_b[i·P + p-1]·θ^p, i over stages and extra_stages
};

struct ButcherTableau {
  std::string_view name;
  int order = 0;           // order of the propagated solution
  int embedded_order = 0;  // order of the embedded solution; 0 = no error estimate
  std::span<const double> c = {};        // nodes, size s
  std::span<const double> a = {};        // s×s row-major, strictly lower triangular
  std::span<const double> b = {};        // weights of the propagated solution, size s
  std::span<const double> b_error = {};  // b − b̂ (error weights), size s; empty = fixed-step only
  // Optional second estimate b − b̂₃ from a 3rd-order embedded solution (DOP853).
  // When present the scaled error is e²/sqrt(e² + 0.01·e₃²), e and e₃ the norms
  // of the two scaled estimates (Hairer, Nørsett & Wanner I, Sec. II.10).
  std::span<const double> b_error3 = {};

  DenseKind dense = DenseKind::kHermite;
  std::span<const double> c_mid = {};  // kQuartic: weights of the midpoint value, size s
  // kPolynomial: continuous extension. Extra stages (evaluated lazily, only
  // for steps that produce dense output) extend c and a: extra_c has e nodes,
  // extra_a is e×(s+e) row-major over all previous stages.
  int dense_degree = 0;
  std::span<const double> dense_b = {};  // (s+e)×dense_degree row-major
  std::span<const double> extra_c = {};
  std::span<const double> extra_a = {};

  constexpr int stages() const { return static_cast<int>(c.size()); }
  constexpr int extra_stages() const { return static_cast<int>(extra_c.size()); }
  constexpr bool adaptive() const { return !b_error.empty(); }
  constexpr double a_at(int i, int j) const { return a[static_cast<std::size_t>(i * stages() + j)]; }

  // First Same As Last: the last stage is f(t1, y1), so it is the next step's
  // first stage. True when c_s = 1, row s of a equals b, and b_s = 0.
  constexpr bool fsal() const {
    const int s = stages();
    if (s < 2 || c[static_cast<std::size_t>(s - 1)] != 1.0 || b[static_cast<std::size_t>(s - 1)] != 0.0)
      return false;
    for (int j = 0; j < s - 1; ++j)
      if (a_at(s - 1, j) != b[static_cast<std::size_t>(j)]) return false;
    return true;
  }

  // Order of the dense output (for tests and the docs table).
  constexpr int dense_order() const {
    switch (dense) {
      case DenseKind::kHermite:
        return order < 3 ? order : 3;
      case DenseKind::kQuartic:
        return order < 4 ? order : 4;
      case DenseKind::kPolynomial:
        return dense_degree < order ? dense_degree : order;
    }
    return 0;
  }
};

}  // namespace odeflow
