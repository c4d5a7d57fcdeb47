// The reverse sweep through recorded steps (sweep.hpp), and kDirect's
// backward pass over StageRecord.
#include "sweep.hpp"
#include "vjps.hpp"

#include <odeflow/solve/rk_step.hpp>

#include <memory>
#include <utility>
#include <vector>

namespace odeflow::detail {

DenseBasis::DenseBasis(const ButcherTableau& tableau)
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

DenseWeights DenseBasis::operator()(Time t0, Time t1, Time t, bool linear) {
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

template <Scalar S>
void Sweep<S>::g_vjp(Time s, const Eigen::Ref<const Matrix<S>>& y, const Matrix<S>& bar, Matrix<S>& y_bar) {
  ++stats_.nfe;
  if (!dir_.reversed) {
    rec_.dyn.vjp(tape_, s, y, bar, y_bar);
    return;
  }
  rec_.dyn.vjp(tape_, -s, y, -bar, y_bar);
}

template <Scalar S>
void Sweep<S>::g_vjp(std::int32_t id, Time s, const Eigen::Ref<const Matrix<S>>& y, const Matrix<S>& bar,
                     Matrix<S>& y_bar) {
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

template <Scalar S>
void Sweep<S>::step(std::size_t index, const StepMeta& m, const S* y0, const S* const* k, const S* y1,
                    const Matrix<S>& y1m, std::span<const Matrix<S>> g, Matrix<S>& ybar,
                    const std::int32_t* evals) {
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

// kDirect (vjps.hpp): the sweep through every recorded step, last first.
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

#define ODEFLOW_INSTANTIATE(S) \
  template class Sweep<S>;     \
  template Matrix<S> direct_vjp<S>(OdeintRecord<S>&, ad::Tape<S>&, std::span<const Matrix<S>>);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::detail
