// The integration loops behind odeint (internal). Each takes strictly
// increasing times (odeint maps decreasing ones to -t) and validated options.
#pragma once

#include <odeflow/core/types.hpp>
#include <odeflow/solve/options.hpp>
#include <odeflow/solve/rhs.hpp>
#include <odeflow/solve/solution.hpp>
#include <odeflow/solve/tableau.hpp>

#include <span>
#include <vector>

namespace odeflow::detail {

template <Scalar S>
class StepRecorder;

// Adaptive explicit Runge–Kutta with error control (tableau.adaptive()).
template <Scalar S>
Solution<S> integrate_adaptive_rk(Rhs<S> f, const Matrix<S>& y0, std::span<const Time> ts,
                                  const Options& options, const ButcherTableau& tableau,
                                  StepRecorder<S>* recorder = nullptr);

// Explicit Runge–Kutta on the fixed grid of fixed_grid().
template <Scalar S>
Solution<S> integrate_fixed_rk(Rhs<S> f, const Matrix<S>& y0, std::span<const Time> ts,
                               const Options& options, const ButcherTableau& tableau,
                               StepRecorder<S>* recorder = nullptr);

// Fixed-step Adams–Bashforth (implicit = false) or Adams–Bashforth–Moulton
// PECE (implicit = true) of order options.max_order (default 4) on fixed_grid().
template <Scalar S>
Solution<S> integrate_fixed_adams(Rhs<S> f, const Matrix<S>& y0, std::span<const Time> ts,
                                  const Options& options, bool implicit);

// Adaptive variable-step, variable-order Adams PECE (orders 1..options.max_order, default 12).
template <Scalar S>
Solution<S> integrate_adams(Rhs<S> f, const Matrix<S>& y0, std::span<const Time> ts, const Options& options);

// The grid of a fixed-step solve over [ts.front(), ts.back()]:
// options.grid_points, or steps of options.step_size (the last one shorter
// when the span is not a multiple of it), or ts itself.
std::vector<Time> fixed_grid(std::span<const Time> ts, const Options& options);

// The same grid computed point by point: a step_size grid holds no memory
// per step (adjoint solves over many steps stay flat in memory).
class FixedGrid {
 public:
  FixedGrid(std::span<const Time> ts, const Options& options);
  std::size_t size() const { return points_.empty() ? steps_ + 1 : points_.size(); }
  Time operator[](std::size_t i) const {
    if (!points_.empty()) return points_[i];
    return i == steps_ ? end_ : start_ + static_cast<double>(i) * step_;
  }

 private:
  std::vector<Time> points_;  // grid_points, or ts itself
  Time start_ = 0, end_ = 0, step_ = 0;
  std::size_t steps_ = 0;
};

}  // namespace odeflow::detail
