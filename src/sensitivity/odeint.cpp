// odeint as a recorded op: the forward solve, and its VJP by the three
// gradient methods of sensitivity/odeint.hpp.
#include "dynamics.hpp"
#include "solve/integrators.hpp"  // FixedGrid: a checkpoint replay retakes the fixed loop's grid

#include <odeflow/ad/ops.hpp>
#include <odeflow/core/error.hpp>
#include <odeflow/sensitivity/odeint.hpp>
#include <odeflow/solve/dense_output.hpp>
#include <odeflow/solve/controller.hpp>
#include <odeflow/solve/detail/adaptive_loop.hpp>
#include <odeflow/solve/detail/dense_kernels.hpp>
#include <odeflow/solve/detail/solve_checks.hpp>
#include <odeflow/solve/detail/step_recorder.hpp>
#include <odeflow/solve/odeint.hpp>
#include <odeflow/solve/registry.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <limits>
#include <optional>

namespace odeflow {
namespace detail {

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

namespace {

using MapS = Eigen::Index;

// The loop's time variable s and real time t: s = −t when ts decreases.
struct Direction {
  bool reversed = false;
  Time real(Time s) const { return reversed ? -s : s; }
};

// Linear weights of one dense output in terms of (y0, y1, k_0..k_{s+e-1}, f1):
// the interpolants are linear in these, so evaluating one on unit vectors
// gives them exactly as the forward pass combined them.
struct DenseWeights {
  double y0 = 0, y1 = 0, f1 = 0;
  double k[kMaxDenseStages] = {};
};

class DenseBasis {
 public:
  explicit DenseBasis(const ButcherTableau& tableau)
      : tableau_(tableau), total_(tableau.stages() + tableau.extra_stages()), basis_(3 + total_) {
    y0_ = Matrix<double>::Zero(1, basis_);
    y1_ = y0_;
    f1_ = y0_;
    out_ = y0_;
    y0_(0, 0) = 1.0;
    y1_(0, 1) = 1.0;
    f1_(0, 2) = 1.0;
    work_.resize(tableau, 1, basis_);
  }

  DenseWeights operator()(Time t0, Time t1, Time t, bool linear) {
    DenseWeights w;
    if (linear) {
      const double x = (t - t0) / (t1 - t0);
      w.y0 = 1.0 - x;
      w.y1 = x;
      return w;
    }
    for (int i = 0; i < total_; ++i) {
      work_.k[static_cast<std::size_t>(i)].setZero(1, basis_);
      work_.k[static_cast<std::size_t>(i)](0, 3 + i) = 1.0;
    }
    // Extra stages are evaluated by the interpolant in order: hand it their unit vectors.
    int next_extra = tableau_.stages();
    auto basis_rhs = [&](Time, const Matrix<double>&, Matrix<double>& dy) {
      dy.setZero(1, basis_);
      dy(0, 3 + next_extra++) = 1.0;
    };
    std::int64_t nfe = 0;
    dense_.bind(&tableau_, Rhs<double>(basis_rhs), t0, t1, &y0_, &y1_, &work_, &f1_, true, &nfe);
    dense_.evaluate(t, out_);
    w.y0 = out_(0, 0);
    w.y1 = out_(0, 1);
    w.f1 = out_(0, 2);
    for (int i = 0; i < total_; ++i) w.k[i] = out_(0, 3 + i);
    return w;
  }

 private:
  const ButcherTableau& tableau_;
  int total_;
  Eigen::Index basis_;
  Matrix<double> y0_, y1_, f1_, out_;
  RkWork<double> work_;
  DenseStep<double> dense_;
};

// The reverse sweep through recorded steps (kDirect, and kCheckpoint one
// segment at a time). Cotangents in the loop's time variable.
template <Scalar S>
class Sweep {
 public:
  Sweep(const OdeintRecord<S>& rec, ad::Tape<S>& tape, Direction dir, BackwardStats& stats)
      : rec_(rec), tape_(tape), dir_(dir), stats_(stats), tableau_(*rec.tableau), rows_(rec.y0.rows()),
        cols_(rec.y0.cols()), basis_(*rec.tableau), outputs_(rec.outputs()) {
    const int total = tableau_.stages() + tableau_.extra_stages();
    kbar_.assign(static_cast<std::size_t>(total), Matrix<S>(rows_, cols_));
    stage_ = Matrix<S>(rows_, cols_);
    stage_bar_ = Matrix<S>(rows_, cols_);
    pending_ = Matrix<S>::Zero(rows_, cols_);
    y0bar_ = Matrix<S>(rows_, cols_);
    f1bar_ = Matrix<S>(rows_, cols_);
  }

  // Graphs of the forward evaluations to use instead of evaluating f again.
  void use_graphs(GraphLog<S>* graphs) { graphs_ = graphs; }
  // Whether forward evaluation `id` (−1: none) still has its graph.
  bool kept(std::int32_t id) const { return graphs_ != nullptr && id >= 0 && id < released_; }

  // Cotangent of the loop's f (g(s, y) = −f(−s, y) when reversed) at (s, y).
  void g_vjp(Time s, const Eigen::Ref<const Matrix<S>>& y, const Matrix<S>& bar, Matrix<S>& y_bar) {
    ++stats_.nfe;
    if (!dir_.reversed) {
      rec_.dyn.vjp(tape_, s, y, bar, y_bar);
      return;
    }
    rec_.dyn.vjp(tape_, -s, y, -bar, y_bar);
  }

  // The same through the graph of forward evaluation `id` (−1: none, then as
  // above), which is released after: the sweep meets the evaluations in
  // reverse order, so the tape is rewound to before it.
  // y is only read when the graph is not kept.
  void g_vjp(std::int32_t id, Time s, const Eigen::Ref<const Matrix<S>>& y, const Matrix<S>& bar, Matrix<S>& y_bar) {
    if (graphs_ == nullptr) return g_vjp(s, y, bar, y_bar);
    if (!kept(id)) {
      ++stats_.recomputed_nfe;
      return g_vjp(s, y, bar, y_bar);
    }
    ++stats_.nfe;
    const typename Dynamics<S>::Recorded& r = graphs_->evals[static_cast<std::size_t>(id)];
    ad::Tape<S>& tape = *graphs_->tape;
    if (dir_.reversed) {
      neg_bar_ = -bar;
      rec_.dyn.vjp(tape, r, neg_bar_, y_bar);
    } else {
      rec_.dyn.vjp(tape, r, bar, y_bar);
    }
    tape.rewind(r.mark);
    released_ = id;
  }

  // Step `index` given its state y0, stages k (s + extras when used), its end
  // y1, and the output cotangents `g` (indexed like rec.outputs). ybar: in,
  // the cotangent of y1; out, that of y0.
  // evals: the forward evaluations of the stages (StageRecord::evals), or null.
  void step(std::size_t index, const StepMeta& m, const S* y0, const S* const* k, const S* y1, const Matrix<S>& y1m,
            std::span<const Matrix<S>> g, Matrix<S>& ybar, const std::int32_t* evals = nullptr) {
    auto eval_of = [evals](int stage) { return evals != nullptr ? evals[stage] : -1; };
    using Map = Eigen::Map<const Matrix<S>>;
    const int s = tableau_.stages();
    const int e = tableau_.extra_stages();
    const bool fsal = tableau_.fsal();
    for (Matrix<S>& kb : kbar_) kb.setZero();
    bool extras_used = false;
    bool f1_used = false;
    Matrix<S>& f1bar = f1bar_;
    Matrix<S>& y0bar = y0bar_;
    y0bar.setZero();
    if (fsal && pending_live_) {
      kbar_[static_cast<std::size_t>(s - 1)] += pending_;
      pending_live_ = false;
    }
    while (next_output_ > 0 && outputs_[next_output_ - 1].step == index) {
      --next_output_;
      const OutputMeta& o = outputs_[next_output_];
      const Matrix<S>& gk = g[next_output_];
      const DenseWeights w = basis_(m.t0, m.t1, o.t, o.linear);
      y0bar += static_cast<S>(w.y0) * gk;
      ybar += static_cast<S>(w.y1) * gk;
      for (int i = 0; i < s + e; ++i) {
        if (w.k[i] == 0.0) continue;
        kbar_[static_cast<std::size_t>(i)] += static_cast<S>(w.k[i]) * gk;
        if (i >= s) extras_used = true;
      }
      if (w.f1 != 0.0) {
        if (!f1_used) f1bar.setZero();
        f1_used = true;
        f1bar += static_cast<S>(w.f1) * gk;
      }
    }
    if (f1_used) {
      if (fsal) {
        kbar_[static_cast<std::size_t>(s - 1)] += f1bar;
      } else {
        g_vjp(-1, m.t1, y1m, f1bar, stage_bar_);  // f(t1, y1): its graph belongs to the next step
        ybar += stage_bar_;
      }
    }
    // y1 = y0 + dt·Σ b_i k_i.
    const S dt = static_cast<S>(m.dt);
    y0bar += ybar;
    for (int i = 0; i < s; ++i) {
      const double b = tableau_.b[static_cast<std::size_t>(i)];
      if (b != 0.0) kbar_[static_cast<std::size_t>(i)] += (static_cast<S>(b) * dt) * ybar;
    }
    // Extra dense stages: Y = y0 + (t1 − t0)·Σ_j extra_a[m][j] k_j.
    if (extras_used) {
      const S h = static_cast<S>(m.t1 - m.t0);
      for (int mm = e - 1; mm >= 0; --mm) {
        const int row = s + mm;
        const double* a = &tableau_.extra_a[static_cast<std::size_t>(mm * (s + e))];
        if (!kept(eval_of(row))) {
          stage_ = Map(y0, rows_, cols_);
          for (int j = 0; j < row; ++j)
            if (a[j] != 0.0) stage_ += (static_cast<S>(a[j]) * h) * Map(k[j], rows_, cols_);
        }
        g_vjp(eval_of(row), extra_stage_time(tableau_, mm, m.t0, m.t1), stage_, kbar_[static_cast<std::size_t>(row)],
              stage_bar_);
        y0bar += stage_bar_;
        for (int j = 0; j < row; ++j)
          if (a[j] != 0.0) kbar_[static_cast<std::size_t>(j)] += (static_cast<S>(a[j]) * h) * stage_bar_;
      }
    }
    for (int i = s - 1; i >= 1; --i) {
      if (!kept(eval_of(i))) {  // a kept graph has its own input
        stage_ = Map(y0, rows_, cols_);
        for (int j = 0; j < i; ++j) {
          const double a = tableau_.a_at(i, j);
          if (a != 0.0) stage_ += (static_cast<S>(a) * dt) * Map(k[j], rows_, cols_);
        }
      }
      g_vjp(eval_of(i), stage_time(m.t0, m.dt, m.t1, tableau_.c[static_cast<std::size_t>(i)]), stage_,
            kbar_[static_cast<std::size_t>(i)], stage_bar_);
      y0bar += stage_bar_;
      for (int j = 0; j < i; ++j) {
        const double a = tableau_.a_at(i, j);
        if (a != 0.0) kbar_[static_cast<std::size_t>(j)] += (static_cast<S>(a) * dt) * stage_bar_;
      }
    }
    if (m.k0_shared) {
      pending_ = kbar_[0];
      pending_live_ = true;
    } else {
      g_vjp(eval_of(0), m.k0_time, Map(y0, rows_, cols_), kbar_[0], stage_bar_);
      y0bar += stage_bar_;
    }
    ybar = y0bar;
    (void)y1;
    ++stats_.accepted;
  }

  void start(std::size_t outputs) { next_output_ = outputs; }

 private:
  const OdeintRecord<S>& rec_;
  ad::Tape<S>& tape_;
  Direction dir_;
  BackwardStats& stats_;
  const ButcherTableau& tableau_;
  Eigen::Index rows_, cols_;
  DenseBasis basis_;
  std::span<const OutputMeta> outputs_;
  std::vector<Matrix<S>> kbar_;
  Matrix<S> stage_, stage_bar_, pending_, y0bar_, f1bar_, neg_bar_;
  bool pending_live_ = false;
  GraphLog<S>* graphs_ = nullptr;
  std::int32_t released_ = std::numeric_limits<std::int32_t>::max();  // evaluations from here on are gone
  std::size_t next_output_ = 0;
};

// kDirect and kCheckpoint: y0bar from the output cotangents g[0..K-1]
// (g[0] belongs to ys[0] = y0 itself). Parameter gradients land in the
// redirected grads.
template <Scalar S>
Matrix<S> direct_vjp(OdeintRecord<S>& rec, ad::Tape<S>& tape, std::span<const Matrix<S>> g) {
  const StageRecord<S>& record = *rec.stages;
  const Direction dir{rec.ts.size() > 1 && rec.ts[1] < rec.ts[0]};
  const Eigen::Index rows = rec.y0.rows(), cols = rec.y0.cols(), n = rows * cols;
  const int s = rec.tableau->stages(), e = rec.tableau->extra_stages();
  Sweep<S> sweep(rec, tape, dir, rec.backward);
  // The graphs serve one backward pass (the sweep releases them as it goes).
  const std::unique_ptr<GraphLog<S>> graphs = std::move(rec.graphs);
  sweep.use_graphs(graphs.get());
  sweep.start(record.outputs().size());
  Matrix<S> ybar = Matrix<S>::Zero(rows, cols);
  const auto& steps = record.steps();
  std::vector<const S*> k(static_cast<std::size_t>(s + e));
  using Map = Eigen::Map<const Matrix<S>>;
  Matrix<S> y1m;
  for (std::size_t i = steps.size(); i-- > 0;) {
    const StepMeta& m = steps[i];
    const S* base = record.data(m.data);
    for (int j = 0; j < s; ++j) k[static_cast<std::size_t>(j)] = base + (j + 1) * n;
    for (int j = 0; j < e; ++j)
      k[static_cast<std::size_t>(s + j)] = m.extra == StepMeta::kNone ? nullptr : record.data(m.extra) + j * n;
    if (i + 1 < steps.size())
      y1m = Map(record.data(steps[i + 1].data), rows, cols);
    else
      y1m = record.y_end();
    // Output j ≥ 1 of the solve is record.outputs()[j − 1].
    sweep.step(i, m, base, k.data(), y1m.data(), y1m, g.subspan(1), ybar, graphs ? record.evals(i) : nullptr);
  }
  return ybar + g[0];
}

[[noreturn]] void throw_replay_diverged(Time t) {
  throw Error(fmt::format("odeint: the checkpoint replay diverged from the forward solve at t = {} "
                          "(an internal error: the forward loop's step control changed?)",
                          t));
}

// Re-runs accepted steps of the forward solve from a checkpoint, bit for
// bit: the same attempts, rejections and step sizes as solve/'s loops. It
// repeats their rules (detail/adaptive_loop.hpp's step bounds and
// acceptance; the fixed grid of integrate_fixed.cpp) with the same
// arithmetic and pieces (rk_step, error_ratio, next_step_size, StepClip for
// step_t/jump_t); should they
// drift apart, the state at the next checkpoint differs and the backward
// pass throws instead of returning a wrong gradient.
template <Scalar S>
class Replay {
 public:
  Replay(const CheckpointRecord<S>& record, Rhs<S> g, std::span<const Time> loop_ts, std::int64_t& nfe)
      : record_(record), tableau_(record.tableau()), g_(std::move(g)), nfe_(nfe) {
    const Matrix<S>& y_end = record.y_end();
    work_.resize(tableau_, y_end.rows(), y_end.cols());
    y_.resize(y_end.rows(), y_end.cols());
    const Options& o = record.loop_options();
    if (record.adaptive()) {
      clip_.emplace(o, loop_ts.front());
    } else {
      grid_.emplace(loop_ts, o);
    }
  }

  // Steps [cp.step, last) from the checkpoint's state y_cp; after each
  // accepted one, visit(index, meta, y0, work) (work: its stages and y1).
  template <class Visit>
  void run(const Checkpoint& cp, const S* y_cp, std::int64_t last, Visit&& visit) {
    const Options& o = record_.loop_options();
    const int s = tableau_.stages();
    y_ = Eigen::Map<const Matrix<S>>(y_cp, y_.rows(), y_.cols());
    t_ = cp.t0;
    FirstStage k0 = cp.k0;
    g_(k0.time, y_, work_.k[0]);
    ++nfe_;
    controller_ = cp.controller;
    double dt = cp.dt;
    if (clip_) clip_->rewind();
    std::int64_t attempts = 0;
    for (std::int64_t index = cp.step; index < last;) {
      Time t1 = cp.t1;
      on_jump_ = cp.jump;
      if (grid_) {
        t1 = (*grid_)[static_cast<std::size_t>(index) + 1];
        dt = t1 - t_;
      } else if (attempts > 0) {  // the first attempt is the checkpoint's step as taken
        if (attempts >= o.max_num_steps) throw_replay_diverged(t_);
        if (!std::isfinite(dt)) dt = o.min_step;
        dt = std::clamp(dt, o.min_step, o.max_step);
        t1 = t_ + dt;
        if (!(t1 > t_)) throw_replay_diverged(t_);
        on_jump_ = clip_->clip(t_, dt, t1);
      }
      ++attempts;
      nfe_ += rk_step<S>(tableau_, g_, t_, dt, t1, y_, work_);
      bool accept = true;
      double ratio = 0.0;
      if (!grid_) {
        ratio = error_ratio<S>(dt, y_, work_, o);
        accept = ratio <= 1.0 || dt <= o.min_step;
        if (accept && !work_.y1.allFinite()) {
          accept = false;
          ratio = std::numeric_limits<double>::infinity();
        }
        if (attempts == 1 && !accept) throw_replay_diverged(t_);
      }
      if (accept) {
        StepMeta m{.t0 = t_, .dt = dt, .t1 = t1, .k0_time = k0.time, .k0_shared = k0.shared};
        visit(index, m, y_, work_);
        k0 = first_stage_after(tableau_.fsal(), t_, dt, t1, on_jump_);
        if (++index < last) {
          if (k0.shared) {
            std::swap(work_.k[0], work_.k[static_cast<std::size_t>(s - 1)]);
          } else {
            g_(k0.time, work_.y1, work_.k[0]);
            ++nfe_;
          }
        }
        std::swap(y_, work_.y1);
        t_ = t1;
      }
      if (!grid_) dt = next_step_size(o, tableau_.order, dt, ratio, accept, controller_);
    }
  }

  // Inside visit: a checkpoint that restarts the replay at the step visited.
  Checkpoint here(std::int64_t index, const StepMeta& m) const {
    return {index, m.t0, m.dt, m.t1, on_jump_, {m.k0_time, m.k0_shared}, controller_};
  }

  // Where the last run ended.
  Time t() const { return t_; }
  const Matrix<S>& y() const { return y_; }

 private:
  const CheckpointRecord<S>& record_;
  const ButcherTableau& tableau_;
  Rhs<S> g_;
  std::int64_t& nfe_;
  RkWork<S> work_;
  Matrix<S> y_;
  Time t_ = 0;
  bool on_jump_ = false;         // the current attempt ends on a jump_t time
  ControllerState controller_;  // before the current attempt's step-size update
  std::optional<StepClip> clip_;  // adaptive
  std::optional<FixedGrid> grid_;
};

// kCheckpoint's backward pass: each segment between checkpoints, last
// first, is replayed forwards into a buffer of its steps' states and stages,
// then swept. With a budget (checkpoint_every = 0) a segment longer than the
// budget is not stored whole: its replay keeps checkpoints of its own, at
// most `budget` evenly spaced, and each part is treated the same way, last
// first (recursive checkpointing). The pass then holds at most `budget`
// states per level and one part of at most `budget` steps, for
// levels = log_budget(steps / budget) more replays of the solve.
template <Scalar S>
class CheckpointSweep {
 public:
  CheckpointSweep(OdeintRecord<S>& rec, ad::Tape<S>& tape)
      : rec_(rec),
        record_(*rec.checkpoints),
        tableau_(record_.tableau()),
        tape_(tape),
        dir_{rec.ts.size() > 1 && rec.ts[1] < rec.ts[0]},
        rows_(rec.y0.rows()),
        cols_(rec.y0.cols()),
        n_(static_cast<std::size_t>(rows_ * cols_)),
        per_(n_ * static_cast<std::size_t>(1 + tableau_.stages() + tableau_.extra_stages())),
        split_(rec.gradient.checkpoint_every > 0 ? 0 : std::max<std::int64_t>(rec.gradient.checkpoints, 2)),
        sweep_(rec, tape, dir_, rec.backward),
        eval_([this](Time si, const Matrix<S>& y, Matrix<S>& dy) {
          rec_.dyn.eval(tape_, dir_.real(si), y, dy);
          if (dir_.reversed) dy = -dy;
        }),
        loop_ts_(dir_.reversed ? negated_times(rec.ts) : rec.ts),
        replay_(record_, Rhs<S>(eval_), loop_ts_, rec.backward.recomputed_nfe),
        k_(static_cast<std::size_t>(tableau_.stages() + tableau_.extra_stages())) {}
  CheckpointSweep(const CheckpointSweep&) = delete;
  CheckpointSweep& operator=(const CheckpointSweep&) = delete;

  Matrix<S> run(std::span<const Matrix<S>> g) {
    const auto& checkpoints = record_.checkpoints();
    rec_.backward.checkpoints = static_cast<std::int64_t>(checkpoints.size());
    ybar_ = Matrix<S>::Zero(rows_, cols_);
    if (checkpoints.empty()) return ybar_ + g[0];
    g_ = g.subspan(1);
    sweep_.start(record_.outputs().size());
    std::int64_t longest = 0;  // sized once: no growth slack
    for (std::size_t c = 0; c < checkpoints.size(); ++c)
      longest = std::max(longest, end_step(c) - checkpoints[c].step);
    if (split_ > 0) longest = std::min(longest, split_);
    seg_.reserve(per_ * static_cast<std::size_t>(longest));
    metas_.reserve(static_cast<std::size_t>(longest));
    for (std::size_t c = checkpoints.size(); c-- > 0;) {
      const bool at_end = c + 1 == checkpoints.size();
      segment(checkpoints[c], record_.state(c), end_step(c), at_end ? record_.t_end() : checkpoints[c + 1].t0,
              at_end ? record_.y_end().data() : record_.state(c + 1), 0);
    }
    std::size_t bytes = seg_.capacity() * sizeof(S) + metas_.capacity() * sizeof(StepMeta);
    for (const Level& level : levels_)
      bytes += level.checkpoints.capacity() * sizeof(Checkpoint) + level.states.capacity() * sizeof(S);
    rec_.backward.segment_bytes = bytes;
    rec_.backward.checkpoint_levels = static_cast<std::int64_t>(levels_.size());
    return ybar_ + g[0];
  }

 private:
  using Map = Eigen::Map<const Matrix<S>>;

  // Checkpoints inside a segment, made by its replay.
  struct Level {
    std::vector<Checkpoint> checkpoints;
    std::vector<S> states;
  };

  std::int64_t end_step(std::size_t c) const {
    const auto& checkpoints = record_.checkpoints();
    return c + 1 < checkpoints.size() ? checkpoints[c + 1].step : record_.steps();
  }

  // Steps [cp.step, last) from y_cp; the replay must land on (t_next, y_next).
  void segment(const Checkpoint& cp, const S* y_cp, std::int64_t last, Time t_next, const S* y_next,
               std::size_t depth) {
    if (split_ == 0 || last - cp.step <= split_) return stored(cp, y_cp, last, t_next, y_next);
    const std::int64_t first = cp.step;
    const std::int64_t interval = (last - first + split_ - 1) / split_;
    if (levels_.size() == depth) {  // a deque: deeper levels do not move this one
      levels_.emplace_back();
      levels_.back().checkpoints.reserve(static_cast<std::size_t>(split_));
      levels_.back().states.reserve(n_ * static_cast<std::size_t>(split_));
    }
    Level& level = levels_[depth];
    level.checkpoints.clear();
    level.states.clear();
    replay_.run(cp, y_cp, last, [&](std::int64_t i, const StepMeta& m, const Matrix<S>& y, RkWork<S>&) {
      if ((i - first) % interval != 0) return;
      level.checkpoints.push_back(i == first ? cp : replay_.here(i, m));
      level.states.insert(level.states.end(), y.data(), y.data() + n_);
    });
    land(t_next, y_next);
    for (std::size_t c = level.checkpoints.size(); c-- > 0;) {
      const bool at_end = c + 1 == level.checkpoints.size();
      segment(level.checkpoints[c], level.states.data() + c * n_, at_end ? last : level.checkpoints[c + 1].step,
              at_end ? t_next : level.checkpoints[c + 1].t0, at_end ? y_next : level.states.data() + (c + 1) * n_,
              depth + 1);
    }
  }

  // The replay must land on the next checkpoint (or the solve's end) exactly.
  void land(Time t_next, const S* y_next) const {
    if (replay_.t() != t_next || !(replay_.y().array() == Map(y_next, rows_, cols_).array()).all())
      throw_replay_diverged(replay_.t());
  }

  // A segment replayed into a buffer of its steps, then swept.
  void stored(const Checkpoint& cp, const S* y_cp, std::int64_t last, Time t_next, const S* y_next) {
    const int s = tableau_.stages(), e = tableau_.extra_stages();
    const auto n = static_cast<Eigen::Index>(n_);
    const std::int64_t first = cp.step;
    const auto& outputs = record_.outputs();
    seg_.resize(per_ * static_cast<std::size_t>(last - first));
    metas_.resize(static_cast<std::size_t>(last - first));
    // Outputs are in step order: the first one at or after this segment.
    auto before = [](const OutputMeta& o, std::int64_t step) { return static_cast<std::int64_t>(o.step) < step; };
    auto next_out =
        static_cast<std::size_t>(std::lower_bound(outputs.begin(), outputs.end(), first, before) - outputs.begin());
    replay_.run(cp, y_cp, last, [&](std::int64_t i, const StepMeta& m, const Matrix<S>& y, RkWork<S>& work) {
      metas_[static_cast<std::size_t>(i - first)] = m;
      S* slot = seg_.data() + per_ * static_cast<std::size_t>(i - first);
      std::copy_n(y.data(), n, slot);
      for (int j = 0; j < s; ++j) std::copy_n(work.k[static_cast<std::size_t>(j)].data(), n, slot + (j + 1) * n);
      bool dense = false;  // an output inside the step through the method's interpolant
      for (; next_out < outputs.size() && before(outputs[next_out], i + 1); ++next_out) {
        const OutputMeta& o = outputs[next_out];
        dense = dense || (!o.linear && o.t != m.t0 && o.t != m.t1);
      }
      if (e == 0 || !dense) return;
      // Its extra stages, as the dense output evaluated them.
      const S h = static_cast<S>(m.t1 - m.t0);
      for (int mm = 0; mm < e; ++mm) {
        const int row = s + mm;
        linear_combination<S>(work.stage, y, &tableau_.extra_a[static_cast<std::size_t>(mm * (s + e))],
                              work.k.data(), row, h);
        Matrix<S>& k_row = work.k[static_cast<std::size_t>(row)];
        eval_(extra_stage_time(tableau_, mm, m.t0, m.t1), work.stage, k_row);
        ++rec_.backward.recomputed_nfe;
        std::copy_n(k_row.data(), n, slot + (1 + s + mm) * n);
      }
    });
    land(t_next, y_next);
    Matrix<S> y1m = replay_.y();  // end of the segment's last step
    for (std::int64_t i = last; i-- > first;) {
      const S* slot = seg_.data() + per_ * static_cast<std::size_t>(i - first);
      for (int j = 0; j < s + e; ++j) k_[static_cast<std::size_t>(j)] = slot + (j + 1) * n;
      if (i + 1 < last) y1m = Map(slot + per_, rows_, cols_);
      sweep_.step(static_cast<std::size_t>(i), metas_[static_cast<std::size_t>(i - first)], slot, k_.data(),
                  y1m.data(), y1m, g_, ybar_);
    }
  }

  OdeintRecord<S>& rec_;
  const CheckpointRecord<S>& record_;
  const ButcherTableau& tableau_;
  ad::Tape<S>& tape_;
  const Direction dir_;
  const Eigen::Index rows_, cols_;
  const std::size_t n_, per_;  // elements of a state; of a stored step (y0, stages, extras)
  const std::int64_t split_;   // budget of checkpoints inside a segment; 0: segments stored whole
  Sweep<S> sweep_;
  std::function<void(Time, const Matrix<S>&, Matrix<S>&)> eval_;  // the loop's f
  std::vector<Time> loop_ts_;
  Replay<S> replay_;
  std::span<const Matrix<S>> g_;  // cotangents of outputs 1..
  Matrix<S> ybar_;
  std::vector<const S*> k_;
  std::vector<S> seg_;          // per step of a stored segment: y0, stages, extras
  std::vector<StepMeta> metas_;  // and its times
  std::deque<Level> levels_;
};

template <Scalar S>
Matrix<S> checkpoint_vjp(OdeintRecord<S>& rec, ad::Tape<S>& tape, std::span<const Matrix<S>> g) {
  CheckpointSweep<S> sweep(rec, tape);
  return sweep.run(g);
}

// The augmented state of the adjoint: [y; a; a_θ] as one column.
template <Scalar S>
Options adjoint_options(const OdeintRecord<S>& rec, Eigen::Index n, Eigen::Index p) {
  const AdjointOptions& adj = rec.gradient.adjoint;
  Options o = rec.options;
  o.on_step = adj.on_step;
  if (!adj.method.empty()) o.method = adj.method;
  if (adj.rtol) o.rtol = *adj.rtol;
  if (adj.atol) o.atol = *adj.atol;
  o.controlled_rows = adj.seminorm ? 2 * n : 0;
  // Per-row tolerances of the state, laid out over [y; a; a_θ].
  const Eigen::Index rows = rec.y0.rows();
  for (Tolerance* tol : {&o.rtol, &o.atol}) {
    if (tol->is_scalar()) continue;
    Eigen::VectorXd v(2 * n + p);
    for (Eigen::Index i = 0; i < n; ++i) v[i] = v[n + i] = (*tol)[i % rows];
    if (p > 0) v.tail(p).setConstant(tol->values().minCoeff());
    *tol = Tolerance(v);
  }
  o.grid_points.clear();
  o.first_step = 0.0;
  return o;
}

template <Scalar S>
Matrix<S> adjoint_vjp(OdeintRecord<S>& rec, ad::Tape<S>& tape, GradRedirect<S>& redirect,
                      std::span<const Matrix<S>> g, std::vector<double>& t_bar, bool want_t) {
  const Eigen::Index rows = rec.y0.rows(), cols = rec.y0.cols(), n = rows * cols;
  const Eigen::Index p = rec.dyn.parameter_size();
  const std::size_t K = rec.ts.size();
  Options o = adjoint_options(rec, n, p);
  const MethodInfo& method = find_method(o.method);
  if (method.kind != MethodKind::kExplicitRk)
    throw InvalidArgument(fmt::format("odeint: the adjoint method '{}' is not an explicit Runge-Kutta method", o.method));
  using Map = Eigen::Map<Matrix<S>>;
  using CMap = Eigen::Map<const Matrix<S>>;
  // dz = [f, −(∂f/∂y)ᵀ a, −(∂f/∂θ)ᵀ a] written in place.
  auto aug = [&](Time t, const Matrix<S>& z, Matrix<S>& dz) {
    redirect.zero();
    Map dz_a(dz.data() + n, rows, cols);
    rec.dyn.vjp(tape, t, CMap(z.data(), rows, cols), CMap(z.data() + n, rows, cols), dz_a, dz.data());
    dz_a = -dz_a;
    Eigen::Index at = 2 * n;
    for (std::size_t i = 0; i < rec.dyn.params.size(); ++i) {
      const Matrix<S>& gp = redirect.grad(i);
      Map(dz.data() + at, gp.rows(), gp.cols()) = -gp;
      at += gp.size();
    }
  };
  Matrix<S> z = Matrix<S>::Zero(2 * n + p, 1);
  Map(z.data(), rows, cols) = rec.ys[K - 1];
  Map(z.data() + n, rows, cols) = g[K - 1];
  Matrix<S> f_out(rows, cols);
  auto time_grad = [&](std::size_t k, const Matrix<S>& a, double sign) {
    rec.dyn.eval(tape, rec.ts[k], rec.ys[k], f_out);
    ++rec.backward.nfe;
    t_bar[k] += sign * static_cast<double>((a.array() * f_out.array()).sum());
  };
  if (want_t) time_grad(K - 1, g[K - 1], 1.0);
  double carried = std::abs(rec.stats.last_step > 0 ? rec.stats.last_step : rec.stats.first_step);
  for (std::size_t k = K - 1; k-- > 0;) {
    o.first_step = method.adaptive && o.step_size == 0.0 ? carried : 0.0;
    const Time span_ts[2] = {rec.ts[k + 1], rec.ts[k]};
    Solution<S> seg = solve<S>(Rhs<S>(aug), z, std::span<const Time>(span_ts, 2), o);
    rec.backward.nfe += seg.stats.nfe;
    rec.backward.accepted += seg.stats.accepted;
    rec.backward.rejected += seg.stats.rejected;
    if (seg.stats.next_step > 0) carried = seg.stats.next_step;
    z.swap(seg.ys.back());
    Map(z.data(), rows, cols) = rec.ys[k];  // the forward solution is known: no drift
    if (k == 0) {
      if (want_t) time_grad(0, Matrix<S>(CMap(z.data() + n, rows, cols)), -1.0);
    } else if (want_t) {
      time_grad(k, g[k], 1.0);
    }
    Map(z.data() + n, rows, cols) += g[k];
  }
  // Parameter integrals into the redirected grads.
  redirect.zero();
  Eigen::Index at = 2 * n;
  for (std::size_t i = 0; i < rec.dyn.params.size(); ++i) {
    ad::Parameter<S>& prm = *rec.dyn.params[i];
    prm.grad = CMap(z.data() + at, prm.value.rows(), prm.value.cols());
    at += prm.value.size();
  }
  return Matrix<S>(CMap(z.data() + n, rows, cols));
}

template <Scalar S>
void odeint_vjp(ad::Tape<S>& tape, const ad::Node<S>& node, const ad::Tensor<S>& bar) {
  auto& rec = *static_cast<OdeintRecord<S>*>(tape.context(node));
  if (tape.recording())
    throw InvalidArgument("odeint: its gradient cannot be differentiated again (create_graph through a solve)");
  const Eigen::Index rows = rec.y0.rows(), cols = rec.y0.cols();
  const std::size_t K = rec.ts.size();
  std::vector<Matrix<S>> g(K);
  for (std::size_t k = 0; k < K; ++k) g[k] = bar.value().middleCols(static_cast<Eigen::Index>(k) * cols, cols);
  rec.backward = BackwardStats{};
  const bool want_t = rec.ts_in.defined() && rec.ts_in.requires_grad() && tape.wants(rec.ts_in);
  std::vector<double> t_bar(K, 0.0);
  Matrix<S> y0_bar;
  std::vector<Matrix<S>> param_bar(rec.dyn.params.size());
  {
    ScratchTape<S> scratch;
    GradRedirect<S> redirect(rec.dyn.params);
    if (K == 1) {
      y0_bar = g[0];
    } else if (rec.gradient.gradient == Gradient::kAdjoint) {
      y0_bar = adjoint_vjp<S>(rec, *scratch, redirect, g, t_bar, want_t);
    } else {
      y0_bar = rec.stages ? direct_vjp<S>(rec, *scratch, g) : checkpoint_vjp<S>(rec, *scratch, g);
      if (want_t) {
        // dL/dt_k = ḡ_k·f(t_k, y_k); dL/dt_0 = −a(t_0)·f(t_0, y_0).
        Matrix<S> f_out(rows, cols);
        for (std::size_t k = 0; k < K; ++k) {
          rec.dyn.eval(*scratch, rec.ts[k], rec.ys[k], f_out);
          ++rec.backward.nfe;
          const Matrix<S>& a = k == 0 ? Matrix<S>(y0_bar - g[0]) : g[k];
          t_bar[k] = (k == 0 ? -1.0 : 1.0) * static_cast<double>((a.array() * f_out.array()).sum());
        }
      }
    }
    for (std::size_t i = 0; i < rec.dyn.params.size(); ++i) param_bar[i] = redirect.grad(i);
  }
  if (rec.stages) rec.backward.stored_bytes = rec.stages->bytes();
  if (rec.checkpoints) rec.backward.stored_bytes = rec.checkpoints->bytes();
  if (rec.y0_in.defined() && tape.wants(rec.y0_in)) tape.accumulate(rec.y0_in, tape.constant(y0_bar, rec.y0_in.shape()));
  if (want_t) {
    Matrix<S> tb(rec.ts_in.rows(), rec.ts_in.cols());
    for (std::size_t k = 0; k < K; ++k) tb.data()[k] = static_cast<S>(t_bar[k]);
    tape.accumulate(rec.ts_in, tape.constant(tb));
  }
  for (std::size_t i = 0; i < rec.param_in.size(); ++i) {
    const ad::Tensor<S>& leaf = rec.param_in[i];
    if (!leaf.defined()) continue;
    if (Matrix<S>* target = tape.parameter_grad(leaf)) {
      *target += param_bar[i];
    } else if (tape.wants(leaf)) {
      tape.accumulate(leaf, tape.constant(param_bar[i]));
    }
  }
}

template <Scalar S>
std::vector<Time> times_of(const ad::Tensor<S>& ts) {
  if (!ts.defined()) throw InvalidArgument("odeint: ts is an undefined tensor");
  if (ts.rows() != 1 && ts.cols() != 1)
    throw ShapeError(fmt::format("odeint: ts is {}; it must be a K x 1 or 1 x K tensor of times", ts.shape_string()));
  std::vector<Time> out(static_cast<std::size_t>(ts.size()));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<Time>(ts.data()[i]);
  return out;
}

template <Scalar S>
Trajectory<S> run(TensorRhs<S> f, std::span<ad::Parameter<S>* const> params, const ad::Tensor<S>& y0,
                  std::vector<Time> ts, const ad::Tensor<S>& ts_in, const Options& options,
                  const GradientOptions& gradient) {
  if (!y0.defined()) throw InvalidArgument("odeint: y0 is an undefined tensor");
  if (!f) throw InvalidArgument("odeint: the dynamics are empty");
  ad::Tape<S>& tape = y0.tape();
  auto rec = std::make_shared<OdeintRecord<S>>();
  rec->dyn.f = std::move(f);
  rec->dyn.params.assign(params.begin(), params.end());
  rec->dyn.rows = y0.rows();
  rec->dyn.cols = y0.cols();
  rec->dyn.shape = y0.shape();
  rec->options = options;
  rec->gradient = gradient;
  rec->ts = std::move(ts);
  rec->y0 = y0.value();
  if (gradient.checkpoint_every < 0)
    throw InvalidArgument(fmt::format("odeint: checkpoint_every = {} must be non-negative", gradient.checkpoint_every));
  if (gradient.checkpoints < 1)
    throw InvalidArgument(fmt::format("odeint: checkpoints = {} must be at least 1", gradient.checkpoints));

  // Leaves for the parameters on the caller's tape, so the op's VJP can reach them.
  bool needs_grad = tape.recording() && (y0.requires_grad() || (ts_in.defined() && ts_in.requires_grad()));
  if (tape.recording()) {
    for (ad::Parameter<S>* p : rec->dyn.params) {
      if (p == nullptr) throw InvalidArgument("odeint: a parameter pointer is null");
      rec->param_in.push_back(tape.param(*p));
      needs_grad = needs_grad || rec->param_in.back().requires_grad();
    }
  }

  const Direction dir{rec->ts.size() > 1 && rec->ts[1] < rec->ts[0]};
  ScratchTape<S> scratch;
  auto rhs = [&](Time t, const Matrix<S>& y, Matrix<S>& dy) { rec->dyn.eval(*scratch, t, y, dy); };
  Solution<S> sol;
  const bool discrete = needs_grad && gradient.gradient != Gradient::kAdjoint && rec->ts.size() > 1;
  if (discrete) {
    const MethodInfo& method = find_method(options.method);
    if (method.kind != MethodKind::kExplicitRk) {
      throw InvalidArgument(fmt::format("odeint: gradient 'direct'/'checkpoint' needs an explicit Runge-Kutta method, "
                                        "not '{}'; use Gradient::kAdjoint",
                                        options.method));
    }
    rec->tableau = method.tableau;
    if (gradient.gradient == Gradient::kDirect) {
      rec->stages = std::make_unique<StageRecord<S>>(*method.tableau, y0.size());
      // Each evaluation keeps its graph, so that the sweep does not evaluate f again.
      rec->graphs = std::make_unique<GraphLog<S>>(dir.reversed);
      rec->stages->set_graphs(rec->graphs.get());
      auto record = [&](Time t, const Matrix<S>& y, Matrix<S>& dy) {
        GraphLog<S>& log = *rec->graphs;
        log.evals.push_back(rec->dyn.record(*log.tape, t, y, dy));
        log.written.push_back(dy.data());
      };
      sol = solve_recorded<S>(Rhs<S>(record), rec->y0, rec->ts, options, *rec->stages);
      const GraphLog<S>& log = *rec->graphs;
      rec->stages->graphs_done((*log.tape).bytes_in_use() + log.evals.capacity() * sizeof(log.evals[0]) +
                               log.written.capacity() * sizeof(log.written[0]));
    } else {
      // The loop solve_recorded runs (its dispatch) and the options it runs with.
      const bool adaptive = method.adaptive && options.step_size <= 0.0 && options.grid_points.empty();
      const std::int64_t every = gradient.checkpoint_every > 0 ? gradient.checkpoint_every : 1;
      const std::int64_t budget = gradient.checkpoint_every > 0 ? 0 : gradient.checkpoints;
      rec->checkpoints = std::make_unique<CheckpointRecord<S>>(
          *method.tableau, y0.rows(), y0.cols(), dir.reversed ? reversed_options(options) : options, adaptive,
          every, budget);
      sol = solve_recorded<S>(Rhs<S>(rhs), rec->y0, rec->ts, options, *rec->checkpoints);
      rec->checkpoints->finish();
    }
  } else {
    sol = solve<S>(Rhs<S>(rhs), rec->y0, rec->ts, options);
  }
  rec->stats = sol.stats;
  const Eigen::Index cols = y0.cols();
  ad::Tensor<S> ys = tape.make(y0.rows(), cols * static_cast<Eigen::Index>(sol.ys.size()), y0.shape());
  for (std::size_t k = 0; k < sol.ys.size(); ++k)
    tape.mutable_value(ys).middleCols(static_cast<Eigen::Index>(k) * cols, cols) = sol.ys[k];
  rec->ys = std::move(sol.ys);
  if (needs_grad) {
    rec->y0_in = y0;
    rec->ts_in = ts_in;
    ys = tape.record_custom(ys, odeint_vjp<S>, "odeint", {y0, ts_in, ad::Tensor<S>()}, rec);
  } else {
    rec->param_in.clear();
  }
  const std::size_t count = rec->ts.size();
  return Trajectory<S>(ys, count, cols, std::move(rec));
}

}  // namespace
}  // namespace detail

template <Scalar S>
ad::Tensor<S> Trajectory<S>::operator[](std::size_t k) const {
  if (k >= count_) throw InvalidArgument(fmt::format("Trajectory: output {} of {}", k, count_));
  return ad::slice_cols(ys, static_cast<Eigen::Index>(k) * batch_, batch_);
}

template <Scalar S>
const Stats& Trajectory<S>::stats() const {
  return record_->stats;
}

template <Scalar S>
const BackwardStats& Trajectory<S>::backward_stats() const {
  return record_->backward;
}

template <Scalar S>
Trajectory<S> odeint(TensorRhs<S> f, std::span<ad::Parameter<S>* const> params, const ad::Tensor<S>& y0,
                     const ad::Tensor<S>& ts, const Options& options, const GradientOptions& gradient) {
  return detail::run<S>(std::move(f), params, y0, detail::times_of(ts), ts, options, gradient);
}

template <Scalar S>
Trajectory<S> odeint(TensorRhs<S> f, std::span<ad::Parameter<S>* const> params, const ad::Tensor<S>& y0,
                     std::span<const Time> ts, const Options& options, const GradientOptions& gradient) {
  return detail::run<S>(std::move(f), params, y0, std::vector<Time>(ts.begin(), ts.end()), ad::Tensor<S>(), options,
                        gradient);
}

template <Scalar S>
Trajectory<S> odeint(nn::Module<S>& func, const ad::Tensor<S>& y0, const ad::Tensor<S>& ts, const Options& options,
                     const GradientOptions& gradient) {
  const std::vector<ad::Parameter<S>*> params = func.parameters();
  return odeint<S>([&func](const ad::Tensor<S>& t, const ad::Tensor<S>& y) { return func.forward(t, y); }, params, y0,
                   ts, options, gradient);
}

template <Scalar S>
Trajectory<S> odeint(nn::Module<S>& func, const ad::Tensor<S>& y0, std::span<const Time> ts, const Options& options,
                     const GradientOptions& gradient) {
  const std::vector<ad::Parameter<S>*> params = func.parameters();
  return odeint<S>([&func](const ad::Tensor<S>& t, const ad::Tensor<S>& y) { return func.forward(t, y); }, params, y0,
                   ts, options, gradient);
}

#define ODEFLOW_INSTANTIATE(S)                                                                                        \
  template class Trajectory<S>;                                                                                       \
  template Trajectory<S> odeint<S>(TensorRhs<S>, std::span<ad::Parameter<S>* const>, const ad::Tensor<S>&,            \
                                   const ad::Tensor<S>&, const Options&, const GradientOptions&);                     \
  template Trajectory<S> odeint<S>(TensorRhs<S>, std::span<ad::Parameter<S>* const>, const ad::Tensor<S>&,            \
                                   std::span<const Time>, const Options&, const GradientOptions&);                    \
  template Trajectory<S> odeint<S>(nn::Module<S>&, const ad::Tensor<S>&, const ad::Tensor<S>&, const Options&,        \
                                   const GradientOptions&);                                                           \
  template Trajectory<S> odeint<S>(nn::Module<S>&, const ad::Tensor<S>&, std::span<const Time>, const Options&,       \
                                   const GradientOptions&);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow
