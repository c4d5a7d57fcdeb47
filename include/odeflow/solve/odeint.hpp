// odeint: the front door of ODE solving.
//
//   odeflow::Options opt;  opt.method = "dopri5";  opt.rtol = 1e-8;
//   odeflow::Solution<double> sol = odeflow::odeint(f, y0, ts, opt);
//   sol.ys[k];   // y(ts[k]), same shape as y0
//
// - y0: an Eigen matrix (rows = state dimension, columns = batch) of float or
//   double. Every column shares the step size; the error norm runs over the
//   whole batch, as torchdiffeq.
// - ts: output times, strictly increasing or strictly decreasing (a
//   decreasing ts integrates backwards in time). ys[0] = y0.
// - f: any callable `f(t, y) -> dy/dt` (anything assignable to a Matrix) or
//   in place `f(t, y, dy)` with dy pre-sized to y's shape.
//
// Two paths with the same steps, statistics, outputs and errors, bit for bit
// as long as f rounds alike when compiled for both state types (FMA
// contraction may differ; see tests/solve/static_path_test.cpp):
// - static: y0 of compile-time size (e.g. Eigen::Vector3d, at most 64
//   elements), f callable with that type (y and dy are then that type), an
//   adaptive method among dopri5, tsit5, dopri8 and bosh3 and no fixed-step
//   options. The tableau's coefficients are compile-time constants and f is
//   inlined (detail/static_solve.hpp): the fast path for small systems.
// - otherwise the compiled solve() below, with y and dy as Matrix<S>.
//
// Throws InvalidArgument (unknown method, bad tolerance, non-monotone times,
// shape mismatch) before solving, and SolverError (non-finite state, step
// size underflow, max steps exceeded) during it; see core/error.hpp.
#pragma once

#include <odeflow/core/error.hpp>
#include <odeflow/core/types.hpp>
#include <odeflow/solve/detail/solve_checks.hpp>
#include <odeflow/solve/detail/static_solve.hpp>
#include <odeflow/solve/options.hpp>
#include <odeflow/solve/rhs.hpp>
#include <odeflow/solve/solution.hpp>

#include <Eigen/Core>

#include <initializer_list>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace odeflow {

// The type-erased solve every overload below forwards to (compiled for float
// and double in src/solve/odeint.cpp).
template <Scalar S>
Solution<S> solve(Rhs<S> f, const Matrix<S>& y0, std::span<const Time> ts, const Options& options);

namespace detail {

// Adapts a user callable to Rhs<S>, checking the shape of what it returns.
template <Scalar S, class F>
auto make_rhs(F& f) {
  return [&f](Time t, const Matrix<S>& y, Matrix<S>& dy) {
    if constexpr (std::is_invocable_v<F&, Time, const Matrix<S>&, Matrix<S>&>) {
      f(t, y, dy);
    } else {
      dy = f(t, y);
    }
    if (dy.rows() != y.rows() || dy.cols() != y.cols()) [[unlikely]]
      throw_rhs_shape(dy.rows(), dy.cols(), y.rows(), y.cols(), t);
  };
}

}  // namespace detail

template <class F, class Derived>
Solution<typename Derived::Scalar> odeint(F&& f, const Eigen::MatrixBase<Derived>& y0,
                                          std::span<const Time> ts, const Options& options = {}) {
  using S = typename Derived::Scalar;
  static_assert(Scalar<S>, "odeint: y0 must hold float or double");
  constexpr bool kTakesMatrix = std::is_invocable_v<F&, Time, const Matrix<S>&, Matrix<S>&> ||
                                std::is_invocable_v<F&, Time, const Matrix<S>&>;
  static_assert(kTakesMatrix || detail::has_static_path<F, Derived>(),
                "odeint: f must be callable as f(t, y) -> dy or f(t, y, dy)");
  const Matrix<S> y0_matrix = y0;
  if constexpr (detail::has_static_path<F, Derived>()) {
    using State = detail::StaticState<Derived>;
    if (const ButcherTableau* tableau = detail::static_tableau(options, detail::StaticTableaus{}))
      return detail::solve_static<State>(f, y0_matrix, ts, options, *tableau);
    if constexpr (!kTakesMatrix) {
      // f takes only the fixed-size state: convert around it on the run-time path.
      const detail::StaticRhs<State, F> state_rhs{f};
      const detail::MatrixRhs<State, detail::StaticRhs<State, F>> rhs{state_rhs};
      return solve<S>(Rhs<S>(rhs), y0_matrix, ts, options);
    }
  }
  if constexpr (kTakesMatrix) {
    auto rhs = detail::make_rhs<S>(f);
    return solve<S>(Rhs<S>(rhs), y0_matrix, ts, options);
  }
}

template <class F, class Derived>
Solution<typename Derived::Scalar> odeint(F&& f, const Eigen::MatrixBase<Derived>& y0,
                                          const std::vector<Time>& ts, const Options& options = {}) {
  return odeint(std::forward<F>(f), y0, std::span<const Time>(ts), options);
}

template <class F, class Derived>
Solution<typename Derived::Scalar> odeint(F&& f, const Eigen::MatrixBase<Derived>& y0,
                                          std::initializer_list<Time> ts, const Options& options = {}) {
  return odeint(std::forward<F>(f), y0, std::span<const Time>(ts.begin(), ts.size()), options);
}

template <class F, class Derived>
Solution<typename Derived::Scalar> odeint(F&& f, const Eigen::MatrixBase<Derived>& y0,
                                          const Eigen::VectorXd& ts, const Options& options = {}) {
  return odeint(std::forward<F>(f), y0,
                std::span<const Time>(ts.data(), static_cast<std::size_t>(ts.size())), options);
}

}  // namespace odeflow
