// odeint's static path (fixed-size y0: compile-time tableau and state size, f
// inlined) against its run-time path (Matrix<S> y0): the same steps, the same
// statistics, the same outputs to the bit, the same errors; and torchdiffeq's
// step counts on Lorenz.
#include <odeflow/odeflow.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace odeflow {
namespace {

// Right-hand sides written once for Matrix<S> and fixed-size states. Every
// product that meets a sum is an explicit std::fma: otherwise the compiler may
// fuse it into an FMA in one instantiation and not in the other (GCC's
// -ffp-contract=fast), and f itself would round differently on the two paths.
const auto lorenz = [](Time, const auto& y, auto& dy) {
  using S = typename std::decay_t<decltype(y)>::Scalar;
  dy(0) = S(10) * (y(1) - y(0));
  dy(1) = std::fma(y(0), S(28) - y(2), -y(1));
  dy(2) = std::fma(y(0), y(1), -((S(8) / S(3)) * y(2)));
};
const auto van_der_pol = [](Time, const auto& y, auto& dy) {
  using S = typename std::decay_t<decltype(y)>::Scalar;
  dy(0) = y(1);
  dy(1) = std::fma(std::fma(-y(0), y(0), S(1)), y(1), -y(0));
};
// DETEST A3 (time-dependent), B1 (predator–prey), B5 (Euler's rigid body).
const auto detest_a3 = [](Time t, const auto& y, auto& dy) {
  using S = typename std::decay_t<decltype(y)>::Scalar;
  dy(0) = y(0) * static_cast<S>(std::cos(t));
};
const auto detest_b1 = [](Time, const auto& y, auto& dy) {
  dy(0) = 2 * std::fma(-y(0), y(1), y(0));
  dy(1) = std::fma(y(0), y(1), -y(1));
};
const auto detest_b5 = [](Time, const auto& y, auto& dy) {
  using S = typename std::decay_t<decltype(y)>::Scalar;
  dy(0) = y(1) * y(2);
  dy(1) = -y(0) * y(2);
  dy(2) = S(-0.51) * y(0) * y(1);
};

const char* const kMethods[] = {"dopri5", "tsit5", "dopri8", "bosh3"};

// Solves with y0 as a fixed-size N×1 state and as a Matrix<S>, and expects
// identical statistics, step logs and outputs.
template <class S, int N, class F>
void expect_paths_agree(const F& f, const std::vector<double>& y0_values, const std::vector<Time>& ts,
                        const Options& options_in) {
  Eigen::Matrix<S, N, 1> y0_fixed;
  for (int i = 0; i < N; ++i) y0_fixed(i) = static_cast<S>(y0_values[static_cast<std::size_t>(i)]);
  const Matrix<S> y0_dynamic = y0_fixed;
  std::vector<StepInfo> log_fixed, log_dynamic;
  Options options = options_in;
  options.max_num_steps = 20000;  // a runaway solve fails fast
  options.on_step = [&](const StepInfo& s) { log_fixed.push_back(s); };
  const Solution<S> fixed = odeint(f, y0_fixed, ts, options);
  options.on_step = [&](const StepInfo& s) { log_dynamic.push_back(s); };
  const Solution<S> dynamic = odeint(f, y0_dynamic, ts, options);

  ASSERT_EQ(log_fixed.size(), log_dynamic.size());
  for (std::size_t i = 0; i < log_fixed.size(); ++i) {
    ASSERT_EQ(log_fixed[i].t0, log_dynamic[i].t0) << "attempt " << i;
    ASSERT_EQ(log_fixed[i].dt, log_dynamic[i].dt) << "attempt " << i;
    ASSERT_EQ(log_fixed[i].accepted, log_dynamic[i].accepted) << "attempt " << i;
  }
  ASSERT_EQ(fixed.stats.nfe, dynamic.stats.nfe);
  ASSERT_EQ(fixed.stats.accepted, dynamic.stats.accepted);
  ASSERT_EQ(fixed.stats.rejected, dynamic.stats.rejected);
  ASSERT_EQ(fixed.stats.first_step, dynamic.stats.first_step);
  ASSERT_EQ(fixed.stats.last_step, dynamic.stats.last_step);
  EXPECT_EQ(fixed.ts, dynamic.ts);
  ASSERT_EQ(fixed.ys.size(), ts.size());
  ASSERT_EQ(dynamic.ys.size(), ts.size());
  for (std::size_t k = 0; k < ts.size(); ++k) {
    ASSERT_EQ(fixed.ys[k].rows(), N);
    ASSERT_EQ(fixed.ys[k].cols(), 1);
    for (int i = 0; i < N; ++i) ASSERT_EQ(fixed.ys[k](i), dynamic.ys[k](i)) << "t = " << ts[k] << ", i = " << i;
  }
}

template <class S>
Options tolerances(double tol) {
  Options options;
  options.rtol = tol;
  options.atol = tol;
  return options;
}

template <class S>
void expect_paths_agree_on_every_problem(double tol) {
  const std::vector<Time> forward = {0.0, 0.7, 3.25, 5.0, 8.0};
  const std::vector<Time> backward = {0.5, 0.3, 0.05, 0.0};  // backwards, Lorenz blows up within a time unit
  for (const char* method : kMethods) {
    SCOPED_TRACE(method);
    Options options = tolerances<S>(tol);
    options.method = method;
    for (const auto* ts : {&forward, &backward}) {
      SCOPED_TRACE(ts == &forward ? "forward" : "backward");
      {
        SCOPED_TRACE("lorenz");
        expect_paths_agree<S, 3>(lorenz, {1.0, 1.0, 1.0}, *ts, options);
      }
      {
        SCOPED_TRACE("van der pol");
        expect_paths_agree<S, 2>(van_der_pol, {2.0, 0.0}, *ts, options);
      }
      {
        SCOPED_TRACE("DETEST A3");
        expect_paths_agree<S, 1>(detest_a3, {1.0}, *ts, options);
      }
      {
        SCOPED_TRACE("DETEST B1");
        expect_paths_agree<S, 2>(detest_b1, {1.0, 3.0}, *ts, options);
      }
      {
        SCOPED_TRACE("DETEST B5");
        expect_paths_agree<S, 3>(detest_b5, {0.0, 1.0, 1.0}, *ts, options);
      }
    }
  }
}

TEST(StaticPath, MatchesTheRunTimePathBitForBitInDouble) { expect_paths_agree_on_every_problem<double>(1e-8); }

TEST(StaticPath, MatchesTheRunTimePathBitForBitInFloat) { expect_paths_agree_on_every_problem<float>(1e-5); }

TEST(StaticPath, MatchesTheRunTimePathWithStepAndJumpTimes) {
  for (const char* method : kMethods) {
    SCOPED_TRACE(method);
    Options options = tolerances<double>(1e-7);
    options.method = method;
    options.step_t = {1.5, 4.0};
    options.jump_t = {2.5, 6.0};
    expect_paths_agree<double, 3>(lorenz, {1.0, 1.0, 1.0}, {0.0, 2.5, 3.0, 7.0}, options);
    options.step_t = {6.5, 4.0};
    options.jump_t = {2.5, 1.0};
    expect_paths_agree<double, 2>(van_der_pol, {2.0, 0.0}, {7.0, 5.0, 2.5, 0.5}, options);
  }
}

TEST(StaticPath, MatchesTheRunTimePathWithPerComponentToleranceMaxNormAndPiController) {
  Options options;
  options.rtol = Tolerance({1e-6, 1e-9, 1e-7});
  options.atol = Tolerance({1e-8, 1e-10, 1e-6});
  options.norm = Norm::kMax;
  options.controller = Controller::kPI;
  options.max_step = 0.3;
  for (const char* method : kMethods) {
    SCOPED_TRACE(method);
    options.method = method;
    expect_paths_agree<double, 3>(detest_b5, {0.0, 1.0, 1.0}, {0.0, 1.0, 10.0}, options);
  }
}

TEST(StaticPath, ReproducesTorchdiffeqStepCountsOnLorenz) {
  // torchdiffeq 0.2.5, dopri5, rtol = atol = 1e-8 (shared bench WORKLOADS.md §5).
  const Eigen::Vector3d y0(1.0, 1.0, 1.0);
  bool saw_fixed_size = false;
  auto f = [&](Time, const auto& y, auto& dy) {  // as torchdiffeq's (and odeint_test's) Lorenz
    saw_fixed_size = std::is_same_v<std::decay_t<decltype(y)>, Eigen::Vector3d>;
    dy(0) = 10.0 * (y(1) - y(0));
    dy(1) = y(0) * (28.0 - y(2)) - y(1);
    dy(2) = y(0) * y(1) - (8.0 / 3.0) * y(2);
  };
  const auto sol = odeint(f, y0, {0.0, 20.0}, tolerances<double>(1e-8));
  EXPECT_TRUE(saw_fixed_size);
  EXPECT_EQ(sol.stats.accepted, 1628);
  EXPECT_EQ(sol.stats.rejected, 196);
  EXPECT_EQ(sol.stats.nfe, 10946);
}

TEST(StaticPath, TakesOnlyAdaptiveStaticMethodsWithoutFixedStepOptions) {
  const Eigen::Vector2d y0(2.0, 0.0);
  auto fixed_size_seen = [&](const Options& options) {
    bool fixed = false;
    auto f = [&](Time t, const auto& y, auto& dy) {
      fixed = std::is_same_v<std::decay_t<decltype(y)>, Eigen::Vector2d>;
      van_der_pol(t, y, dy);
    };
    odeint(f, y0, {0.0, 1.0}, options);
    return fixed;
  };
  Options options;
  for (const char* method : kMethods) {
    options.method = method;
    EXPECT_TRUE(fixed_size_seen(options)) << method;
  }
  options.method = "rk4";
  EXPECT_FALSE(fixed_size_seen(options));
  options.method = "adaptive_heun";
  EXPECT_FALSE(fixed_size_seen(options));
  options.method = "dopri5";
  options.step_size = 0.1;
  EXPECT_FALSE(fixed_size_seen(options));
}

TEST(StaticPath, FixedSizeOnlyRightHandSidesRunEveryMethod) {
  auto f = [](Time, const Eigen::Vector2d& y, Eigen::Vector2d& dy) {
    dy(0) = y(1);
    dy(1) = -y(0);
  };
  const Eigen::Vector2d y0(1.0, 0.0);
  for (const char* method : {"dopri5", "rk4", "adams", "adaptive_heun"}) {
    Options options = tolerances<double>(1e-9);
    options.method = method;
    options.step_size = std::string(method) == "rk4" ? 0.01 : 0.0;
    const auto sol = odeint(f, y0, {0.0, 1.0}, options);
    EXPECT_NEAR(sol.ys.back()(0), std::cos(1.0), 1e-6) << method;
    EXPECT_NEAR(sol.ys.back()(1), -std::sin(1.0), 1e-6) << method;
  }
}

TEST(StaticPath, BatchesOfFixedSizeMatchTheRunTimePath) {
  const auto rotation = [](Time, const auto& y, auto& dy) {
    dy.row(0) = y.row(1);
    dy.row(1) = -y.row(0);
  };
  Eigen::Matrix<double, 2, 3> y0;
  y0 << 1.0, 0.5, -2.0, 0.0, 1.5, 0.25;
  const Matrix<double> y0_dynamic = y0;
  for (const char* method : kMethods) {
    Options options = tolerances<double>(1e-9);
    options.method = method;
    const auto fixed = odeint(rotation, y0, {0.0, 0.5, 2.0}, options);
    const auto dynamic = odeint(rotation, y0_dynamic, {0.0, 0.5, 2.0}, options);
    EXPECT_EQ(fixed.stats.nfe, dynamic.stats.nfe) << method;
    for (std::size_t k = 0; k < 3; ++k) EXPECT_EQ(fixed.ys[k], dynamic.ys[k]) << method << " k = " << k;
  }
}

TEST(StaticPath, ReturningRightHandSidesMatchTheRunTimePath) {
  auto f = [](Time, const auto& y) {
    std::decay_t<decltype(y)> dy(2, 1);
    dy << y(1), std::fma(std::fma(-y(0), y(0), 1.0), y(1), -y(0));
    return dy;
  };
  const Eigen::Vector2d y0(2.0, 0.0);
  const auto fixed = odeint(f, y0, {0.0, 3.0, 6.0}, tolerances<double>(1e-8));
  const auto dynamic = odeint(f, Matrix<double>(y0), {0.0, 3.0, 6.0}, tolerances<double>(1e-8));
  EXPECT_EQ(fixed.stats.nfe, dynamic.stats.nfe);
  for (std::size_t k = 0; k < 3; ++k) EXPECT_EQ(fixed.ys[k], dynamic.ys[k]);
}

// Runs the solve with a fixed-size and with a Matrix y0; both must throw E
// with the same message.
template <class E, int N, class F>
void expect_same_error(const F& f, const Eigen::Matrix<double, N, 1>& y0, const std::vector<Time>& ts,
                       const Options& options) {
  std::string fixed_message, dynamic_message;
  try {
    odeint(f, y0, ts, options);
    ADD_FAILURE() << "static path: no exception";
  } catch (const E& e) {
    fixed_message = e.what();
  }
  try {
    odeint(f, Matrix<double>(y0), ts, options);
    ADD_FAILURE() << "run-time path: no exception";
  } catch (const E& e) {
    dynamic_message = e.what();
  }
  EXPECT_FALSE(fixed_message.empty());
  EXPECT_EQ(fixed_message, dynamic_message);
}

TEST(StaticPath, RaisesTheRunTimePathsErrors) {
  const Eigen::Vector3d y0(1.0, 1.0, 1.0);
  Options options = tolerances<double>(1e-8);
  options.max_num_steps = 50;
  expect_same_error<MaxStepsExceeded>(lorenz, y0, {0.0, 20.0}, options);
  options.max_num_steps = 100000;

  const auto blow_up = [](Time, const auto& y, auto& dy) { dy = y.cwiseProduct(y); };
  const Eigen::Matrix<double, 1, 1> one(1.0);
  expect_same_error<StepSizeUnderflow>(blow_up, one, {0.0, 2.0}, options);
  expect_same_error<StepSizeUnderflow>(blow_up, Eigen::Matrix<double, 1, 1>(-1.0), {0.0, -2.0}, options);
  Options min_step = options;
  min_step.min_step = 1e-3;
  expect_same_error<NonFiniteError>(blow_up, one, {0.0, 2.0}, min_step);

  const auto nan_at_start = [](Time, const auto&, auto& dy) { dy.setConstant(std::nan("")); };
  expect_same_error<NonFiniteError>(nan_at_start, y0, {0.0, 1.0}, options);
  Options bad = options;
  bad.rtol = -1.0;
  expect_same_error<InvalidArgument>(lorenz, y0, {0.0, 1.0}, bad);
  expect_same_error<InvalidArgument>(lorenz, y0, {0.0, 1.0, 1.0}, options);
  expect_same_error<NonFiniteError>(lorenz, Eigen::Vector3d(1.0, std::nan(""), 1.0), {0.0, 1.0}, options);
  bad = options;
  bad.atol = Tolerance({1e-6, 1e-6});
  expect_same_error<ShapeError>(lorenz, y0, {0.0, 1.0}, bad);

  const auto wrong_shape = [](Time, const auto&) { return Matrix<double>::Zero(2, 1).eval(); };
  expect_same_error<ShapeError>(wrong_shape, y0, {0.0, 1.0}, options);
}

}  // namespace
}  // namespace odeflow
