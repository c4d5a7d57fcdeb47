// Options that shape the step sequence: step_t, jump_t, min/max_step,
// first_step, per-component tolerances, norms, controllers and batches.
#include <odeflow/odeflow.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace odeflow {
namespace {

Matrix<double> rotation(Time, const Matrix<double>& y) {
  Matrix<double> dy(y.rows(), y.cols());
  dy.row(0) = y.row(1);
  dy.row(1) = -y.row(0);
  return dy;
}

Matrix<double> unit_circle_start(Eigen::Index batch = 1) {
  Matrix<double> y0(2, batch);
  y0.row(0).setOnes();
  y0.row(1).setZero();
  return y0;
}

std::vector<StepInfo> accepted_steps(Options& opt, Time t1) {
  std::vector<StepInfo> log;
  opt.on_step = [&log](const StepInfo& s) {
    if (s.accepted) log.push_back(s);
  };
  odeint(rotation, unit_circle_start(), {0.0, t1}, opt);
  return log;
}

TEST(StepOptions, StepsLandExactlyOnStepT) {
  Options opt;
  opt.step_t = {0.3, 1.7, 2.25};
  const auto log = accepted_steps(opt, 3.0);
  for (double target : opt.step_t) {
    const bool hit = std::any_of(log.begin(), log.end(), [&](const StepInfo& s) { return s.t0 + s.dt == target; });
    EXPECT_TRUE(hit) << "no step ends at " << target;
  }
}

TEST(StepOptions, JumpTRestartsAtADiscontinuityOfF) {
  // y' = 1 before t = 1 and −1 after: y(2) = 0 exactly when the jump is a step end.
  auto ramp = [](Time t, const Matrix<double>& y) -> Matrix<double> {
    return Matrix<double>::Constant(y.rows(), y.cols(), t < 1.0 ? 1.0 : -1.0);
  };
  Options opt;
  opt.rtol = 1e-8;
  opt.atol = 1e-10;
  const Matrix<double> y0 = Matrix<double>::Zero(1, 1);
  const auto blind = odeint(ramp, y0, {0.0, 2.0}, opt);
  opt.jump_t = {1.0};
  const auto told = odeint(ramp, y0, {0.0, 1.5, 2.0}, opt);
  EXPECT_NEAR(told.ys[1](0), 0.5, 1e-14);
  EXPECT_NEAR(told.ys[2](0), 0.0, 1e-14);
  EXPECT_LT(told.stats.nfe, blind.stats.nfe);
  EXPECT_EQ(told.stats.rejected, 0);
}

TEST(StepOptions, MaxStepBoundsEveryStep) {
  Options opt;
  opt.max_step = 0.05;
  for (const StepInfo& s : accepted_steps(opt, 2.0)) EXPECT_LE(s.dt, 0.05 + 1e-15);
}

TEST(StepOptions, MinStepForcesAcceptance) {
  Options opt;
  opt.min_step = 0.5;
  opt.rtol = 1e-12;
  opt.atol = 1e-12;
  std::int64_t rejected = 0;
  opt.on_step = [&rejected](const StepInfo& s) { rejected += s.accepted ? 0 : 1; };
  odeint(rotation, unit_circle_start(), {0.0, 5.0}, opt);
  EXPECT_EQ(rejected, 0);
}

TEST(StepOptions, FirstStepIsUsedAsGiven) {
  Options opt;
  opt.first_step = 0.0123;
  std::vector<StepInfo> log;
  opt.on_step = [&log](const StepInfo& s) { log.push_back(s); };
  const auto sol = odeint(rotation, unit_circle_start(), {0.0, 1.0}, opt);
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.front().dt, 0.0123);
  EXPECT_EQ(sol.stats.first_step, 0.0123);
  EXPECT_EQ(sol.stats.nfe, 1 + 6 * sol.stats.steps());  // no initial-step evaluation
}

TEST(StepOptions, TighterPerComponentToleranceControlsThatComponent) {
  // Two decoupled decays; only row 1 gets a tight tolerance.
  auto decay = [](Time, const Matrix<double>& y) -> Matrix<double> { return -y; };
  Matrix<double> y0(2, 1);
  y0 << 1.0, 1.0;
  Options loose;
  loose.rtol = 1e-4;
  loose.atol = 1e-6;
  Options mixed = loose;
  mixed.rtol = Tolerance({1e-4, 1e-10});
  mixed.atol = Tolerance({1e-6, 1e-12});
  const auto a = odeint(decay, y0, {0.0, 3.0}, loose);
  const auto b = odeint(decay, y0, {0.0, 3.0}, mixed);
  const double exact = std::exp(-3.0);
  EXPECT_GT(b.stats.steps(), a.stats.steps());
  EXPECT_LT(std::abs(b.ys[1](1) - exact), 1e-8);
  EXPECT_GT(std::abs(a.ys[1](1) - exact), 1e-8);
}

TEST(StepOptions, MaxNormIsNeverLooserThanRms) {
  Options rms;
  Options max = rms;
  max.norm = Norm::kMax;
  Matrix<double> y0 = unit_circle_start(3);
  y0(1, 2) = 5.0;
  const auto a = odeint(rotation, y0, {0.0, 10.0}, rms);
  const auto b = odeint(rotation, y0, {0.0, 10.0}, max);
  EXPECT_GE(b.stats.steps(), a.stats.steps());
}

TEST(StepOptions, PIControllerSolvesToTheRequestedAccuracyWithFewerRejections) {
  auto vdp = [](Time, const Matrix<double>& y) -> Matrix<double> {
    Matrix<double> dy(2, 1);
    dy << y(1), (1.0 - y(0) * y(0)) * y(1) - y(0);
    return dy;
  };
  Matrix<double> y0(2, 1);
  y0 << 2.0, 0.0;
  Options i;
  i.rtol = 1e-8;
  i.atol = 1e-8;
  Options pi = i;
  pi.controller = Controller::kPI;
  Options ref = i;
  ref.rtol = 1e-13;
  ref.atol = 1e-13;
  const auto a = odeint(vdp, y0, {0.0, 20.0}, i);
  const auto b = odeint(vdp, y0, {0.0, 20.0}, pi);
  const auto exact = odeint(vdp, y0, {0.0, 20.0}, ref);
  EXPECT_LT(b.stats.rejected, a.stats.rejected);
  EXPECT_LT((b.ys[1] - exact.ys[1]).cwiseAbs().maxCoeff(), 1e-5);
}

TEST(StepOptions, BatchColumnsShareOneStepSequence) {
  // Identical columns see the single-column solve (the RMS over the batch
  // rounds differently only in the last bit); stats are per call.
  const auto single = odeint(rotation, unit_circle_start(1), {0.0, 1.0, 4.0});
  const auto batch = odeint(rotation, unit_circle_start(4), {0.0, 1.0, 4.0});
  EXPECT_EQ(batch.stats.nfe, single.stats.nfe);
  EXPECT_EQ(batch.stats.accepted, single.stats.accepted);
  for (Eigen::Index c = 0; c < 4; ++c) EXPECT_LT((batch.ys[2].col(c) - single.ys[2].col(0)).norm(), 1e-14);
}

TEST(StepOptions, OutputTimesAreInterpolatedNotStepped) {
  std::vector<double> ts;
  for (int i = 0; i <= 200; ++i) ts.push_back(0.05 * i);
  Options opt;
  opt.rtol = 1e-9;
  opt.atol = 1e-12;
  const auto dense = odeint(rotation, unit_circle_start(), ts, opt);
  const auto sparse = odeint(rotation, unit_circle_start(), {0.0, 10.0}, opt);
  EXPECT_EQ(dense.stats.steps(), sparse.stats.steps());
  for (std::size_t i = 0; i < ts.size(); ++i) {
    EXPECT_NEAR(dense.ys[i](0), std::cos(ts[i]), 1e-7);
    EXPECT_NEAR(dense.ys[i](1), -std::sin(ts[i]), 1e-7);
  }
}

TEST(StepOptions, FixedStepGridPointsAndLinearInterpolation) {
  Options opt;
  opt.method = "rk4";
  opt.grid_points = {0.0, 0.1, 0.25, 0.5, 1.0};
  opt.interpolation = FixedInterpolation::kLinear;
  std::vector<StepInfo> log;
  opt.on_step = [&log](const StepInfo& s) { log.push_back(s); };
  const auto sol = odeint(rotation, unit_circle_start(), {0.0, 0.75, 1.0}, opt);
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[2].t0, 0.25);
  EXPECT_EQ(sol.stats.nfe, 4 * 4);
  // Halfway through [0.5, 1], linear interpolation is the mean of the ends.
  opt.on_step = nullptr;
  const auto ends = odeint(rotation, unit_circle_start(), {0.0, 0.5, 1.0}, opt);
  EXPECT_NEAR(sol.ys[1](0), 0.5 * (ends.ys[1](0) + ends.ys[2](0)), 1e-15);
}

}  // namespace
}  // namespace odeflow
