// One explicit Runge–Kutta step of any tableau, and its error estimate.
//
// The step is pure: everything it reads is an argument, everything it writes
// is in the caller's RkWork. Checkpoint replays and adjoints can re-drive it.
#pragma once

#include <odeflow/core/types.hpp>
#include <odeflow/solve/detail/multiply_add.hpp>
#include <odeflow/solve/options.hpp>
#include <odeflow/solve/rhs.hpp>
#include <odeflow/solve/tableau.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace odeflow {

// The nonzero terms of one row of tableau coefficients (a row of a, or b, or
// error weights), found once per solve so that steps skip zeros for free.
struct StageRow {
  static constexpr int kMaxTerms = 16;
  int count = 0;
  int index[kMaxTerms] = {};  // stage numbers
  double value[kMaxTerms] = {};

  StageRow() = default;
  explicit StageRow(std::span<const double> coefficients);
};

// Buffers and the tableau's sparsity for one solve (no allocation per step).
template <Scalar S>
struct RkWork {
  std::vector<Matrix<S>> k;  // stage derivatives; k[0] = f(t0, y0) on entry
  Matrix<S> y1;              // the propagated solution at t1
  Matrix<S> stage;           // input of the stage being evaluated
  Matrix<S> error;           // scratch for the error estimates
  Matrix<S> error3;          // scratch for the second estimate (tableau.b_error3)

  bool fsal = false;         // tableau.fsal()
  std::vector<StageRow> a;   // rows 1..s−1 of the tableau's a (row 0 unused)
  StageRow b, b_error, b_error3;

  // Sizes the buffers for `tableau` (including extra dense-output stages).
  void resize(const ButcherTableau& tableau, Eigen::Index rows, Eigen::Index cols);
};

namespace detail {
// The largest double below t (t finite): std::nextafter(t, −inf) without its
// generality, which costs as much as a whole small stage.
inline double next_below(double t) {
  if (t == 0.0) return -std::numeric_limits<double>::denorm_min();
  auto bits = std::bit_cast<std::uint64_t>(t);
  bits += t > 0.0 ? std::uint64_t(-1) : std::uint64_t(1);
  return std::bit_cast<double>(bits);
}
}  // namespace detail

// Evaluation time of a stage with node c: t0 + c·dt, except that c = 1 gives
// the time just before t1 (one ulp towards t0), so that an f with a jump at t1
// is evaluated on the step's side of it (torchdiffeq's Perturb.PREV).
// (t0 + c·dt is one multiply_add: fused or not, the same on every path.)
inline Time stage_time(Time t0, Time dt, Time t1, double c) {
  if (c == 1.0) return t1 > t0 ? detail::next_below(t1) : std::nextafter(t1, t0);
  return detail::multiply_add(c, dt, t0);
}

// Takes the step [t0, t1 = t0 + dt] from y0 with work.k[0] = f(t0, y0):
// fills work.k[1..s-1] and work.y1. Returns the number of f evaluations.
// `work` must have been resized for this tableau.
template <Scalar S>
int rk_step(const ButcherTableau& tableau, Rhs<S> f, Time t0, Time dt, Time t1,
            const Matrix<S>& y0, RkWork<S>& work);

// out = base + Σ_j coef[j]·terms[j] over the first `count` terms, skipping
// zero coefficients, in one pass over memory.
template <Scalar S>
void linear_combination(Matrix<S>& out, const Matrix<S>& base, const double* coef,
                        const Matrix<S>* terms, int count, S scale);

// The same on arrays of n elements: out = base + Σ_j (coef[j]·scale)·terms[j].
template <Scalar S>
void linear_combination(S* out, const S* base, const double* coef, const S* const* terms, int count, S scale,
                        Eigen::Index n);

// The scaled error of the step just taken by rk_step,
// ‖dt·Σ_j e_j k_j / (atol + rtol·max(|y0|, |y1|))‖ with e = tableau.b_error.
// With tableau.b_error3 (DOP853) it is n²/sqrt(n² + 0.01·n₃²), n and n₃ the
// norms of the two estimates. NaN when any component is NaN.
template <Scalar S>
double error_ratio(Time dt, const Matrix<S>& y0, RkWork<S>& work, const Options& options);

// Norm (options.norm) of x / (atol + rtol·|y|), used by the initial step.
template <Scalar S>
double scaled_norm(const Matrix<S>& x, const Matrix<S>& y, const Options& options);

// Hairer, Nørsett & Wanner I, Sec. II.4: an initial step for a method of
// order `order`. Uses f0 = f(t0, y0) and one more evaluation of f.
template <Scalar S>
double initial_step(Rhs<S> f, Time t0, const Matrix<S>& y0, const Matrix<S>& f0, int order,
                    const Options& options, Matrix<S>& scratch, Matrix<S>& f1);

}  // namespace odeflow
