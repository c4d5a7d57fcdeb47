// Hairer's initial step (internal), on any state type: one definition for the
// run-time path (Matrix<S>, rk_step.cpp) and the static one (fixed-size
// states, detail/static_solve.hpp), so both start from the same step without
// the static path copying its state into heap matrices. Every product-sum is
// an explicit multiply_add, so unrolling cannot change the rounding.
#pragma once

#include <odeflow/core/error.hpp>
#include <odeflow/core/types.hpp>
#include <odeflow/solve/detail/multiply_add.hpp>
#include <odeflow/solve/options.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>

namespace odeflow::detail {

// RMS (or max, options.norm) of x / (atol + rtol·|y|) over a column-major
// rows×cols state.
template <class S>
inline double scaled_norm(const S* x, const S* y, Eigen::Index rows, Eigen::Index cols, const Options& options) {
  if (options.controlled_rows != 0) [[unlikely]] {
    rows = std::min<Eigen::Index>(options.controlled_rows, rows * cols);
    cols = 1;
  }
  double sum = 0.0, max = 0.0;
  for (Eigen::Index col = 0; col < cols; ++col) {
    for (Eigen::Index row = 0; row < rows; ++row) {
      const Eigen::Index i = col * rows + row;
      const double scale = multiply_add(std::abs(static_cast<double>(y[i])), options.rtol[row], options.atol[row]);
      const double r = static_cast<double>(x[i]) / scale;
      sum = multiply_add(r, r, sum);
      max = std::max(max, std::abs(r));
    }
  }
  if (options.norm == Norm::kMax) return max;
  return std::sqrt(sum / static_cast<double>(rows * cols));
}

// Hairer, Nørsett & Wanner I, Sec. II.4, for a method of order `order`, from
// f0 = f(t0, y0) and one more evaluation f(t0 + h0, y0 + h0·f0) into f1.
// State: an Eigen matrix (fixed or dynamic size); scratch and f1 have y0's
// shape. f(t, y, dy) writes into dy.
template <class State, class F>
double hairer_initial_step(F& f, Time t0, const State& y0, const State& f0, int order, const Options& options,
                           State& scratch, State& f1) {
  using S = typename State::Scalar;
  const Eigen::Index rows = y0.rows(), cols = y0.cols(), n = y0.size();
  const double d0 = scaled_norm<S>(y0.data(), y0.data(), rows, cols, options);
  const double d1 = scaled_norm<S>(f0.data(), y0.data(), rows, cols, options);
  const double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  const S h0_s = static_cast<S>(h0);
  for (Eigen::Index i = 0; i < n; ++i) scratch.data()[i] = multiply_add(h0_s, f0.data()[i], y0.data()[i]);
  f(t0 + h0, scratch, f1);
  for (Eigen::Index i = 0; i < n; ++i) scratch.data()[i] = f1.data()[i] - f0.data()[i];
  const double d2 = scaled_norm<S>(scratch.data(), y0.data(), rows, cols, options) / h0;
  double h1;
  if (d1 <= 1e-15 && d2 <= 1e-15)
    h1 = std::max(1e-6, h0 * 1e-3);
  else
    h1 = std::pow(0.01 / std::max(d1, d2), 1.0 / order);
  const double h = std::min(100.0 * h0, h1);
  if (!std::isfinite(h) || h <= 0.0)
    throw NonFiniteError("initial step selection failed: f is not finite near t0", t0, h);
  return h;
}

}  // namespace odeflow::detail
