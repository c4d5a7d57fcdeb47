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
// Throws InvalidArgument (unknown method, bad tolerance, non-monotone times,
// shape mismatch) before solving, and SolverError (non-finite state, step
// size underflow, max steps exceeded) during it; see core/error.hpp.
#pragma once

#include <odeflow/core/error.hpp>
#include <odeflow/core/types.hpp>
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

[[noreturn]] void throw_rhs_shape(Eigen::Index rows, Eigen::Index cols, Eigen::Index want_rows,
                                  Eigen::Index want_cols, Time t);

// Adapts a user callable to Rhs<S>, checking the shape of what it returns.
template <Scalar S, class F>
auto make_rhs(F& f) {
  return [&f](Time t, const Matrix<S>& y, Matrix<S>& dy) {
    if constexpr (std::is_invocable_v<F&, Time, const Matrix<S>&, Matrix<S>&>) {
      f(t, y, dy);
    } else {
      static_assert(std::is_invocable_v<F&, Time, const Matrix<S>&>,
                    "odeint: f must be callable as f(t, y) -> dy or f(t, y, dy)");
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
  const Matrix<S> y0_matrix = y0;
  auto rhs = detail::make_rhs<S>(f);
  return solve<S>(Rhs<S>(rhs), y0_matrix, ts, options);
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
