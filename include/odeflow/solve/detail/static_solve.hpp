// odeint's static path (internal): for a y0 of compile-time size and one of
// a few adaptive tableaus, the adaptive loop (detail/adaptive_loop.hpp) runs
// the static stepper (static_rk_step.hpp) on the fixed-size state with the
// user's f inlined. Steps, statistics, outputs and errors are those of the
// run-time path (the same loop, the same arithmetic); only the per-step
// overhead differs. The initial step and dense output share their arithmetic
// with the run-time path (detail/initial_step.hpp, detail/dense_kernels.hpp)
// and run on the fixed-size state: no heap memory besides the Solution.
#pragma once

#include <odeflow/core/types.hpp>
#include <odeflow/solve/detail/adaptive_loop.hpp>
#include <odeflow/solve/detail/initial_step.hpp>
#include <odeflow/solve/detail/static_dense.hpp>
#include <odeflow/solve/detail/solve_checks.hpp>
#include <odeflow/solve/options.hpp>
#include <odeflow/solve/registry.hpp>
#include <odeflow/solve/rk_step.hpp>
#include <odeflow/solve/solution.hpp>
#include <odeflow/solve/static_rk_step.hpp>
#include <odeflow/solve/tableaus.hpp>

#include <Eigen/Core>

#include <cstdint>
#include <span>
#include <type_traits>

namespace odeflow::detail {

// The tableaus the static path is compiled for (each costs one loop per f and
// state type in the caller's translation unit).
template <const ButcherTableau&... T>
struct TableauList {};
using StaticTableaus = TableauList<tableaus::kDopri5, tableaus::kTsit5, tableaus::kDopri8, tableaus::kBosh3>;

// Larger fixed-size states go through the run-time path (stage buffers live on the stack).
inline constexpr int kMaxStaticSize = 64;

// The fixed-size state for y0 of type Derived (column major; Eigen requires a
// single row to be row major, which has the same layout).
template <class Derived>
using StaticState = Eigen::Matrix<typename Derived::Scalar, Derived::RowsAtCompileTime, Derived::ColsAtCompileTime,
                                  (Derived::RowsAtCompileTime == 1 && Derived::ColsAtCompileTime != 1)
                                      ? Eigen::RowMajor
                                      : Eigen::ColMajor>;

// Whether odeint(f, y0) can take the static path: y0 has a small compile-time
// size and f takes that state, in place or returning dy/dt.
template <class F, class Derived>
constexpr bool has_static_path() {
  if constexpr (Derived::SizeAtCompileTime == Eigen::Dynamic || Derived::SizeAtCompileTime > kMaxStaticSize) {
    return false;
  } else {
    using State = StaticState<Derived>;
    return std::is_invocable_v<F&, Time, const State&, State&> || std::is_invocable_v<F&, Time, const State&>;
  }
}

// The user's f on State, in place (shape-checked when it returns a value).
template <class State, class F>
struct StaticRhs {
  F& f;
  void operator()(Time t, const State& y, State& dy) const {
    if constexpr (std::is_invocable_v<F&, Time, const State&, State&>) {
      f(t, y, dy);
    } else {
      auto&& result = f(t, y);
      if (result.rows() != dy.rows() || result.cols() != dy.cols()) [[unlikely]]
        throw_rhs_shape(result.rows(), result.cols(), dy.rows(), dy.cols(), t);
      dy = result;
    }
  }
};

// dz/ds = −f(−s, z): odeint's backwards-in-time problem, as solve() builds it.
template <class State, class G>
struct ReversedRhs {
  const G& g;
  void operator()(Time s, const State& z, State& dz) const {
    g(-s, z, dz);
    dz = -dz;
  }
};

// A static-path f (in place on State) called with Matrix<S> arguments, for
// the run-time path (methods without a static path).
template <class State, class F>
struct MatrixRhs {
  const F& f;
  void operator()(Time t, const Matrix<typename State::Scalar>& y, Matrix<typename State::Scalar>& dy) const {
    const State y_state = y;
    State dy_state;
    f(t, y_state, dy_state);
    dy = dy_state;
  }
};

// The Stepper of adaptive_loop for static_rk_step; see adaptive_loop.hpp.
template <const ButcherTableau& T, class StateT, class F>
class StaticRk {
 public:
  using Scalar = typename StateT::Scalar;
  using State = StateT;

  explicit StaticRk(const F& f) : f_(f) {}

  const ButcherTableau& tableau() const { return T; }
  State& load_state(const Matrix<Scalar>& y0) {
    y_ = y0;
    return y_;
  }
  State& f1_state() { return f1_; }
  State& k0() { return work_.k[0]; }
  State& k_last() { return work_.k[static_cast<std::size_t>(T.stages() - 1)]; }
  State& y1() { return work_.y1; }
  void f(Time t, const State& y, State& dy) { f_(t, y, dy); }

  double initial_step(Time t0, const State& y0, const Options& options) {
    State f1;
    return hairer_initial_step(f_, t0, y0, work_.k[0], T.order, options, work_.stage, f1);
  }
  int step(Time t0, Time dt, Time t1, const State& y0) { return static_rk_step<T>(f_, t0, dt, t1, y0, work_); }
  [[gnu::always_inline]] double error_ratio(Time dt, const State& y0, const Options& options) const {
    return static_error_ratio<T>(dt, y0, work_, options);
  }

  void bind_dense(Time t0, Time t1, const State& y0, State* f1, bool f1_known, std::int64_t* nfe) {
    dense_.bind(t0, t1, &y0, &work_, f1, f1_known, nfe);
  }
  void evaluate_dense(Time t, Matrix<Scalar>& out) { dense_.evaluate(f_, t, out.data()); }
  bool finish_dense() const { return dense_.f1_known(); }

 private:
  const F& f_;
  StaticRkWork<T, State> work_;
  StaticDense<T, State, F> dense_;
  State y_, f1_;  // the loop's state and f(t1, y1)
};

template <const ButcherTableau& T, class State, class F>
Solution<typename State::Scalar> run_static(const F& f, const Matrix<typename State::Scalar>& y0,
                                            std::span<const Time> ts, const Options& options) {
  StaticRk<T, State, F> stepper(f);
  return adaptive_loop(stepper, y0, ts, options);
}

// The adaptive loop with the static stepper of `tableau`, which must be one of T...
template <class State, class F, const ButcherTableau&... T>
Solution<typename State::Scalar> run_static(const F& f, const Matrix<typename State::Scalar>& y0,
                                            std::span<const Time> ts, const Options& options,
                                            const ButcherTableau& tableau, TableauList<T...>) {
  Solution<typename State::Scalar> sol;
  static_cast<void>(((&tableau == &T && (sol = run_static<T, State>(f, y0, ts, options), true)) || ...));
  return sol;
}

// The tableau of options.method when the static path runs it (an adaptive
// method of StaticTableaus, no fixed-step options); null otherwise.
template <const ButcherTableau&... T>
const ButcherTableau* static_tableau(const Options& options, TableauList<T...>) {
  if (options.step_size > 0.0 || !options.grid_points.empty()) return nullptr;
  for (const MethodInfo& m : methods())
    if (m.name == options.method) return ((m.tableau == &T) || ...) ? m.tableau : nullptr;
  return nullptr;
}

// odeint with State = StaticState<y0's type>, for a tableau of StaticTableaus;
// checks and time reversal as solve().
template <class State, class F>
Solution<typename State::Scalar> solve_static(F& f, const Matrix<typename State::Scalar>& y0,
                                              std::span<const Time> ts, const Options& options,
                                              const ButcherTableau& tableau) {
  check_inputs(y0, ts, options);
  const StaticRhs<State, F> rhs{f};
  if (ts.size() < 2 || ts[1] > ts[0]) return run_static<State>(rhs, y0, ts, options, tableau, StaticTableaus{});
  const std::vector<Time> s = negated_times(ts);
  const Options reversed = reversed_options(options);
  const ReversedRhs<State, StaticRhs<State, F>> g{rhs};
  auto sol = run_static<State>(g, y0, s, reversed, tableau, StaticTableaus{});
  sol.ts.assign(ts.begin(), ts.end());
  return sol;
}

}  // namespace odeflow::detail
