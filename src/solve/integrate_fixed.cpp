#include "integrators.hpp"

#include <odeflow/core/error.hpp>
#include <odeflow/solve/dense_output.hpp>
#include <odeflow/solve/detail/step_recorder.hpp>
#include <odeflow/solve/rk_step.hpp>

#include <fmt/format.h>

#include <cmath>

namespace odeflow::detail {

FixedGrid::FixedGrid(std::span<const Time> ts, const Options& options) {
  const Time start = ts.front(), end = ts.back();
  if (!options.grid_points.empty()) {
    const auto& g = options.grid_points;
    if (g.front() != start || g.back() != end)
      throw InvalidArgument(fmt::format("grid_points must start at t0 = {} and end at t1 = {}, got [{}, {}]",
                                        start, end, g.front(), g.back()));
    for (std::size_t i = 1; i < g.size(); ++i)
      if (!(g[i] > g[i - 1]))
        throw InvalidArgument(fmt::format("grid_points must be strictly monotone in the direction of ts: "
                                          "grid_points[{}] = {} after {}",
                                          i, g[i], g[i - 1]));
    points_ = g;
    return;
  }
  if (options.step_size <= 0.0) {
    points_.assign(ts.begin(), ts.end());
    return;
  }
  // A span within 1e-10 relative of a whole number of steps is taken as one,
  // so that rounding in (end − start)/h does not add a sliver of a step.
  const double ratio = (end - start) / options.step_size;
  double n = std::round(ratio);
  if (std::abs(ratio - n) > 1e-10 * std::max(1.0, ratio)) n = std::ceil(ratio);
  n = std::max(n, 1.0);
  if (n > static_cast<double>(options.max_num_steps))
    throw MaxStepsExceeded(fmt::format("step_size = {} needs {} steps over [{}, {}], more than "
                                       "max_num_steps = {}",
                                       options.step_size, n, start, end, options.max_num_steps),
                           start, options.step_size);
  start_ = start;
  end_ = end;
  step_ = options.step_size;
  steps_ = static_cast<std::size_t>(n);
}

std::vector<Time> fixed_grid(std::span<const Time> ts, const Options& options) {
  const FixedGrid grid(ts, options);
  std::vector<Time> out(grid.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = grid[i];
  return out;
}

template <Scalar S>
Solution<S> integrate_fixed_rk(Rhs<S> f, const Matrix<S>& y0_in, std::span<const Time> ts,
                               const Options& options, const ButcherTableau& tableau,
                               StepRecorder<S>* recorder) {
  const FixedGrid grid(ts, options);
  if (static_cast<std::int64_t>(grid.size() - 1) > options.max_num_steps)
    throw MaxStepsExceeded(fmt::format("the grid has {} steps, more than max_num_steps = {}",
                                       grid.size() - 1, options.max_num_steps),
                           ts.front(), grid[1] - grid[0]);
  Solution<S> sol;
  sol.ts.assign(ts.begin(), ts.end());
  sol.ys.reserve(ts.size());
  sol.ys.push_back(y0_in);

  const bool fsal = tableau.fsal();
  const bool linear = tableau.dense == DenseKind::kHermite &&
                      options.interpolation == FixedInterpolation::kLinear;
  RkWork<S> work;
  work.resize(tableau, y0_in.rows(), y0_in.cols());
  Matrix<S> y = y0_in, f1(y0_in.rows(), y0_in.cols());
  DenseStep<S> dense;
  std::int64_t& nfe = sol.stats.nfe;
  f(grid[0], y, work.k[0]);
  ++nfe;
  sol.stats.first_step = grid.size() > 1 ? grid[1] - grid[0] : 0.0;

  std::size_t out = 1;
  for (std::size_t i = 0; i + 1 < grid.size() && out < ts.size(); ++i) {
    const Time t0 = grid[i], t1 = grid[i + 1], dt = t1 - t0;
    nfe += rk_step<S>(tableau, f, t0, dt, t1, y, work);
    if (!work.y1.allFinite())
      throw NonFiniteError(fmt::format("non-finite state after the fixed step [{}, {}] (step {} of {})", t0,
                                       t1, i + 1, grid.size() - 1),
                           t0, dt);
    ++sol.stats.accepted;
    sol.stats.last_step = dt;
    if (options.on_step) options.on_step({t0, dt, 0.0, true});
    if (recorder != nullptr) recorder->step(t0, dt, t1, y, work, false);
    Matrix<S>* f1_ptr = fsal ? &work.k[static_cast<std::size_t>(tableau.stages() - 1)] : &f1;
    dense.bind(&tableau, f, t0, t1, &y, &work.y1, &work, f1_ptr, fsal, &nfe);
    while (out < ts.size() && ts[out] <= t1) {
      sol.ys.emplace_back(y.rows(), y.cols());
      const bool straight = linear && ts[out] != t1;
      if (straight) {
        const S x = static_cast<S>((ts[out] - t0) / dt);
        sol.ys.back() = y + x * (work.y1 - y);
      } else {
        dense.evaluate(ts[out], sol.ys.back());
      }
      if (recorder != nullptr) recorder->output(ts[out], work, straight);
      ++out;
    }
    if (out < ts.size()) {
      if (fsal)
        std::swap(work.k[0], work.k[static_cast<std::size_t>(tableau.stages() - 1)]);
      else if (dense.f1_known())
        std::swap(work.k[0], f1);
      else {
        f(t1, work.y1, work.k[0]);
        ++nfe;
      }
    }
    std::swap(y, work.y1);
  }
  return sol;
}

template Solution<float> integrate_fixed_rk<float>(Rhs<float>, const Matrix<float>&, std::span<const Time>,
                                                   const Options&, const ButcherTableau&, StepRecorder<float>*);
template Solution<double> integrate_fixed_rk<double>(Rhs<double>, const Matrix<double>&,
                                                     std::span<const Time>, const Options&,
                                                     const ButcherTableau&, StepRecorder<double>*);

}  // namespace odeflow::detail
