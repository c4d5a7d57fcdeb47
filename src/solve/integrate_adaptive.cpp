#include "integrators.hpp"

#include <odeflow/core/error.hpp>
#include <odeflow/solve/controller.hpp>
#include <odeflow/solve/dense_output.hpp>
#include <odeflow/solve/rk_step.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace odeflow::detail {
namespace {

// Sorted times strictly after t0 (steps must land on them).
std::vector<Time> pending_times(const std::vector<Time>& times, Time t0) {
  std::vector<Time> out;
  for (Time t : times)
    if (t > t0) out.push_back(t);
  std::sort(out.begin(), out.end());
  return out;
}

template <Scalar S>
std::string first_non_finite(const Matrix<S>& m) {
  for (Eigen::Index c = 0; c < m.cols(); ++c)
    for (Eigen::Index r = 0; r < m.rows(); ++r)
      if (!std::isfinite(m(r, c))) return fmt::format("component ({}, {}) = {}", r, c, m(r, c));
  return "no component";
}

}  // namespace

template <Scalar S>
Solution<S> integrate_adaptive_rk(Rhs<S> f, const Matrix<S>& y0_in, std::span<const Time> ts,
                                  const Options& options, const ButcherTableau& tableau) {
  Solution<S> sol;
  sol.ts.assign(ts.begin(), ts.end());
  sol.ys.reserve(ts.size());
  sol.ys.push_back(y0_in);
  if (ts.size() == 1) return sol;

  const Eigen::Index rows = y0_in.rows(), cols = y0_in.cols();
  const int s = tableau.stages();
  const bool fsal = tableau.fsal();
  std::int64_t& nfe = sol.stats.nfe;
  RkWork<S> work;
  work.resize(tableau, rows, cols);
  Matrix<S> y = y0_in, f1(rows, cols);
  Time t = ts.front();

  f(t, y, work.k[0]);
  ++nfe;
  if (!work.k[0].allFinite())
    throw NonFiniteError(fmt::format("f(t0, y0) is not finite at t0 = {}: {}", t, first_non_finite(work.k[0])),
                         t, 0.0);
  double dt = options.first_step;
  if (dt == 0.0) {
    dt = initial_step<S>(f, t, y, work.k[0], tableau.order, options, work.stage, f1);
    ++nfe;
  }
  sol.stats.first_step = dt;

  const std::vector<Time> step_t = pending_times(options.step_t, t);
  const std::vector<Time> jump_t = pending_times(options.jump_t, t);
  std::size_t next_step_t = 0, next_jump_t = 0;
  ControllerState controller;
  DenseStep<S> dense;
  double last_ratio = 0.0;
  bool last_non_finite = false;

  std::size_t out = 1;
  while (out < ts.size()) {
    if (sol.stats.steps() >= options.max_num_steps)
      throw MaxStepsExceeded(fmt::format("max_num_steps = {} exceeded at t = {} (dt = {}, {} accepted, {} "
                                         "rejected); next output time {}",
                                         options.max_num_steps, t, dt, sol.stats.accepted,
                                         sol.stats.rejected, ts[out]),
                             t, dt);
    if (!std::isfinite(dt)) dt = options.min_step;
    dt = std::clamp(dt, options.min_step, options.max_step);
    Time t1 = t + dt;
    if (!(t1 > t))
      throw StepSizeUnderflow(
          fmt::format("step size underflow: dt = {} at t = {} after {} accepted and {} rejected steps "
                      "(last error ratio {}{}); the problem may be stiff or the solution may blow up",
                      dt, t, sol.stats.accepted, sol.stats.rejected, last_ratio,
                      last_non_finite ? ", the last attempt produced non-finite values" : ""),
          t, dt);

    while (next_step_t < step_t.size() && step_t[next_step_t] <= t) ++next_step_t;
    while (next_jump_t < jump_t.size() && jump_t[next_jump_t] <= t) ++next_jump_t;
    // Only a step clipped to a step_t/jump_t takes dt from t1: recomputing
    // dt = t1 − t otherwise would re-round tiny steps up to whole ulps of t
    // and stop them from ever shrinking to underflow.
    bool on_jump = false;
    if (next_step_t < step_t.size() && step_t[next_step_t] < t1) {
      t1 = step_t[next_step_t];
      dt = t1 - t;
    }
    if (next_jump_t < jump_t.size() && jump_t[next_jump_t] < t1) {
      t1 = jump_t[next_jump_t];
      dt = t1 - t;
      on_jump = true;
    }

    nfe += rk_step<S>(tableau, f, t, dt, t1, y, work);
    double ratio = error_ratio<S>(dt, y, work, options);
    bool accept = ratio <= 1.0 || dt <= options.min_step;
    last_non_finite = !std::isfinite(ratio);
    if (accept && !work.y1.allFinite()) {
      if (dt <= options.min_step)
        throw NonFiniteError(fmt::format("non-finite state at t = {} with dt = min_step = {}: {}", t1, dt,
                                         first_non_finite(work.y1)),
                             t, dt);
      accept = false;
      ratio = std::numeric_limits<double>::infinity();
      last_non_finite = true;
    }
    last_ratio = ratio;
    if (options.on_step) options.on_step({t, dt, ratio, accept});

    if (accept) {
      ++sol.stats.accepted;
      sol.stats.last_step = dt;
      bool f1_known = fsal;
      if (ts[out] <= t1) {
        Matrix<S>* f1_ptr = fsal ? &work.k[static_cast<std::size_t>(s - 1)] : &f1;
        dense.bind(&tableau, f, t, t1, &y, &work.y1, &work, f1_ptr, fsal, &nfe);
        while (out < ts.size() && ts[out] <= t1) {
          sol.ys.emplace_back(rows, cols);
          dense.evaluate(ts[out], sol.ys.back());
          ++out;
        }
        f1_known = dense.f1_known();
      }
      if (out < ts.size()) {
        if (on_jump) {
          // f may jump at t1: restart from its value just after it.
          f(std::nextafter(t1, std::numeric_limits<Time>::infinity()), work.y1, work.k[0]);
          ++nfe;
        } else if (fsal) {
          std::swap(work.k[0], work.k[static_cast<std::size_t>(s - 1)]);
        } else if (f1_known) {
          std::swap(work.k[0], f1);
        } else {
          f(t1, work.y1, work.k[0]);
          ++nfe;
        }
      }
      std::swap(y, work.y1);
      t = t1;
    } else {
      ++sol.stats.rejected;
    }
    dt = next_step_size(options, tableau.order, dt, ratio, accept, controller);
  }
  return sol;
}

template Solution<float> integrate_adaptive_rk<float>(Rhs<float>, const Matrix<float>&, std::span<const Time>,
                                                      const Options&, const ButcherTableau&);
template Solution<double> integrate_adaptive_rk<double>(Rhs<double>, const Matrix<double>&,
                                                        std::span<const Time>, const Options&,
                                                        const ButcherTableau&);

}  // namespace odeflow::detail
