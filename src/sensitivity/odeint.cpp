// odeint as a recorded op: the forward solve, and its VJP by the three
// gradient methods of sensitivity/odeint.hpp.
#include "dynamics.hpp"

#include <odeflow/ad/ops.hpp>
#include <odeflow/core/error.hpp>
#include <odeflow/sensitivity/odeint.hpp>
#include <odeflow/solve/dense_output.hpp>
#include <odeflow/solve/detail/dense_kernels.hpp>
#include <odeflow/solve/detail/step_recorder.hpp>
#include <odeflow/solve/odeint.hpp>
#include <odeflow/solve/registry.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

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

// The forward pass's record of an explicit RK solve. kDirect keeps every
// step's state and stages; kCheckpoint keeps the state at the start of
// every `every`-th step (doubling `every` when more than 2·max_kept are
// held) and recomputes the rest.
template <Scalar S>
class SolveRecord final : public StepRecorder<S> {
 public:
  SolveRecord(const ButcherTableau& tableau, Eigen::Index n, bool keep_stages, std::int64_t every,
              std::int64_t max_kept)
      : tableau_(tableau), n_(n), keep_stages_(keep_stages), every_(std::max<std::int64_t>(every, 1)),
        max_kept_(max_kept) {}

  void step(Time t0, Time dt, Time t1, const Matrix<S>& y0, const RkWork<S>& work, bool jump) override {
    StepMeta m;
    m.t0 = t0;
    m.dt = dt;
    m.t1 = t1;
    if (steps_.empty()) {
      m.k0_time = t0;
    } else if (tableau_.fsal() && !last_jump_) {
      m.k0_shared = true;
      m.k0_time = stage_time(steps_.back().t0, steps_.back().dt, steps_.back().t1, 1.0);
    } else {
      m.k0_time = last_jump_ ? std::nextafter(t0, std::numeric_limits<Time>::infinity()) : t0;
    }
    last_jump_ = jump;
    const auto index = static_cast<std::int64_t>(steps_.size());
    if (keep_stages_) {
      m.data = append(y0.data());
      for (int i = 0; i < tableau_.stages(); ++i) append(work.k[static_cast<std::size_t>(i)].data());
    } else if (index % every_ == 0) {
      m.data = append(y0.data());
      ++kept_;
    }
    steps_.push_back(m);
    y_end_ = work.y1;
    if (!keep_stages_ && kept_ > 2 * max_kept_) thin();
  }

  void output(Time t, const RkWork<S>& work, bool linear) override {
    const std::size_t step = steps_.size() - 1;
    StepMeta& m = steps_.back();
    const int e = tableau_.extra_stages();
    if (keep_stages_ && !linear && e > 0 && m.extra == StepMeta::kNone && t != m.t0 && t != m.t1) {
      m.extra = append(work.k[static_cast<std::size_t>(tableau_.stages())].data());
      for (int i = 1; i < e; ++i) append(work.k[static_cast<std::size_t>(tableau_.stages() + i)].data());
    }
    outputs_.push_back({step, t, linear});
  }

  const ButcherTableau& tableau() const { return tableau_; }
  const std::vector<StepMeta>& steps() const { return steps_; }
  const std::vector<OutputMeta>& outputs() const { return outputs_; }
  const S* data(std::size_t offset) const { return store_.data() + offset; }
  const Matrix<S>& y_end() const { return y_end_; }
  std::size_t bytes() const { return store_.capacity() * sizeof(S) + steps_.capacity() * sizeof(StepMeta); }

 private:
  std::size_t append(const S* x) {
    const std::size_t at = store_.size();
    store_.insert(store_.end(), x, x + n_);
    return at;
  }

  // Keeps every other stored state: memory stays within 2·max_kept states.
  void thin() {
    every_ *= 2;
    std::vector<S> kept;
    kept.reserve(store_.size() / 2 + static_cast<std::size_t>(n_));
    kept_ = 0;
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      StepMeta& m = steps_[i];
      if (m.data == StepMeta::kNone) continue;
      if (static_cast<std::int64_t>(i) % every_ != 0) {
        m.data = StepMeta::kNone;
        continue;
      }
      const std::size_t at = kept.size();
      kept.insert(kept.end(), store_.begin() + static_cast<std::ptrdiff_t>(m.data),
                  store_.begin() + static_cast<std::ptrdiff_t>(m.data) + n_);
      m.data = at;
      ++kept_;
    }
    store_.swap(kept);
  }

  const ButcherTableau& tableau_;
  Eigen::Index n_;
  bool keep_stages_;
  std::int64_t every_;
  std::int64_t max_kept_;
  std::int64_t kept_ = 0;
  bool last_jump_ = false;
  std::vector<StepMeta> steps_;
  std::vector<OutputMeta> outputs_;
  std::vector<S> store_;
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
  std::unique_ptr<SolveRecord<S>> record;
  const ButcherTableau* tableau = nullptr;
  ad::Tensor<S> y0_in, ts_in;
  std::vector<ad::Tensor<S>> param_in;
  Stats stats;
  BackwardStats backward;
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
        cols_(rec.y0.cols()), basis_(*rec.tableau) {
    const int total = tableau_.stages() + tableau_.extra_stages();
    kbar_.assign(static_cast<std::size_t>(total), Matrix<S>(rows_, cols_));
    stage_ = Matrix<S>(rows_, cols_);
    stage_bar_ = Matrix<S>(rows_, cols_);
    pending_ = Matrix<S>::Zero(rows_, cols_);
    y0bar_ = Matrix<S>(rows_, cols_);
    f1bar_ = Matrix<S>(rows_, cols_);
  }

  // Cotangent of the loop's f (g(s, y) = −f(−s, y) when reversed) at (s, y).
  void g_vjp(Time s, const Eigen::Ref<const Matrix<S>>& y, const Matrix<S>& bar, Matrix<S>& y_bar) {
    ++stats_.nfe;
    if (!dir_.reversed) {
      rec_.dyn.vjp(tape_, s, y, bar, y_bar);
      return;
    }
    rec_.dyn.vjp(tape_, -s, y, -bar, y_bar);
  }

  // Step `index` given its state y0, stages k (s + extras when used), its end
  // y1, and the output cotangents `g` (indexed like rec.outputs). ybar: in,
  // the cotangent of y1; out, that of y0.
  void step(std::size_t index, const StepMeta& m, const S* y0, const S* const* k, const S* y1, const Matrix<S>& y1m,
            std::span<const Matrix<S>> g, Matrix<S>& ybar) {
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
    const auto& outputs = rec_.record->outputs();
    while (next_output_ > 0 && outputs[next_output_ - 1].step == index) {
      --next_output_;
      const OutputMeta& o = outputs[next_output_];
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
        g_vjp(m.t1, y1m, f1bar, stage_bar_);
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
        stage_ = Map(y0, rows_, cols_);
        for (int j = 0; j < row; ++j)
          if (a[j] != 0.0) stage_ += (static_cast<S>(a[j]) * h) * Map(k[j], rows_, cols_);
        g_vjp(extra_stage_time(tableau_, mm, m.t0, m.t1), stage_, kbar_[static_cast<std::size_t>(row)], stage_bar_);
        y0bar += stage_bar_;
        for (int j = 0; j < row; ++j)
          if (a[j] != 0.0) kbar_[static_cast<std::size_t>(j)] += (static_cast<S>(a[j]) * h) * stage_bar_;
      }
    }
    for (int i = s - 1; i >= 1; --i) {
      stage_ = Map(y0, rows_, cols_);
      for (int j = 0; j < i; ++j) {
        const double a = tableau_.a_at(i, j);
        if (a != 0.0) stage_ += (static_cast<S>(a) * dt) * Map(k[j], rows_, cols_);
      }
      g_vjp(stage_time(m.t0, m.dt, m.t1, tableau_.c[static_cast<std::size_t>(i)]), stage_,
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
      g_vjp(m.k0_time, Map(y0, rows_, cols_), kbar_[0], stage_bar_);
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
  std::vector<Matrix<S>> kbar_;
  Matrix<S> stage_, stage_bar_, pending_, y0bar_, f1bar_;
  bool pending_live_ = false;
  std::size_t next_output_ = 0;
};

// kDirect and kCheckpoint: y0bar from the output cotangents g[0..K-1]
// (g[0] belongs to ys[0] = y0 itself). Parameter gradients land in the
// redirected grads.
template <Scalar S>
Matrix<S> discrete_vjp(OdeintRecord<S>& rec, ad::Tape<S>& tape, std::span<const Matrix<S>> g) {
  const SolveRecord<S>& record = *rec.record;
  const ButcherTableau& tableau = record.tableau();
  const Direction dir{rec.ts.size() > 1 && rec.ts[1] < rec.ts[0]};
  const Eigen::Index rows = rec.y0.rows(), cols = rec.y0.cols(), n = rows * cols;
  const int s = tableau.stages(), e = tableau.extra_stages();
  Sweep<S> sweep(rec, tape, dir, rec.backward);
  // Output j ≥ 1 of the solve is record.outputs()[j − 1].
  std::span<const Matrix<S>> later = g.subspan(1);
  sweep.start(record.outputs().size());
  Matrix<S> ybar = Matrix<S>::Zero(rows, cols);
  const auto& steps = record.steps();
  std::vector<const S*> k(static_cast<std::size_t>(s + e));
  auto g_eval = [&](Time si, const Matrix<S>& y, Matrix<S>& dy) {
    rec.dyn.eval(tape, dir.real(si), y, dy);
    if (dir.reversed) dy = -dy;
  };
  using Map = Eigen::Map<const Matrix<S>>;

  if (record.steps().empty()) return ybar + g[0];
  const bool stored = steps.front().data != StepMeta::kNone && rec.gradient.gradient == Gradient::kDirect;
  if (stored) {
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
      sweep.step(i, m, base, k.data(), y1m.data(), y1m, later, ybar);
    }
    return ybar + g[0];
  }

  // kCheckpoint: segments between stored states, recomputed forwards.
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < steps.size(); ++i)
    if (steps[i].data != StepMeta::kNone) starts.push_back(i);
  RkWork<S> work;
  work.resize(tableau, rows, cols);
  Matrix<S> y(rows, cols);
  std::vector<S> seg;  // per step: y0, stages, extras
  const Eigen::Index per = n * (1 + s + e);
  for (std::size_t c = starts.size(); c-- > 0;) {
    const std::size_t first = starts[c];
    const std::size_t last = c + 1 < starts.size() ? starts[c + 1] : steps.size();
    seg.assign(static_cast<std::size_t>(per) * (last - first), S(0));
    y = Map(record.data(steps[first].data), rows, cols);
    for (std::size_t i = first; i < last; ++i) {
      const StepMeta& m = steps[i];
      S* slot = seg.data() + static_cast<std::size_t>(per) * (i - first);
      Eigen::Map<Matrix<S>>(slot, rows, cols) = y;
      if (i == first || !m.k0_shared) {
        g_eval(m.k0_time, y, work.k[0]);
        ++rec.backward.recomputed_nfe;
      } else {
        std::swap(work.k[0], work.k[static_cast<std::size_t>(s - 1)]);
      }
      const Rhs<S> rhs(g_eval);
      rec.backward.recomputed_nfe += rk_step<S>(tableau, rhs, m.t0, m.dt, m.t1, y, work);
      for (int j = 0; j < s; ++j)
        Eigen::Map<Matrix<S>>(slot + (j + 1) * n, rows, cols) = work.k[static_cast<std::size_t>(j)];
      const bool has_output = std::any_of(record.outputs().begin(), record.outputs().end(),
                                          [&](const OutputMeta& o) { return o.step == i && !o.linear; });
      if (e > 0 && has_output) {
        const S h = static_cast<S>(m.t1 - m.t0);
        for (int mm = 0; mm < e; ++mm) {
          const int row = s + mm;
          linear_combination<S>(work.stage, y, &tableau.extra_a[static_cast<std::size_t>(mm * (s + e))],
                                work.k.data(), row, h);
          g_eval(extra_stage_time(tableau, mm, m.t0, m.t1), work.stage, work.k[static_cast<std::size_t>(row)]);
          ++rec.backward.recomputed_nfe;
          Eigen::Map<Matrix<S>>(slot + (1 + s + mm) * n, rows, cols) = work.k[static_cast<std::size_t>(row)];
        }
      }
      y = work.y1;
    }
    rec.backward.stored_bytes = std::max(rec.backward.stored_bytes, record.bytes() + seg.size() * sizeof(S));
    Matrix<S> y1m = y;  // end of the segment's last step
    for (std::size_t i = last; i-- > first;) {
      const StepMeta& m = steps[i];
      const S* slot = seg.data() + static_cast<std::size_t>(per) * (i - first);
      for (int j = 0; j < s + e; ++j) k[static_cast<std::size_t>(j)] = slot + (j + 1) * n;
      if (i + 1 < last) y1m = Map(seg.data() + static_cast<std::size_t>(per) * (i + 1 - first), rows, cols);
      sweep.step(i, m, slot, k.data(), y1m.data(), y1m, later, ybar);
    }
  }
  return ybar + g[0];
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
  Matrix<S> a_bar(rows, cols);
  auto aug = [&](Time t, const Matrix<S>& z, Matrix<S>& dz) {
    redirect.zero();
    Matrix<S> dy(rows, cols);
    rec.dyn.vjp(tape, t, CMap(z.data(), rows, cols), CMap(z.data() + n, rows, cols), a_bar, &dy);
    Map(dz.data(), rows, cols) = dy;
    Map(dz.data() + n, rows, cols) = -a_bar;
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
    const Solution<S> seg = solve<S>(Rhs<S>(aug), z, std::span<const Time>(span_ts, 2), o);
    rec.backward.nfe += seg.stats.nfe;
    rec.backward.accepted += seg.stats.accepted;
    rec.backward.rejected += seg.stats.rejected;
    if (seg.stats.next_step > 0) carried = seg.stats.next_step;
    z = seg.ys.back();
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
      y0_bar = discrete_vjp<S>(rec, *scratch, g);
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
  if (rec.record) rec.backward.stored_bytes = std::max(rec.backward.stored_bytes, rec.record->bytes());
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
    const bool direct = gradient.gradient == Gradient::kDirect;
    const std::int64_t every = gradient.checkpoint_every > 0 ? gradient.checkpoint_every : 1;
    const std::int64_t kept = gradient.checkpoint_every > 0 ? std::numeric_limits<std::int64_t>::max() / 4
                                                            : gradient.checkpoints;
    rec->record = std::make_unique<SolveRecord<S>>(*method.tableau, y0.size(), direct, every, kept);
    sol = solve_recorded<S>(Rhs<S>(rhs), rec->y0, rec->ts, options, *rec->record);
  } else {
    sol = solve<S>(Rhs<S>(rhs), rec->y0, rec->ts, options);
  }
  (void)dir;
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
