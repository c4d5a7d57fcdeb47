// The forward pass of a differentiable odeint (internal): what the solve
// records for the gradient methods (kDirect's stages and graphs,
// kCheckpoint's checkpoints) and the record the op keeps for its VJP.
#pragma once

#include "dynamics.hpp"

#include <odeflow/ad/tensor.hpp>
#include <odeflow/core/stats.hpp>
#include <odeflow/sensitivity/odeint.hpp>
#include <odeflow/solve/controller.hpp>
#include <odeflow/solve/detail/step_recorder.hpp>
#include <odeflow/solve/options.hpp>
#include <odeflow/solve/rk_step.hpp>
#include <odeflow/solve/tableau.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace odeflow::detail {

// The loop's time variable s and real time t: s = −t when ts decreases.
struct Direction {
  bool reversed = false;
  Time real(Time s) const { return reversed ? -s : s; }
};

// One accepted step of the integration loop (in its time variable s: −t for
// decreasing ts).
struct StepMeta {
  Time t0 = 0, dt = 0, t1 = 0;
  Time k0_time = 0;  // where the step's first stage was evaluated
  bool k0_shared = false;  // k[0] is the previous step's last stage (FSAL)
  std::size_t data = kNone;   // offset of [y0, k_0..k_{s-1}] in the store (kNone: not stored)
  std::size_t extra = kNone;  // offset of the extra dense stages, when outputs needed them
  static constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
};

struct OutputMeta {
  std::size_t step = 0;
  Time t = 0;
  bool linear = false;
};

// Where a step's first stage k[0] comes from.
struct FirstStage {
  Time time = 0;        // where f was evaluated
  bool shared = false;  // the previous step's last stage (FSAL)
};

// The first stage of the step after [t0, t1], by the loops' rule: after a
// jump_t time f restarts just past it; FSAL reuses the last stage; otherwise
// f(t1, y1) (the dense output's f1 when it computed one: the same call).
inline FirstStage first_stage_after(bool fsal, Time t0, Time dt, Time t1, bool jump) {
  if (jump) return {std::nextafter(t1, std::numeric_limits<Time>::infinity()), false};
  if (fsal) return {stage_time(t0, dt, t1, 1.0), true};
  return {t1, false};
}

// kDirect's graphs: every evaluation of f in the forward solve recorded on
// a tape of its own, with the buffer it wrote. The loops move stages between
// buffers by swapping, so the last evaluation that wrote a stage's buffer
// computed it; its value is compared before the graph is used anyway.
template <Scalar S>
struct GraphLog {
  explicit GraphLog(bool negated) : negated(negated) {}

  // The evaluation that computed stage `k`, or −1 (the sweep then evaluates
  // f again).
  std::int32_t find(const Matrix<S>& k) const {
    constexpr std::size_t kWindow = 64;  // a step's stages are among the last evaluations
    for (std::size_t i = written.size(), seen = 0; i-- > 0 && seen < kWindow; ++seen) {
      if (written[i] != k.data()) continue;
      const auto out = evals[i].out.value().array();
      const bool same = negated ? (out == -k.array()).all() : (out == k.array()).all();
      return same ? static_cast<std::int32_t>(i) : -1;
    }
    return -1;
  }

  GraphTape<S> tape;
  std::vector<typename Dynamics<S>::Recorded> evals;
  std::vector<const S*> written;
  bool negated;  // the loop's stages are −f (decreasing ts)
};

// kDirect's record: every accepted step's state and stages, and which of
// the forward evaluations (GraphLog) computed each stage.
template <Scalar S>
class StageRecord final : public StepRecorder<S> {
 public:
  StageRecord(const ButcherTableau& tableau, Eigen::Index n) : tableau_(tableau), n_(n) {}

  // Maps stages to the log's evaluations during the forward solve (null: no graphs kept).
  void set_graphs(const GraphLog<S>* graphs) { graphs_ = graphs; }
  // The forward solve is over: the graphs hold `bytes` until the backward pass.
  void graphs_done(std::size_t bytes) {
    graphs_ = nullptr;
    graph_bytes_ = bytes;
  }

  void step(Time t0, Time dt, Time t1, const Matrix<S>& y0, const RkWork<S>& work, bool jump) override {
    const FirstStage k0 = steps_.empty() ? FirstStage{t0, false} : next_k0_;
    next_k0_ = first_stage_after(tableau_.fsal(), t0, dt, t1, jump);
    StepMeta m{.t0 = t0, .dt = dt, .t1 = t1, .k0_time = k0.time, .k0_shared = k0.shared};
    m.data = append(y0.data());
    for (int i = 0; i < tableau_.stages(); ++i) append(work.k[static_cast<std::size_t>(i)].data());
    steps_.push_back(m);
    y_end_ = work.y1;
    if (graphs_ == nullptr) return;
    for (int i = 0; i < tableau_.stages(); ++i) evals_.push_back(graphs_->find(work.k[static_cast<std::size_t>(i)]));
    evals_.insert(evals_.end(), static_cast<std::size_t>(tableau_.extra_stages()), -1);
  }

  void output(Time t, const RkWork<S>& work, bool linear) override {
    StepMeta& m = steps_.back();
    const int e = tableau_.extra_stages();
    if (!linear && e > 0 && m.extra == StepMeta::kNone && t != m.t0 && t != m.t1) {
      m.extra = append(work.k[static_cast<std::size_t>(tableau_.stages())].data());
      for (int i = 1; i < e; ++i) append(work.k[static_cast<std::size_t>(tableau_.stages() + i)].data());
      if (graphs_ != nullptr) {
        std::int32_t* ids = evals_.data() + (steps_.size() - 1) * static_cast<std::size_t>(tableau_.stages() + e);
        for (int i = 0; i < e; ++i)
          ids[tableau_.stages() + i] = graphs_->find(work.k[static_cast<std::size_t>(tableau_.stages() + i)]);
      }
    }
    outputs_.push_back({steps_.size() - 1, t, linear});
  }

  // The log's evaluations of step i's stages (s + extras; −1: none), or null.
  const std::int32_t* evals(std::size_t i) const {
    if (evals_.empty()) return nullptr;
    return evals_.data() + i * static_cast<std::size_t>(tableau_.stages() + tableau_.extra_stages());
  }

  const std::vector<StepMeta>& steps() const { return steps_; }
  const std::vector<OutputMeta>& outputs() const { return outputs_; }
  const S* data(std::size_t offset) const { return store_.data() + offset; }
  const Matrix<S>& y_end() const { return y_end_; }
  std::size_t bytes() const {
    return store_.capacity() * sizeof(S) + steps_.capacity() * sizeof(StepMeta) +
           outputs_.capacity() * sizeof(OutputMeta) + evals_.capacity() * sizeof(std::int32_t) + graph_bytes_;
  }

 private:
  std::size_t append(const S* x) {
    const std::size_t at = store_.size();
    store_.insert(store_.end(), x, x + n_);
    return at;
  }

  const ButcherTableau& tableau_;
  Eigen::Index n_;
  FirstStage next_k0_;
  std::vector<StepMeta> steps_;
  std::vector<OutputMeta> outputs_;
  std::vector<S> store_;
  Matrix<S> y_end_;
  const GraphLog<S>* graphs_ = nullptr;
  std::vector<std::int32_t> evals_;
  std::size_t graph_bytes_ = 0;
};

// What restarts the integration loop at an accepted step, bit for bit: the
// step as the loop took it, where its first stage came from, and the
// controller's memory before it (the PI controller's previous error ratio).
// The state itself is in CheckpointRecord's store.
struct Checkpoint {
  std::int64_t step = 0;  // index of the accepted step it starts
  Time t0 = 0, dt = 0, t1 = 0;
  bool jump = false;  // t1 is a jump_t time
  FirstStage k0;
  ControllerState controller;
};

// kCheckpoint's record: a Checkpoint and the state at every `every`-th
// accepted step, nothing per step. With a budget, at most `budget` are
// kept: when one more is due, every other one is dropped and `every`
// doubles. Memory: O(checkpoints × state) plus O(1) per output.
template <Scalar S>
class CheckpointRecord final : public StepRecorder<S> {
 public:
  // loop_options: the options the integration loop ran with (reversed for
  // decreasing ts); adaptive: whether it was the adaptive loop.
  CheckpointRecord(const ButcherTableau& tableau, Eigen::Index rows, Eigen::Index cols, Options loop_options,
                   bool adaptive, std::int64_t every, std::int64_t budget)
      : tableau_(tableau), rows_(rows), cols_(cols), options_(std::move(loop_options)), adaptive_(adaptive),
        every_(std::max<std::int64_t>(every, 1)), budget_(budget) {
    options_.on_step = nullptr;
    if (adaptive_) ratio_work_.resize(tableau, rows, cols);
  }

  void step(Time t0, Time dt, Time t1, const Matrix<S>& y0, const RkWork<S>& work, bool jump) override {
    const std::int64_t i = steps_++;
    const FirstStage k0 = i == 0 ? FirstStage{t0, false} : next_k0_;
    next_k0_ = first_stage_after(tableau_.fsal(), t0, dt, t1, jump);
    if (i % every_ == 0) keep({i, t0, dt, t1, jump, k0, {}}, y0);
    // A checkpoint at the next step needs the controller after this one.
    if (adaptive_ && (i + 1) % every_ == 0) controller_after(i, dt, y0, work);
    t_end_ = t1;
    y_end_ = work.y1;
  }

  void output(Time t, const RkWork<S>&, bool linear) override {
    outputs_.push_back({static_cast<std::size_t>(steps_ - 1), t, linear});
  }

  // The forward solve is over: drop its scratch.
  void finish() { ratio_work_ = RkWork<S>{}; }

  const ButcherTableau& tableau() const { return tableau_; }
  const Options& loop_options() const { return options_; }
  bool adaptive() const { return adaptive_; }
  std::int64_t steps() const { return steps_; }
  const std::vector<Checkpoint>& checkpoints() const { return checkpoints_; }
  const S* state(std::size_t c) const { return store_.data() + c * static_cast<std::size_t>(rows_ * cols_); }
  const std::vector<OutputMeta>& outputs() const { return outputs_; }
  Time t_end() const { return t_end_; }
  const Matrix<S>& y_end() const { return y_end_; }
  std::size_t bytes() const {
    return checkpoints_.capacity() * sizeof(Checkpoint) + store_.capacity() * sizeof(S) +
           outputs_.capacity() * sizeof(OutputMeta) + static_cast<std::size_t>(y_end_.size()) * sizeof(S);
  }

 private:
  void keep(Checkpoint c, const Matrix<S>& y0) {
    while (budget_ > 0 && static_cast<std::int64_t>(checkpoints_.size()) >= budget_) {
      thin();
      if (c.step % every_ != 0) return;
    }
    if (adaptive_ && c.step > 0) {
      // Unknown when the previous step's ratio was not finite (the loop then
      // kept an older one): this step stays inside the previous segment.
      if (controller_step_ != c.step - 1) return;
      c.controller = controller_;
    }
    checkpoints_.push_back(c);
    store_.insert(store_.end(), y0.data(), y0.data() + y0.size());
  }

  // Keeps the checkpoints at multiples of the doubled interval, in place.
  void thin() {
    every_ *= 2;
    const auto n = static_cast<std::size_t>(rows_ * cols_);
    std::size_t kept = 0;
    for (std::size_t c = 0; c < checkpoints_.size(); ++c) {
      if (checkpoints_[c].step % every_ != 0) continue;
      if (kept != c) {
        checkpoints_[kept] = checkpoints_[c];
        std::copy_n(store_.begin() + static_cast<std::ptrdiff_t>(c * n), n,
                    store_.begin() + static_cast<std::ptrdiff_t>(kept * n));
      }
      ++kept;
    }
    checkpoints_.resize(kept);
    store_.resize(kept * n);
  }

  // The loop's controller after accepting step i: its error ratio
  // recomputed (same arithmetic as the loop's) and fed to the controller.
  void controller_after(std::int64_t i, Time dt, const Matrix<S>& y0, const RkWork<S>& work) {
    for (int j = 0; j < tableau_.stages(); ++j)
      ratio_work_.k[static_cast<std::size_t>(j)] = work.k[static_cast<std::size_t>(j)];
    ratio_work_.y1 = work.y1;
    const double ratio = error_ratio<S>(dt, y0, ratio_work_, options_);
    if (!std::isfinite(ratio)) return;
    controller_ = ControllerState{};
    next_step_size(options_, tableau_.order, dt, ratio, true, controller_);
    controller_step_ = i;
  }

  const ButcherTableau& tableau_;
  Eigen::Index rows_, cols_;
  Options options_;
  bool adaptive_;
  std::int64_t every_;
  std::int64_t budget_;  // 0: no limit
  std::int64_t steps_ = 0;
  FirstStage next_k0_;
  RkWork<S> ratio_work_;
  ControllerState controller_;
  std::int64_t controller_step_ = -1;  // the step controller_ follows
  std::vector<Checkpoint> checkpoints_;
  std::vector<S> store_;  // their states, in order
  std::vector<OutputMeta> outputs_;
  Time t_end_ = 0;
  Matrix<S> y_end_;
};

template <Scalar S>
struct OdeintRecord {
  Dynamics<S> dyn;
  Options options;
  GradientOptions gradient;
  std::vector<Time> ts;
  Matrix<S> y0;
  std::vector<Matrix<S>> ys;  // forward outputs
  std::unique_ptr<StageRecord<S>> stages;            // kDirect
  std::unique_ptr<GraphLog<S>> graphs;               // kDirect: the stages' graphs, until the backward pass
  std::unique_ptr<CheckpointRecord<S>> checkpoints;  // kCheckpoint
  const ButcherTableau* tableau = nullptr;
  ad::Tensor<S> y0_in, ts_in;
  std::vector<ad::Tensor<S>> param_in;
  Stats stats;
  BackwardStats backward;

  std::span<const OutputMeta> outputs() const {
    if (stages) return stages->outputs();
    return checkpoints->outputs();
  }
};

}  // namespace odeflow::detail
