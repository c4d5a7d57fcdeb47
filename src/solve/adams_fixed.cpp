// Fixed-step Adams–Bashforth and Adams–Bashforth–Moulton (PECE) on the grid
// of fixed_grid(); contract in include/odeflow/solve/adams.hpp.
#include "integrators.hpp"

#include <odeflow/core/error.hpp>
#include <odeflow/solve/adams.hpp>
#include <odeflow/solve/rk_step.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace odeflow::detail {
namespace {

constexpr int kDefaultFixedOrder = 4;

using Weights = std::array<double, kAdamsMaxOrder + 1>;

// Whether grid[first..last] is equally spaced with step h (to rounding).
bool uniform(const std::vector<Time>& grid, std::size_t first, std::size_t last, double h) {
  for (std::size_t i = first; i < last; ++i)
    if (std::abs((grid[i + 1] - grid[i]) - h) > 1e-10 * std::abs(h)) return false;
  return true;
}

// Weights w with ∫_{t0}^{t0+h} p = h·Σ_j w[j]·p(nodes[j]) for the `count`
// nodes grid[newest], grid[newest−1], …: the classical table when the grid
// is uniform there, else the interpolatory weights of the actual nodes.
void step_weights(const std::vector<Time>& grid, std::size_t step, std::size_t newest, int count,
                  std::span<const double> classical, Weights& w) {
  const std::size_t oldest = newest + 1 - static_cast<std::size_t>(count);
  const double h = grid[step + 1] - grid[step];
  if (uniform(grid, oldest, std::max(newest, step + 1), h)) {
    std::copy(classical.begin(), classical.end(), w.begin());
    return;
  }
  std::array<double, kAdamsMaxOrder + 1> nodes{};
  for (int j = 0; j < count; ++j) nodes[static_cast<std::size_t>(j)] = grid[newest - static_cast<std::size_t>(j)];
  interpolatory_weights({nodes.data(), static_cast<std::size_t>(count)}, grid[step], grid[step + 1],
                        {w.data(), static_cast<std::size_t>(count)});
}

// Cubic Hermite through (y0, f0) at t0 and (y1, f1) at t1.
template <Scalar S>
void hermite(Time t0, Time t1, const Matrix<S>& y0, const Matrix<S>& f0, const Matrix<S>& y1,
             const Matrix<S>& f1, Time t, Matrix<S>& out) {
  const S x = static_cast<S>((t - t0) / (t1 - t0));
  const S dt = static_cast<S>(t1 - t0);
  const S h00 = (1 + 2 * x) * (1 - x) * (1 - x);
  const S h10 = x * (1 - x) * (1 - x);
  const S h01 = x * x * (3 - 2 * x);
  const S h11 = x * x * (x - 1);
  out = h00 * y0 + (h10 * dt) * f0 + h01 * y1 + (h11 * dt) * f1;
}

template <Scalar S>
class FixedAdams {
 public:
  FixedAdams(Rhs<S> f, std::span<const Time> ts, const Options& options, bool implicit, Solution<S>& sol)
      : f_(f), ts_(ts), options_(options), implicit_(implicit), sol_(sol),
        order_(options.max_order > 0 ? options.max_order : kDefaultFixedOrder),
        grid_(fixed_grid(ts, options)) {
    if (static_cast<std::int64_t>(grid_.size() - 1) > options.max_num_steps)
      throw MaxStepsExceeded(fmt::format("the grid has {} steps, more than max_num_steps = {}",
                                         grid_.size() - 1, options.max_num_steps),
                             ts.front(), grid_[1] - grid_[0]);
  }

  void run(const Matrix<S>& y0);

 private:
  std::size_t start(const Matrix<S>& y0);
  void step(std::size_t i);
  void evaluate(Time t, const Matrix<S>& y, Matrix<S>& dy) {
    f_(t, y, dy);
    ++sol_.stats.nfe;
  }
  void accept(std::size_t i, const Matrix<S>& y1) {
    const Time t0 = grid_[i], t1 = grid_[i + 1];
    if (!y1.allFinite())
      throw NonFiniteError(fmt::format("non-finite state after the fixed step [{}, {}] (step {} of {})", t0, t1,
                                       i + 1, grid_.size() - 1),
                           t0, t1 - t0);
    ++sol_.stats.accepted;
    sol_.stats.last_step = t1 - t0;
    if (options_.on_step) options_.on_step({t0, t1 - t0, 0.0, true});
  }
  // Whether an output lies strictly inside (grid[i], grid[i+1]) and needs f there.
  bool needs_hermite(std::size_t i) const {
    return options_.interpolation == FixedInterpolation::kHermite && out_ < ts_.size() &&
           ts_[out_] < grid_[i + 1];
  }
  // Appends the outputs in (grid[i], grid[i+1]]; f1 may be null when not needed.
  void emit(std::size_t i, const Matrix<S>& y0, const Matrix<S>& f0, const Matrix<S>& y1,
            const Matrix<S>* f1);

  Rhs<S> f_;
  std::span<const Time> ts_;
  const Options& options_;
  bool implicit_;
  Solution<S>& sol_;
  int order_;
  std::vector<Time> grid_;
  std::size_t out_ = 1;
  // hist_[1..order] = f at the newest grid points, newest first; hist_[0] is
  // the slot of the next f (so that both formulas read contiguous terms).
  std::vector<Matrix<S>> hist_;
  Matrix<S> y_, y1_;
};

template <Scalar S>
void FixedAdams<S>::emit(std::size_t i, const Matrix<S>& y0, const Matrix<S>& f0, const Matrix<S>& y1,
                         const Matrix<S>* f1) {
  const Time t0 = grid_[i], t1 = grid_[i + 1];
  while (out_ < ts_.size() && ts_[out_] <= t1) {
    if (ts_[out_] == t1) {
      sol_.ys.push_back(y1);
    } else if (options_.interpolation == FixedInterpolation::kLinear) {
      const S x = static_cast<S>((ts_[out_] - t0) / (t1 - t0));
      sol_.ys.push_back(y0 + x * (y1 - y0));
    } else {
      sol_.ys.emplace_back(y0.rows(), y0.cols());
      hermite<S>(t0, t1, y0, f0, y1, *f1, ts_[out_], sol_.ys.back());
    }
    ++out_;
  }
}

// Collocation starter on the first m = min(order, grid size) grid points:
// y_j = y0 + ∫_{t0}^{t_j} P, P the polynomial through f(t_i, y_i), i < m,
// solved by fixed-point sweeps from Euler guesses. Each sweep gains one power
// of h; m sweeps reach the collocation error O(h^{m+1}). Returns m − 1, the
// index of the last grid point reached.
template <Scalar S>
std::size_t FixedAdams<S>::start(const Matrix<S>& y0) {
  const std::size_t m = std::min(static_cast<std::size_t>(order_), grid_.size());
  std::vector<Matrix<S>> ys(m, y0), fs(m, Matrix<S>(y0.rows(), y0.cols()));
  evaluate(grid_[0], y0, fs[0]);
  std::vector<Weights> w(m);
  for (std::size_t j = 1; j < m; ++j) {
    interpolatory_weights({grid_.data(), m}, grid_[0], grid_[j], {w[j].data(), m});
    ys[j] = y0 + static_cast<S>(grid_[j] - grid_[0]) * fs[0];
  }
  for (std::size_t sweep = 0; sweep < m && m > 1; ++sweep) {
    for (std::size_t j = 1; j < m; ++j) evaluate(grid_[j], ys[j], fs[j]);
    for (std::size_t j = 1; j < m; ++j)
      linear_combination<S>(ys[j], y0, w[j].data(), fs.data(), static_cast<int>(m),
                            static_cast<S>(grid_[j] - grid_[0]));
  }
  for (std::size_t j = 1; j < m; ++j) {
    accept(j - 1, ys[j]);
    evaluate(grid_[j], ys[j], fs[j]);
    emit(j - 1, ys[j - 1], fs[j - 1], ys[j], &fs[j]);
  }
  hist_.assign(static_cast<std::size_t>(order_) + 1, Matrix<S>(y0.rows(), y0.cols()));
  for (std::size_t j = 0; j < m; ++j) std::swap(hist_[m - j], fs[j]);
  y_ = std::move(ys[m - 1]);
  return m - 1;
}

// One step grid[i] → grid[i+1] from the full history.
template <Scalar S>
void FixedAdams<S>::step(std::size_t i) {
  const int p = order_;
  const Time t0 = grid_[i], t1 = grid_[i + 1];
  const S h = static_cast<S>(t1 - t0);
  Weights w{};
  step_weights(grid_, i, i, p, adams_bashforth_coefficients(p), w);
  linear_combination<S>(y1_, y_, w.data(), hist_.data() + 1, p, h);
  if (implicit_) {
    evaluate(t1, y1_, hist_[0]);
    step_weights(grid_, i, i + 1, p, adams_moulton_coefficients(p), w);
    linear_combination<S>(y1_, y_, w.data(), hist_.data(), p, h);
  }
  accept(i, y1_);
  const bool last = i + 2 == grid_.size();
  const bool f1_needed = !last || needs_hermite(i);
  if (f1_needed) evaluate(t1, y1_, hist_[0]);
  emit(i, y_, hist_[1], y1_, f1_needed ? &hist_[0] : nullptr);
  std::rotate(hist_.begin(), hist_.end() - 1, hist_.end());
  std::swap(y_, y1_);
}

template <Scalar S>
void FixedAdams<S>::run(const Matrix<S>& y0) {
  sol_.stats.first_step = grid_.size() > 1 ? grid_[1] - grid_[0] : 0.0;
  if (grid_.size() < 2) return;
  y1_.resize(y0.rows(), y0.cols());
  for (std::size_t i = start(y0); i + 1 < grid_.size() && out_ < ts_.size(); ++i) step(i);
}

}  // namespace

template <Scalar S>
Solution<S> integrate_fixed_adams(Rhs<S> f, const Matrix<S>& y0, std::span<const Time> ts,
                                  const Options& options, bool implicit) {
  Solution<S> sol;
  sol.ts.assign(ts.begin(), ts.end());
  sol.ys.reserve(ts.size());
  sol.ys.push_back(y0);
  FixedAdams<S> solver(f, ts, options, implicit, sol);
  solver.run(y0);
  return sol;
}

template Solution<float> integrate_fixed_adams<float>(Rhs<float>, const Matrix<float>&, std::span<const Time>,
                                                      const Options&, bool);
template Solution<double> integrate_fixed_adams<double>(Rhs<double>, const Matrix<double>&,
                                                        std::span<const Time>, const Options&, bool);

}  // namespace odeflow::detail
