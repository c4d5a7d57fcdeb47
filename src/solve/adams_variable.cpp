// Adaptive variable-step, variable-order Adams PECE in modified divided
// differences (Krogh; Shampine & Gordon's DE/STEP; Hairer, Nørsett & Wanner I,
// Sec. III.5). Contract in include/odeflow/solve/adams.hpp.
//
// Notation (steps x_n → x_{n+1} = x_n + h, order k):
//   ψ_i   = x_{n+1} − x_{n+1−i} (psi_), ψ_i(n) the same one step earlier (psi_old_)
//   Φ_j   = Π_{i≤j} ψ_i(n)·f[x_n, …, x_{n−j}] (phi_[j]), Φ*_j = β_j·Φ_j with
//           β_j = Π_{i≤j} ψ_i/ψ_i(n)
//   g_j   = (1/h)∫_{x_n}^{x_{n+1}} Π_{i<j} (t − x_{n−i})/ψ_{i+1} dt
//   predictor  p = y_n + h·Σ_{j<k} g_j Φ*_j,   e = f(x_{n+1}, p) − Σ_{j<k} Φ*_j  (= Φ_k at n+1)
//   corrector  y_{n+1} = p + h·g_{k−1}·e  (implicit Adams of order k)
//   error      h·(g_k − g_{k−1})·‖e‖, the difference to the order-k+1 corrector
#include "integrators.hpp"

#include <odeflow/core/error.hpp>
#include <odeflow/solve/adams.hpp>
#include <odeflow/solve/rk_step.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace odeflow::detail {
namespace {

constexpr int kSize = kAdamsMaxOrder + 3;  // indices 0..k+2
using Coef = std::array<double, kSize>;

// Sorted times strictly after t0.
std::vector<Time> times_after(const std::vector<Time>& times, Time t0) {
  std::vector<Time> out;
  for (Time t : times)
    if (t > t0) out.push_back(t);
  std::sort(out.begin(), out.end());
  return out;
}

// Estimated local errors of one attempted step (scaled norms).
struct Estimate {
  double err = 0.0;    // of the order-k corrector, with the variable coefficients
  double erk = 0.0;    // at orders k, k−1, k−2 (constant-step constants scaled by σ)
  double erkm1 = 0.0;
  double erkm2 = 0.0;
  int knew = 0;        // k − 1 when the lower orders look better
};

template <Scalar S>
class VariableAdams {
 public:
  VariableAdams(Rhs<S> f, std::span<const Time> ts, const Options& options, Solution<S>& sol)
      : f_(f), ts_(ts), options_(options), sol_(sol),
        kmax_(options.max_order > 0 ? options.max_order : kAdamsMaxOrder),
        step_t_(times_after(options.step_t, ts.front())), jump_t_(times_after(options.jump_t, ts.front())) {}

  void run(const Matrix<S>& y0);

 private:
  void evaluate(Time t, const Matrix<S>& y, Matrix<S>& dy) {
    f_(t, y, dy);
    ++sol_.stats.nfe;
  }
  double start(const Matrix<S>& y0);
  void restart(double h);
  double limit_step(double h, bool& on_jump);
  bool attempt(double h, Time t1, Estimate& est);
  void coefficients(double h);
  bool predict_evaluate(double h, Time t1, Estimate& est);
  void commit(double h);
  void emit();
  double after_accept(const Estimate& est, double h);
  double after_reject(const Estimate& est, double h, bool finite);
  double norm(const Matrix<S>& x) const { return scaled_norm<S>(x, y_, options_); }
  [[noreturn]] void underflow(double h) const;

  Rhs<S> f_;
  std::span<const Time> ts_;
  const Options& options_;
  Solution<S>& sol_;
  int kmax_;
  std::vector<Time> step_t_, jump_t_;
  std::size_t out_ = 1, next_stop_ = 0, next_jump_ = 0;

  Time t_ = 0.0;                // x_n
  int k_ = 1;                   // order of the next attempt
  int kold_ = 0;                // order of the last accepted step
  int ns_ = 0;                  // steps taken with the current step size (≤ kold + 1)
  int ifail_ = 0;               // consecutive rejections
  bool phase1_ = true;          // start-up: raise the order and double h every step
  double hold_ = 0.0;           // last accepted step
  double last_err_ = 0.0;
  bool last_non_finite_ = false;
  Coef psi_{}, psi_old_{}, alpha_{}, beta_{}, sigma_{}, g_{}, gb_{};
  std::vector<Matrix<S>> phi_;  // Φ_0..Φ_{kmax+1} at x_n
  Matrix<S> y_, p_, fp_, e_, v_, y1_, f1_;
};

template <Scalar S>
void VariableAdams<S>::restart(double h) {
  // One point of history: Φ_0 = f_n, higher differences 0; ψ(n) = i·h stands
  // in for the missing past (it only ever multiplies zero differences).
  for (std::size_t j = 1; j < phi_.size(); ++j) phi_[j].setZero();
  for (std::size_t i = 0; i < psi_old_.size(); ++i) psi_old_[i] = static_cast<double>(i) * h;
  k_ = 1;
  kold_ = 0;
  ns_ = 0;
  ifail_ = 0;
  phase1_ = true;
  hold_ = 0.0;
}

// ψ, α = h/ψ, β, σ and g for a step of size h at order k_.
template <Scalar S>
void VariableAdams<S>::coefficients(double h) {
  const auto k = static_cast<std::size_t>(k_);
  psi_[1] = h;
  for (std::size_t i = 2; i < psi_.size(); ++i) psi_[i] = psi_old_[i - 1] + h;
  if (ns_ > k_) {
    // The last k+1 steps all had size h: ψ_i = i·h, so β = σ = 1 and g_j = γ_j.
    for (std::size_t j = 0; j <= k; ++j) {
      beta_[j] = 1.0;
      sigma_[j + 1] = 1.0;
      g_[j] = gb_[j] = adams_bashforth_gamma(static_cast<int>(j));
    }
    sigma_[k + 2] = 1.0;
    return;
  }
  beta_[0] = 1.0;
  sigma_[1] = 1.0;
  for (std::size_t i = 1; i <= k + 1; ++i) {
    alpha_[i] = h / psi_[i];
    if (i <= k) beta_[i] = beta_[i - 1] * psi_[i] / psi_old_[i];
    sigma_[i + 1] = sigma_[i] * static_cast<double>(i) * alpha_[i];
  }
  // g_j = c_{j,1}: c_{0,q} = 1/q, c_{j,q} = c_{j−1,q} − α_j·c_{j−1,q+1} (HNW I, III.5, Lemma 5.1).
  Coef c{};
  for (std::size_t q = 1; q <= k + 1; ++q) c[q] = 1.0 / static_cast<double>(q);
  g_[0] = 1.0;
  for (std::size_t j = 1; j <= k; ++j) {
    for (std::size_t q = 1; q <= k + 1 - j; ++q) c[q] -= alpha_[j] * c[q + 1];
    g_[j] = c[1];
  }
  for (std::size_t j = 0; j < k; ++j) gb_[j] = g_[j] * beta_[j];
}

// P and E: p_, fp_ = f(t1, p_) (t1 = x_n + h, or just before it at a jump),
// e_ = Φ_k(n+1) from fp_, and the error estimates. Returns whether they are finite.
template <Scalar S>
bool VariableAdams<S>::predict_evaluate(double h, Time t1, Estimate& est) {
  const int k = k_;
  coefficients(h);
  linear_combination<S>(p_, y_, gb_.data(), phi_.data(), k, static_cast<S>(h));
  evaluate(t1, p_, fp_);
  // Σ_{j<k} β_j Φ_j is f extrapolated to x_{n+1}; e is the predicted f's departure from it.
  linear_combination<S>(e_, phi_[0], beta_.data() + 1, phi_.data() + 1, k - 1, S(1));
  e_ = fp_ - e_;
  if (!p_.allFinite() || !e_.allFinite()) return false;
  const auto gs = [](int q) { return std::abs(adams_moulton_gamma(q)); };
  const auto u = static_cast<std::size_t>(k);
  const double ne = norm(e_);
  est.err = h * std::abs(g_[u] - g_[u - 1]) * ne;
  est.erk = h * sigma_[u + 1] * gs(k) * ne;
  est.knew = k;
  if (k >= 2) {
    v_ = e_ + static_cast<S>(beta_[u - 1]) * phi_[u - 1];
    est.erkm1 = h * sigma_[u] * gs(k - 1) * norm(v_);
    if (k == 2 && est.erkm1 <= 0.5 * est.erk) est.knew = 1;
  }
  if (k >= 3) {
    v_ += static_cast<S>(beta_[u - 2]) * phi_[u - 2];
    est.erkm2 = h * sigma_[u - 1] * gs(k - 2) * norm(v_);
    if (std::max(est.erkm1, est.erkm2) <= est.erk) est.knew = k - 1;
  }
  return std::isfinite(est.err);
}

// Takes the corrected step: Φ_j(n+1) = Φ_{j−1}(n+1) − β_{j−1}Φ_{j−1}(n) for
// j ≤ k+1 from Φ_0(n+1) = f1_, and shifts ψ.
template <Scalar S>
void VariableAdams<S>::commit(double h) {
  const int k = k_;
  std::swap(fp_, f1_);  // fp_ now carries Φ_j(n+1) down the recurrence
  for (int j = 0; j <= k; ++j) {
    const auto u = static_cast<std::size_t>(j);
    v_ = fp_ - static_cast<S>(beta_[u]) * phi_[u];
    std::swap(phi_[u], fp_);
    std::swap(fp_, v_);
  }
  std::swap(phi_[static_cast<std::size_t>(k + 1)], fp_);
  psi_old_ = psi_;
  t_ += h;
  std::swap(y_, y1_);
  kold_ = k;
  hold_ = h;
  ifail_ = 0;
  ++sol_.stats.accepted;
  sol_.stats.last_step = h;
}

// Outputs in (x_n, x_{n+1}]: y(x_{n+1} + s) = y_{n+1} + s·Σ_{j≤k} G_j(s)·Φ_j(n+1),
// G_j(s) = ∫_0^1 Π_{i<j} (s·v + ψ_i)/ψ_{i+1} dv (ψ_0 = 0), the integrated
// Newton interpolant of f through x_{n+1}, …, x_{n+1−k}.
template <Scalar S>
void VariableAdams<S>::emit() {
  while (out_ < ts_.size() && ts_[out_] <= t_) {
    if (ts_[out_] == t_) {
      sol_.ys.push_back(y_);
      ++out_;
      continue;
    }
    const double s = ts_[out_] - t_;
    Coef poly{}, weight{};
    poly[0] = 1.0;
    weight[0] = s;
    for (int j = 1; j <= kold_; ++j) {
      const auto u = static_cast<std::size_t>(j);
      const double slope = s / psi_[u], shift = (j == 1 ? 0.0 : psi_[u - 1]) / psi_[u];
      for (std::size_t m = u; m > 0; --m) poly[m] = poly[m] * shift + poly[m - 1] * slope;
      poly[0] *= shift;
      double integral = 0.0;
      for (std::size_t m = 0; m <= u; ++m) integral += poly[m] / static_cast<double>(m + 1);
      weight[u] = s * integral;
    }
    sol_.ys.emplace_back(y_.rows(), y_.cols());
    linear_combination<S>(sol_.ys.back(), y_, weight.data(), phi_.data(), kold_ + 1, S(1));
    ++out_;
  }
}

// The error the step size aims at, as a fraction of the tolerance. DE/STEP
// uses 1/2; 1/4 keeps the global error within ~100·rtol on problems that
// amplify local errors (DETEST B1) for ~10% more evaluations.
constexpr double kTarget = 0.125;

template <Scalar S>
double VariableAdams<S>::after_accept(const Estimate& est, double h) {
  const int k = k_;
  int knew = est.knew;
  double erk = est.erk;
  if (knew == k - 1 || k == kmax_) phase1_ = false;
  if (phase1_) {
    k_ = k + 1;
    return 2.0 * h;
  }
  if (knew == k - 1) {
    erk = est.erkm1;
  } else if (k + 1 <= ns_) {
    // Φ_{k+1}(n+1) is valid: ns_ ≥ k+1 steps of this size lie behind.
    const double erkp1 = h * std::abs(adams_moulton_gamma(k + 1)) * norm(phi_[static_cast<std::size_t>(k + 1)]);
    if (k > 1 && est.erkm1 <= std::min(est.erk, erkp1)) {
      knew = k - 1;
      erk = est.erkm1;
    } else if (k < kmax_ && ((k > 1 && erkp1 < est.erk) || (k == 1 && erkp1 < 0.5 * est.erk))) {
      knew = k + 1;
      erk = erkp1;
    }
  }
  k_ = knew;
  // Keep h unless the error is far below (double) or above kTarget (shrink).
  if (kTarget >= std::ldexp(erk, k_ + 1)) return 2.0 * h;
  if (kTarget < erk) return h * std::clamp(std::pow(kTarget / erk, 1.0 / (k_ + 1)), 0.5, 0.9);
  return h;
}

template <Scalar S>
double VariableAdams<S>::after_reject(const Estimate& est, double h, bool finite) {
  phase1_ = false;
  ++ifail_;
  ++sol_.stats.rejected;
  k_ = est.knew > 0 ? est.knew : k_;
  double factor = 0.5;
  if (ifail_ >= 3) k_ = 1;  // repeated failures: restart the order from 1
  if (ifail_ > 3 && finite && 0.5 < 0.25 * est.erk) factor = std::sqrt(0.5 / est.erk);
  return h * factor;
}

template <Scalar S>
void VariableAdams<S>::underflow(double h) const {
  throw StepSizeUnderflow(
      fmt::format("step size underflow: dt = {} at t = {} after {} accepted and {} rejected steps "
                  "(last error ratio {}{}); the problem may be stiff or the solution may blow up",
                  h, t_, sol_.stats.accepted, sol_.stats.rejected, last_err_,
                  last_non_finite_ ? ", the last attempt produced non-finite values" : ""),
      t_, h);
}

// f(t0, y0), the first step, and the history of a fresh start.
template <Scalar S>
double VariableAdams<S>::start(const Matrix<S>& y0) {
  const Eigen::Index rows = y0.rows(), cols = y0.cols();
  y_ = y0;
  for (Matrix<S>* m : {&p_, &fp_, &e_, &v_, &y1_, &f1_}) m->resize(rows, cols);
  phi_.assign(static_cast<std::size_t>(kmax_) + 2, Matrix<S>(rows, cols));
  t_ = ts_.front();
  evaluate(t_, y_, phi_[0]);
  if (!phi_[0].allFinite())
    throw NonFiniteError(fmt::format("f(t0, y0) is not finite at t0 = {}", t_), t_, 0.0);
  double h = options_.first_step;
  if (h == 0.0) {
    // Hairer's initial step for a method of order 1 (exponent 1/(1+1)).
    h = initial_step<S>(f_, t_, y_, phi_[0], 2, options_, p_, fp_);
    ++sol_.stats.nfe;
  }
  h = std::clamp(h, options_.min_step, options_.max_step);
  sol_.stats.first_step = h;
  restart(h);
  return h;
}

// The step actually attempted from x_n: h clamped to [min_step, max_step]
// and shortened to the next step_t or jump_t (on_jump says which).
template <Scalar S>
double VariableAdams<S>::limit_step(double h, bool& on_jump) {
  if (sol_.stats.steps() >= options_.max_num_steps)
    throw MaxStepsExceeded(fmt::format("max_num_steps = {} exceeded at t = {} (dt = {}, {} accepted, {} "
                                       "rejected); next output time {}",
                                       options_.max_num_steps, t_, h, sol_.stats.accepted, sol_.stats.rejected,
                                       ts_[out_]),
                           t_, h);
  h = std::clamp(h, options_.min_step, options_.max_step);
  while (next_stop_ < step_t_.size() && step_t_[next_stop_] <= t_) ++next_stop_;
  while (next_jump_ < jump_t_.size() && jump_t_[next_jump_] <= t_) ++next_jump_;
  on_jump = false;
  if (next_stop_ < step_t_.size() && step_t_[next_stop_] < t_ + h) h = step_t_[next_stop_] - t_;
  if (next_jump_ < jump_t_.size() && jump_t_[next_jump_] < t_ + h) {
    h = jump_t_[next_jump_] - t_;
    on_jump = true;
  }
  if (!(t_ + h > t_)) underflow(h);
  return h;
}

// PECE from x_n with step h, ending at t1; whether it is accepted. Leaves
// y1_ = y_{n+1} and f1_ = f(t1, y1_) when it is.
template <Scalar S>
bool VariableAdams<S>::attempt(double h, Time t1, Estimate& est) {
  if (h != hold_) ns_ = 0;
  if (ns_ <= kold_) ++ns_;
  bool finite = predict_evaluate(h, t1, est);
  bool accept = finite && (est.err <= 1.0 || h <= options_.min_step);
  if (accept) {
    // C and E: the corrected value and f there.
    y1_ = p_ + static_cast<S>(h * g_[static_cast<std::size_t>(k_ - 1)]) * e_;
    evaluate(t1, y1_, f1_);
    finite = y1_.allFinite() && f1_.allFinite();
    accept = finite;
  }
  if (!finite && h <= options_.min_step)
    throw NonFiniteError(fmt::format("non-finite state or f at t = {} with dt = min_step = {}", t1, h), t_, h);
  last_err_ = finite ? est.err : std::numeric_limits<double>::infinity();
  last_non_finite_ = !finite;
  if (options_.on_step) options_.on_step({t_, h, last_err_, accept});
  return accept;
}

template <Scalar S>
void VariableAdams<S>::run(const Matrix<S>& y0) {
  double h = start(y0);
  while (out_ < ts_.size()) {
    bool on_jump = false;
    h = limit_step(h, on_jump);
    // A step ending on a jump sees f from its own side of it (as the RK stages).
    const Time t1 = on_jump ? std::nextafter(t_ + h, t_) : t_ + h;
    Estimate est;
    if (!attempt(h, t1, est)) {
      h = after_reject(est, h, !last_non_finite_);
      continue;
    }
    commit(h);
    emit();
    h = after_accept(est, h);
    if (on_jump && out_ < ts_.size()) {
      // f may jump at x_{n+1}: restart from its value just after it.
      evaluate(std::nextafter(t_, std::numeric_limits<Time>::infinity()), y_, phi_[0]);
      restart(h);
    }
  }
}

}  // namespace

template <Scalar S>
Solution<S> integrate_adams(Rhs<S> f, const Matrix<S>& y0, std::span<const Time> ts, const Options& options) {
  if (options.step_size > 0.0 || !options.grid_points.empty())
    throw InvalidArgument(fmt::format("method '{}' chooses its own steps; step_size and grid_points apply to the "
                                      "fixed-step methods (explicit_adams, implicit_adams)",
                                      options.method));
  Solution<S> sol;
  sol.ts.assign(ts.begin(), ts.end());
  sol.ys.reserve(ts.size());
  sol.ys.push_back(y0);
  if (ts.size() < 2) return sol;
  VariableAdams<S> solver(f, ts, options, sol);
  solver.run(y0);
  return sol;
}

template Solution<float> integrate_adams<float>(Rhs<float>, const Matrix<float>&, std::span<const Time>,
                                                const Options&);
template Solution<double> integrate_adams<double>(Rhs<double>, const Matrix<double>&, std::span<const Time>,
                                                  const Options&);

}  // namespace odeflow::detail
