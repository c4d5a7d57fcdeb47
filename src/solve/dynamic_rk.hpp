// The run-time Runge–Kutta stepper of adaptive_loop (internal): any tableau,
// Matrix<S> states, f behind Rhs<S>. odeint's adaptive solves
// (integrate_adaptive.cpp) use it as is; odeint_event (event.cpp) adds its
// event search to it.
#pragma once

#include <odeflow/core/types.hpp>
#include <odeflow/solve/dense_output.hpp>
#include <odeflow/solve/detail/step_recorder.hpp>
#include <odeflow/solve/options.hpp>
#include <odeflow/solve/rhs.hpp>
#include <odeflow/solve/rk_step.hpp>
#include <odeflow/solve/tableau.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

namespace odeflow::detail {

// The buffers of one run-time RK solve: stages, dense output, the loop's
// state and f(t1, y1).
template <Scalar S>
struct RkBuffers {
  RkWork<S> work;
  DenseStep<S> dense;
  Matrix<S> y, f1;
};

// RkBuffers taken from this thread's spares for one solve and handed back
// after it. A training loop solves the same shapes again and again; buffers
// allocated afresh each time are fresh pages for a large state, because the
// allocator gives big blocks back to the system between solves (W2's
// adjoint spent a third of its time in page faults). A few spares are kept,
// preferring one of the requested size.
template <Scalar S>
class RkBuffersLease {
 public:
  explicit RkBuffersLease(Eigen::Index size);
  ~RkBuffersLease();
  RkBuffersLease(const RkBuffersLease&) = delete;
  RkBuffersLease& operator=(const RkBuffersLease&) = delete;

  RkBuffers<S>& operator*() const { return *buffers_; }

 private:
  std::unique_ptr<RkBuffers<S>> buffers_;
};

// The Stepper of adaptive_loop for rk_step and DenseStep. recorder: null, or
// told of every accepted step and dense output (gradients).
template <Scalar S>
class DynamicRk {
 public:
  using Scalar = S;
  using State = Matrix<S>;

  DynamicRk(const ButcherTableau& tableau, Rhs<S> f, Eigen::Index rows, Eigen::Index cols,
            StepRecorder<S>* recorder)
      : tableau_(tableau), f_(f), rows_(rows), cols_(cols), buffers_(rows * cols), work_((*buffers_).work),
        dense_((*buffers_).dense), recorder_(recorder) {
    work_.resize(tableau, rows, cols);
  }

  const ButcherTableau& tableau() const { return tableau_; }
  State make_state() const { return State(rows_, cols_); }
  State& load_state(const Matrix<S>& y0) {
    (*buffers_).y = y0;
    return (*buffers_).y;
  }
  State& f1_state() {
    (*buffers_).f1.resize(rows_, cols_);
    return (*buffers_).f1;
  }
  State& k0() { return work_.k[0]; }
  State& k_last() { return work_.k[static_cast<std::size_t>(tableau_.stages() - 1)]; }
  State& y1() { return work_.y1; }
  void f(Time t, const State& y, State& dy) { f_(t, y, dy); }

  // f1_state() is scratch here: the loop uses it only after the first step.
  double initial_step(Time t0, const State& y0, const Options& options) {
    return odeflow::initial_step<S>(f_, t0, y0, work_.k[0], tableau_.order, options, work_.stage, f1_state());
  }
  int step(Time t0, Time dt, Time t1, const State& y0) { return rk_step<S>(tableau_, f_, t0, dt, t1, y0, work_); }
  double error_ratio(Time dt, const State& y0, const Options& options) {
    return odeflow::error_ratio<S>(dt, y0, work_, options);
  }

  void bind_dense(Time t0, Time t1, const State& y0, State* f1, bool f1_known, std::int64_t* nfe) {
    dense_.bind(&tableau_, f_, t0, t1, &y0, &work_.y1, &work_, f1, f1_known, nfe);
    bound_ = {t0, t1};
  }
  void evaluate_dense(Time t, Matrix<S>& out) {
    dense_.evaluate(t, out);
    if (recorder_ != nullptr) recorder_->output(t, work_, false);
  }
  void record_step(Time t0, Time dt, Time t1, const State& y0, bool jump) {
    if (recorder_ != nullptr) recorder_->step(t0, dt, t1, y0, work_, jump);
  }
  bool finish_dense() const { return dense_.f1_known(); }

  // For a look inside the accepted step [t0, t1] from y0 after its outputs
  // (events): binds its dense output unless the loop bound it for an output.
  // f1: a buffer for f(t1, y1) (unused by FSAL methods); nfe counts its f.
  void ensure_dense(Time t0, Time t1, const State& y0, State* f1, std::int64_t* nfe) {
    if (bound_ && bound_->first == t0 && bound_->second == t1) return;
    const bool fsal = tableau_.fsal();
    bind_dense(t0, t1, y0, fsal ? &k_last() : f1, fsal, nfe);
  }
  // The bound dense output at t, not recorded: not an output of the solve.
  void probe_dense(Time t, Matrix<S>& out) { dense_.evaluate(t, out); }

 private:
  const ButcherTableau& tableau_;
  Rhs<S> f_;
  Eigen::Index rows_, cols_;
  RkBuffersLease<S> buffers_;
  RkWork<S>& work_;
  DenseStep<S>& dense_;
  std::optional<std::pair<Time, Time>> bound_;  // the step dense_ is bound to
  StepRecorder<S>* recorder_;
};

}  // namespace odeflow::detail
