// The adaptive loop (detail/adaptive_loop.hpp) with the run-time stepper:
// any tableau, Matrix<S> states, f behind Rhs<S>. Compiled once per scalar.
#include "integrators.hpp"

#include <odeflow/core/error.hpp>
#include <odeflow/solve/dense_output.hpp>
#include <odeflow/solve/detail/adaptive_loop.hpp>
#include <odeflow/solve/detail/step_recorder.hpp>
#include <odeflow/solve/rk_step.hpp>

#include <fmt/format.h>

#include <cmath>
#include <string>

namespace odeflow::detail {
namespace {

template <Scalar S>
std::string first_non_finite(const S* data, Eigen::Index rows, Eigen::Index cols) {
  for (Eigen::Index c = 0; c < cols; ++c)
    for (Eigen::Index r = 0; r < rows; ++r)
      if (const S v = data[c * rows + r]; !std::isfinite(v)) return fmt::format("component ({}, {}) = {}", r, c, v);
  return "no component";
}

// The Stepper of adaptive_loop for rk_step and DenseStep.
template <Scalar S>
class DynamicRk {
 public:
  using Scalar = S;
  using State = Matrix<S>;

  DynamicRk(const ButcherTableau& tableau, Rhs<S> f, Eigen::Index rows, Eigen::Index cols,
            StepRecorder<S>* recorder)
      : tableau_(tableau), f_(f), rows_(rows), cols_(cols), recorder_(recorder) {
    work_.resize(tableau, rows, cols);
  }

  const ButcherTableau& tableau() const { return tableau_; }
  State make_state() const { return State(rows_, cols_); }
  State to_state(const Matrix<S>& y) const { return y; }
  State& k0() { return work_.k[0]; }
  State& k_last() { return work_.k[static_cast<std::size_t>(tableau_.stages() - 1)]; }
  State& y1() { return work_.y1; }
  void f(Time t, const State& y, State& dy) { f_(t, y, dy); }

  double initial_step(Time t0, const State& y0, const Options& options) {
    State f1(rows_, cols_);
    return odeflow::initial_step<S>(f_, t0, y0, work_.k[0], tableau_.order, options, work_.stage, f1);
  }
  int step(Time t0, Time dt, Time t1, const State& y0) { return rk_step<S>(tableau_, f_, t0, dt, t1, y0, work_); }
  double error_ratio(Time dt, const State& y0, const Options& options) {
    return odeflow::error_ratio<S>(dt, y0, work_, options);
  }

  void bind_dense(Time t0, Time t1, const State& y0, State* f1, bool f1_known, std::int64_t* nfe) {
    dense_.bind(&tableau_, f_, t0, t1, &y0, &work_.y1, &work_, f1, f1_known, nfe);
  }
  void evaluate_dense(Time t, Matrix<S>& out) {
    dense_.evaluate(t, out);
    if (recorder_ != nullptr) recorder_->output(t, work_, false);
  }
  void record_step(Time t0, Time dt, Time t1, const State& y0, bool jump) {
    if (recorder_ != nullptr) recorder_->step(t0, dt, t1, y0, work_, jump);
  }
  bool finish_dense() const { return dense_.f1_known(); }

 private:
  const ButcherTableau& tableau_;
  Rhs<S> f_;
  Eigen::Index rows_, cols_;
  RkWork<S> work_;
  DenseStep<S> dense_;
  StepRecorder<S>* recorder_;
};

}  // namespace

template <Scalar S>
void throw_non_finite_f0(Time t0, const S* f0, Eigen::Index rows, Eigen::Index cols) {
  throw NonFiniteError(
      fmt::format("f(t0, y0) is not finite at t0 = {}: {}", t0, first_non_finite(f0, rows, cols)), t0, 0.0);
}

template <Scalar S>
void throw_non_finite_state(Time t1, double dt, Time t0, const S* y1, Eigen::Index rows, Eigen::Index cols) {
  throw NonFiniteError(fmt::format("non-finite state at t = {} with dt = min_step = {}: {}", t1, dt,
                                   first_non_finite(y1, rows, cols)),
                       t0, dt);
}

void throw_max_steps(const Options& options, Time t, double dt, const Stats& stats, Time next_out) {
  throw MaxStepsExceeded(fmt::format("max_num_steps = {} exceeded at t = {} (dt = {}, {} accepted, {} "
                                     "rejected); next output time {}",
                                     options.max_num_steps, t, dt, stats.accepted, stats.rejected, next_out),
                         t, dt);
}

void throw_step_underflow(Time t, double dt, const Stats& stats, double last_ratio, bool last_non_finite) {
  throw StepSizeUnderflow(
      fmt::format("step size underflow: dt = {} at t = {} after {} accepted and {} rejected steps "
                  "(last error ratio {}{}); the problem may be stiff or the solution may blow up",
                  dt, t, stats.accepted, stats.rejected, last_ratio,
                  last_non_finite ? ", the last attempt produced non-finite values" : ""),
      t, dt);
}

template <Scalar S>
Solution<S> integrate_adaptive_rk(Rhs<S> f, const Matrix<S>& y0, std::span<const Time> ts,
                                  const Options& options, const ButcherTableau& tableau,
                                  StepRecorder<S>* recorder) {
  DynamicRk<S> stepper(tableau, f, y0.rows(), y0.cols(), recorder);
  return adaptive_loop(stepper, y0, ts, options);
}

#define ODEFLOW_INSTANTIATE(S)                                                                       \
  template void throw_non_finite_f0<S>(Time, const S*, Eigen::Index, Eigen::Index);                  \
  template void throw_non_finite_state<S>(Time, double, Time, const S*, Eigen::Index, Eigen::Index); \
  template Solution<S> integrate_adaptive_rk<S>(Rhs<S>, const Matrix<S>&, std::span<const Time>,      \
                                                const Options&, const ButcherTableau&, StepRecorder<S>*);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::detail
