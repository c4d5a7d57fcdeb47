// The adaptive explicit Runge–Kutta integration loop (internal): one loop for
// the run-time stepper (any tableau, Matrix<S> states, f behind Rhs<S>;
// instantiated once in src/solve/integrate_adaptive.cpp) and the static one
// (a compile-time tableau and state size, f inlined; detail/static_solve.hpp).
//
// A Stepper provides:
//   using Scalar; using State;        // S, and the state type of its steps
//   const ButcherTableau& tableau();
//   State& load_state(const Matrix<S>& y0);  // the loop's state buffer, set to y0
//   State& f1_state();                 // a state-shaped buffer for f(t1, y1)
//   State& k0(); State& k_last(); State& y1();  // k[0], k[s−1], y1 of the step
//   void f(Time, const State& y, State& dy);
//   double initial_step(Time t0, const State& y0, const Options&);  // one more f
//   int step(Time t0, Time dt, Time t1, const State& y0);  // rk_step; returns f count
//   double error_ratio(Time dt, const State& y0, const Options&);
//   void bind_dense(Time t0, Time t1, const State& y0, State* f1, bool f1_known, std::int64_t* nfe);
//   void evaluate_dense(Time t, Matrix<S>& out);   // DenseStep::evaluate
//   bool finish_dense();               // whether *f1 now holds f(t1, y1)
// and optionally
//   void record_step(Time t0, Time dt, Time t1, const State& y0, bool jump);  // each accepted step
//   bool stop_after(Time t0, Time t1, const State& y0);  // after each accepted step and its
//                                      // outputs; true ends the solve there (events)
//
// Semantics (the contract of odeint's adaptive methods): Hairer's initial
// step unless options.first_step, the controller of controller.hpp, steps
// clipped to step_t/jump_t (f re-evaluated just after a jump), min/max_step,
// max_num_steps, non-finite states rejected (fatal at min_step), on_step
// after every attempt, outputs interpolated by the method's dense output.
#pragma once

#include <odeflow/core/stats.hpp>
#include <odeflow/core/types.hpp>
#include <odeflow/solve/controller.hpp>
#include <odeflow/solve/options.hpp>
#include <odeflow/solve/solution.hpp>
#include <odeflow/solve/tableau.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <utility>
#include <vector>

namespace odeflow::detail {

// The loop's error reports (out of line: they format their messages).
template <Scalar S>
[[noreturn]] void throw_non_finite_f0(Time t0, const S* f0, Eigen::Index rows, Eigen::Index cols);
template <Scalar S>
[[noreturn]] void throw_non_finite_state(Time t1, double dt, Time t0, const S* y1, Eigen::Index rows,
                                         Eigen::Index cols);
[[noreturn]] void throw_max_steps(const Options& options, Time t, double dt, const Stats& stats, Time next_out);
[[noreturn]] void throw_step_underflow(Time t, double dt, const Stats& stats, double last_ratio,
                                       bool last_non_finite);

// The step_t and jump_t times after t0 that steps must land on, and the
// loops' rule for an attempt from t to t1 (the adaptive loop's, and the
// checkpoint replay's, which must retake its steps bit for bit).
class StepClip {
 public:
  StepClip(const Options& options, Time t0) : step_t_(after(options.step_t, t0)), jump_t_(after(options.jump_t, t0)) {}

  bool active() const { return !step_t_.empty() || !jump_t_.empty(); }
  // For attempts from an earlier t than the last one.
  void rewind() { next_step_t_ = next_jump_t_ = 0; }
  // Ends the attempt at the first step_t or jump_t time inside (t, t1), dt
  // then t1 − t; true when it ends on a jump_t time. Only a clipped step
  // takes dt from t1: recomputing dt = t1 − t otherwise would re-round tiny
  // steps up to whole ulps of t and stop them from shrinking to underflow.
  bool clip(Time t, double& dt, Time& t1) {
    while (next_step_t_ < step_t_.size() && step_t_[next_step_t_] <= t) ++next_step_t_;
    while (next_jump_t_ < jump_t_.size() && jump_t_[next_jump_t_] <= t) ++next_jump_t_;
    bool on_jump = false;
    if (next_step_t_ < step_t_.size() && step_t_[next_step_t_] < t1) {
      t1 = step_t_[next_step_t_];
      dt = t1 - t;
    }
    if (next_jump_t_ < jump_t_.size() && jump_t_[next_jump_t_] < t1) {
      t1 = jump_t_[next_jump_t_];
      dt = t1 - t;
      on_jump = true;
    }
    return on_jump;
  }

 private:
  static std::vector<Time> after(const std::vector<Time>& times, Time t0) {
    std::vector<Time> out;
    for (Time t : times)
      if (t > t0) out.push_back(t);
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<Time> step_t_, jump_t_;  // sorted
  std::size_t next_step_t_ = 0, next_jump_t_ = 0;
};

// Integrates over strictly increasing ts from y0_in with validated options.
template <class Stepper>
Solution<typename Stepper::Scalar> adaptive_loop(Stepper& st, const Matrix<typename Stepper::Scalar>& y0_in,
                                                 std::span<const Time> ts, const Options& options) {
  using S = typename Stepper::Scalar;
  using State = typename Stepper::State;
  Solution<S> sol;
  sol.ts.assign(ts.begin(), ts.end());
  sol.ys.reserve(ts.size());
  sol.ys.push_back(y0_in);
  if (ts.size() == 1) return sol;

  const Eigen::Index rows = y0_in.rows(), cols = y0_in.cols();
  const ButcherTableau& tableau = st.tableau();
  const bool fsal = tableau.fsal();
  std::int64_t& nfe = sol.stats.nfe;
  State& y = st.load_state(y0_in);
  State& f1 = st.f1_state();
  Time t = ts.front();

  st.f(t, y, st.k0());
  ++nfe;
  if (!st.k0().allFinite()) throw_non_finite_f0<S>(t, st.k0().data(), rows, cols);
  double dt = options.first_step;
  if (dt == 0.0) {
    dt = st.initial_step(t, y, options);
    ++nfe;
  }
  sol.stats.first_step = dt;

  StepClip clip(options, t);
  const bool clipping = clip.active();
  ControllerState controller;
  double last_ratio = 0.0;
  bool last_non_finite = false;
  // Local copies: the compiler cannot keep options' fields in registers
  // across the stores of a step (they might alias).
  const double min_step = options.min_step, max_step = options.max_step;
  const std::int64_t max_num_steps = options.max_num_steps;
  std::int64_t attempts = 0;

  std::size_t out = 1;
  while (out < ts.size()) {
    if (attempts >= max_num_steps) throw_max_steps(options, t, dt, sol.stats, ts[out]);
    ++attempts;
    if (!std::isfinite(dt)) dt = min_step;
    dt = std::clamp(dt, min_step, max_step);
    Time t1 = t + dt;
    if (!(t1 > t)) throw_step_underflow(t, dt, sol.stats, last_ratio, last_non_finite);

    const bool on_jump = clipping && clip.clip(t, dt, t1);

    nfe += st.step(t, dt, t1, y);
    double ratio = st.error_ratio(dt, y, options);
    bool accept = ratio <= 1.0 || dt <= min_step;
    last_non_finite = !std::isfinite(ratio);
    if (accept && !st.y1().allFinite()) {
      if (dt <= min_step) throw_non_finite_state<S>(t1, dt, t, st.y1().data(), rows, cols);
      accept = false;
      ratio = std::numeric_limits<double>::infinity();
      last_non_finite = true;
    }
    last_ratio = ratio;
    if (options.on_step) options.on_step({t, dt, ratio, accept});

    if (accept) {
      ++sol.stats.accepted;
      sol.stats.last_step = dt;
      if constexpr (requires { st.record_step(t, dt, t1, y, on_jump); }) st.record_step(t, dt, t1, y, on_jump);
      bool f1_known = fsal;
      if (ts[out] <= t1) {
        st.bind_dense(t, t1, y, fsal ? &st.k_last() : &f1, fsal, &nfe);
        while (out < ts.size() && ts[out] <= t1) {
          sol.ys.emplace_back(rows, cols);
          st.evaluate_dense(ts[out], sol.ys.back());
          ++out;
        }
        f1_known = st.finish_dense();
      }
      if constexpr (requires { st.stop_after(t, t1, y); })
        if (st.stop_after(t, t1, y)) break;
      if (out < ts.size()) {
        if (on_jump) {
          // f may jump at t1: restart from its value just after it.
          st.f(std::nextafter(t1, std::numeric_limits<Time>::infinity()), st.y1(), st.k0());
          ++nfe;
        } else if (fsal) {
          std::swap(st.k0(), st.k_last());
        } else if (f1_known) {
          std::swap(st.k0(), f1);
        } else {
          st.f(t1, st.y1(), st.k0());
          ++nfe;
        }
      }
      std::swap(y, st.y1());
      t = t1;
    } else {
      ++sol.stats.rejected;
    }
    dt = next_step_size(options, tableau.order, dt, ratio, accept, controller);
  }
  sol.stats.next_step = dt;
  return sol;
}

}  // namespace odeflow::detail
