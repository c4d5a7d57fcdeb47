// Step-size controllers on scripted error-ratio sequences.
#include <odeflow/solve/controller.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace odeflow {
namespace {

double next(const Options& opt, double dt, double ratio, ControllerState& state) {
  return next_step_size(opt, 5, dt, ratio, ratio <= 1.0, state);
}

TEST(IController, GrowsByIfactorWhenTheErrorIsZero) {
  Options opt;
  ControllerState state;
  EXPECT_DOUBLE_EQ(next(opt, 0.1, 0.0, state), 1.0);
}

TEST(IController, FollowsTorchdiffeqsRuleOnAcceptedAndRejectedSteps) {
  Options opt;
  ControllerState state;
  EXPECT_DOUBLE_EQ(next(opt, 0.1, 0.5, state), 0.1 * 0.9 * std::pow(0.5, -0.2));
  EXPECT_DOUBLE_EQ(next(opt, 0.1, 2.0, state), 0.1 * 0.9 * std::pow(2.0, -0.2));
  EXPECT_DOUBLE_EQ(next(opt, 0.1, 1e-12, state), 0.1 * 10.0);  // capped by ifactor
  EXPECT_DOUBLE_EQ(next(opt, 0.1, 1e6, state), 0.1 * 0.2);     // floored by dfactor
}

TEST(IController, NeverShrinksAnAcceptedStep) {
  Options opt;
  ControllerState state;
  EXPECT_DOUBLE_EQ(next(opt, 0.1, 0.99, state), 0.1);
}

TEST(IController, ShrinksByDfactorAfterANonFiniteError) {
  Options opt;
  ControllerState state;
  EXPECT_DOUBLE_EQ(next(opt, 0.1, std::numeric_limits<double>::quiet_NaN(), state), 0.02);
  EXPECT_DOUBLE_EQ(next(opt, 0.1, std::numeric_limits<double>::infinity(), state), 0.02);
}

TEST(IController, ClampsToMinAndMaxStep) {
  Options opt;
  opt.max_step = 0.5;
  opt.min_step = 0.05;
  ControllerState state;
  EXPECT_DOUBLE_EQ(next(opt, 0.1, 0.0, state), 0.5);
  EXPECT_DOUBLE_EQ(next(opt, 0.1, 1e6, state), 0.05);
}

TEST(PIController, CombinesTheLastTwoAcceptedRatios) {
  Options opt;
  opt.controller = Controller::kPI;
  ControllerState state;
  const double q = 5.0;
  // First accepted step: no history yet (previous ratio 1).
  const double dt1 = next(opt, 0.1, 0.1, state);
  EXPECT_DOUBLE_EQ(dt1, 0.1 * 0.9 * std::pow(0.1, -0.7 / q));
  // Second: previous ratio 0.1 enters with exponent p/q = 0.4/q.
  const double dt2 = next(opt, 0.1, 0.01, state);
  EXPECT_DOUBLE_EQ(dt2, 0.1 * 0.9 * std::pow(0.01, -0.7 / q) * std::pow(0.1, 0.4 / q));
}

TEST(PIController, RejectionShrinksAtLeastBySafetyAndKeepsHistory) {
  Options opt;
  opt.controller = Controller::kPI;
  ControllerState state;
  next(opt, 0.1, 0.5, state);
  const double rejected = next(opt, 0.1, 1.5, state);
  EXPECT_LE(rejected, 0.1 * 0.9);
  EXPECT_DOUBLE_EQ(rejected, 0.1 * 0.9 * std::pow(1.5, -0.7 / 5) * std::pow(0.5, 0.4 / 5));
  EXPECT_DOUBLE_EQ(state.previous_ratio, 0.5);  // rejected steps do not enter the history
  EXPECT_DOUBLE_EQ(next(opt, 0.1, 1e9, state), 0.1 * 0.2);
}

TEST(PIController, NeverShrinksAnAcceptedStepNorGrowsBeyondIfactor) {
  Options opt;
  opt.controller = Controller::kPI;
  ControllerState state;
  state.previous_ratio = 1e-6;
  EXPECT_DOUBLE_EQ(next(opt, 0.1, 0.999, state), 0.1);
  EXPECT_DOUBLE_EQ(next(opt, 0.1, 1e-20, state), 1.0);
}

}  // namespace
}  // namespace odeflow
