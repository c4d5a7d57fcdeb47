// The scaled error norm of an adaptive step (internal): one definition for
// the run-time stepper (rk_step.cpp) and the static one (static_rk_step.hpp),
// so both accept and reject exactly the same steps. Inline: with a
// compile-time state size the loops unroll.
#pragma once

#include <odeflow/solve/detail/multiply_add.hpp>
#include <odeflow/solve/options.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>

namespace odeflow::detail {

// Σ_i (err_i / tol_i)² or max_i |err_i / tol_i|, tol_i = atol + rtol·max(|y0_i|, |y1_i|),
// over a column-major rows×cols state.
template <class S, bool kMax, bool kScalarTol>
[[gnu::always_inline]] inline double scaled_error(const S* err, const S* y0, const S* y1, Eigen::Index rows, Eigen::Index cols,
                           const Options& options) {
  const double rtol0 = options.rtol[0], atol0 = options.atol[0];
  double acc = 0.0;
  for (Eigen::Index col = 0; col < cols; ++col) {
    for (Eigen::Index row = 0; row < rows; ++row) {
      const Eigen::Index i = col * rows + row;
      const double scale = static_cast<double>(std::max(std::abs(y0[i]), std::abs(y1[i])));
      const double tol = kScalarTol ? multiply_add(rtol0, scale, atol0)
                                    : multiply_add(options.rtol[row], scale, options.atol[row]);
      const double r = static_cast<double>(err[i]) / tol;
      if constexpr (kMax) {
        if (!(std::abs(r) <= acc)) acc = std::abs(r);  // keeps NaN
      } else {
        acc = multiply_add(r, r, acc);
      }
    }
  }
  return acc;
}

// The norm below over the first n elements only (Options::controlled_rows):
// out of line, so the inlined common case keeps compile-time sizes.
template <class S>
[[gnu::noinline]] inline double seminorm_error(const S* err, const S* y0, const S* y1, Eigen::Index n,
                                               const Options& options) {
  const bool scalar = options.rtol.is_scalar() && options.atol.is_scalar();
  if (options.norm == Norm::kMax)
    return scalar ? scaled_error<S, true, true>(err, y0, y1, n, 1, options)
                  : scaled_error<S, true, false>(err, y0, y1, n, 1, options);
  const double sum = scalar ? scaled_error<S, false, true>(err, y0, y1, n, 1, options)
                            : scaled_error<S, false, false>(err, y0, y1, n, 1, options);
  return std::sqrt(sum / static_cast<double>(n));
}

// options.norm of err / (atol + rtol·max(|y0|, |y1|)); NaN when any component
// is NaN. Always inlined: with a compile-time size the loops then unroll.
template <class S>
[[gnu::always_inline]] inline double error_norm(const S* err, const S* y0, const S* y1, Eigen::Index rows, Eigen::Index cols,
                         const Options& options) {
  if (options.controlled_rows != 0) [[unlikely]]
    return seminorm_error<S>(err, y0, y1, std::min<Eigen::Index>(options.controlled_rows, rows * cols), options);
  const bool scalar = options.rtol.is_scalar() && options.atol.is_scalar();
  if (options.norm == Norm::kMax)
    return scalar ? scaled_error<S, true, true>(err, y0, y1, rows, cols, options)
                  : scaled_error<S, true, false>(err, y0, y1, rows, cols, options);
  const double sum = scalar ? scaled_error<S, false, true>(err, y0, y1, rows, cols, options)
                            : scaled_error<S, false, false>(err, y0, y1, rows, cols, options);
  return std::sqrt(sum / static_cast<double>(rows * cols));
}

// The DOP853 combination of the 5th- and 3rd-order estimates' norms (see
// ButcherTableau::b_error3): for small h ≈ 10·n²/n₃ = O(h^8), which matches
// the controller's exponent 1/order of an 8th-order method.
inline double combine_error_norms(double norm, double norm3) {
  const double square = norm * norm;
  return square / std::sqrt(multiply_add(0.01 * norm3, norm3, square));
}

}  // namespace odeflow::detail
