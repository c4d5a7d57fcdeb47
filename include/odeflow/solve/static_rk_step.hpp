// One explicit Runge–Kutta step of a tableau known at compile time, on a
// state of compile-time size: the static counterpart of rk_step.hpp.
//
// The coefficients are template constants: zero terms vanish, stages unroll
// and f (any callable) is inlined, as in Boost.Odeint's hand-written steppers,
// but from the same constexpr ButcherTableau the run-time stepper reads. The
// arithmetic is the run-time stepper's term for term (each coefficient times
// dt first, then times k_j, summed in stage order, then added to y0; the same
// error norm), so both take bit-identical steps in double and float.
//
// State: a fixed-size Eigen matrix (Eigen::Matrix<S, N, 1> or N×C, column
// major), S float or double. f(t, y, dy) writes dy/dt into dy.
#pragma once

#include <odeflow/core/types.hpp>
#include <odeflow/solve/detail/error_norm.hpp>
#include <odeflow/solve/detail/multiply_add.hpp>
#include <odeflow/solve/options.hpp>
#include <odeflow/solve/rk_step.hpp>
#include <odeflow/solve/tableau.hpp>

#include <Eigen/Core>

#include <array>
#include <cmath>
#include <cstddef>
#include <span>
#include <utility>

namespace odeflow {

// Stage derivatives and outputs of one static step (no heap memory).
template <const ButcherTableau& T, class State>
struct StaticRkWork {
  static constexpr int kStages = T.stages();
  std::array<State, kStages> k;  // k[0] = f(t0, y0) on entry
  State y1;                      // the propagated solution at t1
  State stage;                   // input of the stage being evaluated
};

namespace detail {

// Rows of coefficients a static step combines: a row of a (≥ 1), or these
// (kRowMid: the quartic dense output's midpoint weights).
inline constexpr int kRowB = -1, kRowError = -2, kRowError3 = -3, kRowMid = -4;

template <const ButcherTableau& T, int Row>
constexpr std::span<const double> tableau_row() {
  if constexpr (Row >= 0)
    return T.a.subspan(static_cast<std::size_t>(Row * T.stages()), static_cast<std::size_t>(Row));
  else if constexpr (Row == kRowB)
    return T.b;
  else if constexpr (Row == kRowError)
    return T.b_error;
  else if constexpr (Row == kRowError3)
    return T.b_error3;
  else
    return T.c_mid;
}

// The nonzero terms of a tableau row, as compile-time constants.
template <const ButcherTableau& T, int Row>
struct StaticRow {
  static constexpr int count() {
    int n = 0;
    for (double v : tableau_row<T, Row>()) n += v != 0.0 ? 1 : 0;
    return n;
  }
  static constexpr int kCount = count();
  static constexpr std::array<int, kCount> kIndex = [] {
    std::array<int, kCount> index{};
    int m = 0;
    const std::span<const double> row = tableau_row<T, Row>();
    for (std::size_t j = 0; j < row.size(); ++j)
      if (row[j] != 0.0) index[static_cast<std::size_t>(m++)] = static_cast<int>(j);
    return index;
  }();
};

// out = base + Σ_m (a_m·h)·k[index_m] over the row's nonzero terms in stage
// order (base null: out = the sum), rounded exactly as rk_step's combine:
// the sum of products by multiply_add, then base added (a single term is one
// multiply_add with base).
template <const ButcherTableau& T, int Row, class S, class State, std::size_t K, std::size_t... M>
inline void static_combine(S* __restrict out, const S* base, const std::array<State, K>& k, S h,
                           std::index_sequence<M...>) {
  using R = StaticRow<T, Row>;
  constexpr std::span<const double> row = tableau_row<T, Row>();
  constexpr Eigen::Index n = State::SizeAtCompileTime;
  const std::array<S, sizeof...(M)> c{(static_cast<S>(row[static_cast<std::size_t>(R::kIndex[M])]) * h)...};
  auto term = [&](std::size_t m, Eigen::Index e) { return k[static_cast<std::size_t>(R::kIndex[m])].data()[e]; };
  for (Eigen::Index e = 0; e < n; ++e) {
    if constexpr (sizeof...(M) == 0) {
      out[e] = base != nullptr ? base[e] : S(0);
    } else if constexpr (sizeof...(M) == 1) {
      out[e] = base != nullptr ? multiply_add(c[0], term(0, e), base[e]) : c[0] * term(0, e);
    } else {
      S acc = c[0] * term(0, e);
      ((M > 0 ? void(acc = multiply_add(c[M], term(M, e), acc)) : void()), ...);
      out[e] = base != nullptr ? base[e] + acc : acc;
    }
  }
}

template <const ButcherTableau& T, int Row, class S, class State, std::size_t K>
inline void static_combine(S* out, const S* base, const std::array<State, K>& k, S h) {
  static_combine<T, Row>(out, base, k, h, std::make_index_sequence<StaticRow<T, Row>::kCount>{});
}

template <const ButcherTableau& T, int I, class State, class F>
inline void static_stage(F& f, Time t0, Time dt, Time t1, const State& y0, StaticRkWork<T, State>& work,
                         typename State::Scalar h) {
  State& input = (T.fsal() && I == T.stages() - 1) ? work.y1 : work.stage;
  static_combine<T, I>(input.data(), y0.data(), work.k, h);
  f(stage_time(t0, dt, t1, T.c[static_cast<std::size_t>(I)]), input, work.k[static_cast<std::size_t>(I)]);
}

}  // namespace detail

// Takes the step [t0, t1 = t0 + dt] from y0 with work.k[0] = f(t0, y0): fills
// work.k[1..s-1] and work.y1, as rk_step. Returns the number of f evaluations.
template <const ButcherTableau& T, class State, class F>
inline int static_rk_step(F& f, Time t0, Time dt, Time t1, const State& y0, StaticRkWork<T, State>& work) {
  static_assert(State::SizeAtCompileTime != Eigen::Dynamic, "static_rk_step needs a fixed-size state");
  static_assert(!State::IsRowMajor || State::RowsAtCompileTime == 1, "static_rk_step needs a column-major state");
  using S = typename State::Scalar;
  const S h = static_cast<S>(dt);
  [&]<int... I>(std::integer_sequence<int, I...>) {
    (detail::static_stage<T, I + 1>(f, t0, dt, t1, y0, work, h), ...);
  }(std::make_integer_sequence<int, T.stages() - 1>{});
  if constexpr (!T.fsal()) detail::static_combine<T, detail::kRowB>(work.y1.data(), y0.data(), work.k, h);
  return T.stages() - 1;
}

// The scaled error of the step just taken by static_rk_step; error_ratio's
// value for the same step (rk_step.hpp).
template <const ButcherTableau& T, class State>
[[gnu::always_inline]] inline double static_error_ratio(Time dt, const State& y0,
                                                        const StaticRkWork<T, State>& work,
                                                        const Options& options) {
  static_assert(T.adaptive(), "static_error_ratio needs a tableau with error weights");
  using S = typename State::Scalar;
  const S h = static_cast<S>(dt);
  constexpr Eigen::Index rows = State::RowsAtCompileTime, cols = State::ColsAtCompileTime;
  State error;
  detail::static_combine<T, detail::kRowError>(error.data(), static_cast<const S*>(nullptr), work.k, h);
  const double norm = detail::error_norm<S>(error.data(), y0.data(), work.y1.data(), rows, cols, options);
  if constexpr (T.b_error3.empty()) {
    return norm;
  } else {
    if (norm == 0.0 || !std::isfinite(norm)) return norm;
    detail::static_combine<T, detail::kRowError3>(error.data(), static_cast<const S*>(nullptr), work.k, h);
    const double norm3 = detail::error_norm<S>(error.data(), y0.data(), work.y1.data(), rows, cols, options);
    return detail::combine_error_norms(norm, norm3);
  }
}

}  // namespace odeflow
