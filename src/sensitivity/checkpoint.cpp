// kCheckpoint's backward pass: replays of the forward solve from its
// checkpoints (recursively, under a budget), each segment then swept.
#include "records.hpp"
#include "sweep.hpp"
#include "vjps.hpp"
#include "solve/integrators.hpp"  // FixedGrid: a checkpoint replay retakes the fixed loop's grid

#include <odeflow/core/error.hpp>
#include <odeflow/solve/controller.hpp>
#include <odeflow/solve/detail/adaptive_loop.hpp>
#include <odeflow/solve/detail/dense_kernels.hpp>
#include <odeflow/solve/detail/solve_checks.hpp>
#include <odeflow/solve/rk_step.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

namespace odeflow::detail {
namespace {

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

}  // namespace

template <Scalar S>
Matrix<S> checkpoint_vjp(OdeintRecord<S>& rec, ad::Tape<S>& tape, std::span<const Matrix<S>> g) {
  CheckpointSweep<S> sweep(rec, tape);
  return sweep.run(g);
}

#define ODEFLOW_INSTANTIATE(S) \
  template Matrix<S> checkpoint_vjp<S>(OdeintRecord<S>&, ad::Tape<S>&, std::span<const Matrix<S>>);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::detail
