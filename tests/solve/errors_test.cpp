// Every error path of odeint raises its exception with a message naming the problem.
#include <odeflow/odeflow.hpp>

#include <gtest/gtest.h>

#include "support/expect_error.hpp"

#include <cmath>
#include <limits>
#include <string>

namespace odeflow {
namespace {

Matrix<double> column(std::initializer_list<double> values) {
  Matrix<double> m(static_cast<Eigen::Index>(values.size()), 1);
  Eigen::Index i = 0;
  for (double v : values) m(i++) = v;
  return m;
}

auto decay = [](Time, const Matrix<double>& y) -> Matrix<double> { return -y; };

using test::expect_error;

TEST(Errors, UnknownMethodNamesTheMethodAndTheKnownOnes) {
  Options opt;
  opt.method = "dopri6";
  expect_error<UnknownMethod>([&] { odeint(decay, column({1.0}), {0.0, 1.0}, opt); }, "'dopri6'");
  expect_error<UnknownMethod>([&] { odeint(decay, column({1.0}), {0.0, 1.0}, opt); }, "dopri5");
}

TEST(Errors, NegativeOrNonFiniteToleranceIsRejected) {
  Options opt;
  opt.rtol = -1e-3;
  expect_error<InvalidArgument>([&] { odeint(decay, column({1.0}), {0.0, 1.0}, opt); }, "rtol");
  opt.rtol = 1e-3;
  opt.atol = std::numeric_limits<double>::quiet_NaN();
  expect_error<InvalidArgument>([&] { odeint(decay, column({1.0}), {0.0, 1.0}, opt); }, "atol");
  opt.rtol = 0.0;
  opt.atol = 0.0;
  expect_error<InvalidArgument>([&] { odeint(decay, column({1.0}), {0.0, 1.0}, opt); }, "both zero");
}

TEST(Errors, PerComponentToleranceMustMatchTheStateRows) {
  Options opt;
  opt.atol = Tolerance({1e-6, 1e-6, 1e-6});
  expect_error<ShapeError>([&] { odeint(decay, column({1.0, 2.0}), {0.0, 1.0}, opt); }, "atol has 3");
}

TEST(Errors, NonMonotoneTimesAreRejected) {
  expect_error<InvalidArgument>([&] { odeint(decay, column({1.0}), {0.0, 1.0, 1.0}); }, "ts[2]");
  expect_error<InvalidArgument>([&] { odeint(decay, column({1.0}), {0.0, 1.0, 0.5}); }, "strictly");
  expect_error<InvalidArgument>([&] { odeint(decay, column({1.0}), std::vector<double>{}); }, "ts is empty");
  expect_error<InvalidArgument>(
      [&] { odeint(decay, column({1.0}), {0.0, std::numeric_limits<double>::infinity()}); }, "ts[1]");
}

TEST(Errors, RightHandSideOfTheWrongShapeIsReported) {
  auto wrong = [](Time, const Matrix<double>&) -> Matrix<double> { return Matrix<double>::Zero(3, 1); };
  expect_error<ShapeError>([&] { odeint(wrong, column({1.0, 2.0}), {0.0, 1.0}); }, "3x1");
  expect_error<ShapeError>([&] { odeint(wrong, column({1.0, 2.0}), {0.0, 1.0}); }, "expected 2x1");
}

TEST(Errors, EmptyStateIsAShapeError) {
  expect_error<ShapeError>([&] { odeint(decay, Matrix<double>(0, 1), {0.0, 1.0}); }, "0x1");
}

TEST(Errors, NonFiniteInitialStateNamesTheComponent) {
  expect_error<NonFiniteError>(
      [&] { odeint(decay, column({1.0, std::numeric_limits<double>::quiet_NaN()}), {0.0, 1.0}); }, "y0(1, 0)");
}

TEST(Errors, NonFiniteDerivativeAtTheStartIsReported) {
  auto bad = [](Time, const Matrix<double>& y) -> Matrix<double> { return y.array().log(); };
  expect_error<NonFiniteError>([&] { odeint(bad, column({1.0, -1.0}), {0.0, 1.0}); }, "f(t0, y0) is not finite");
}

TEST(Errors, BlowUpEndsInStepSizeUnderflowWithTime) {
  // y' = y², y(0) = 1 blows up at t = 1.
  auto blowup = [](Time, const Matrix<double>& y) -> Matrix<double> { return y.array().square(); };
  try {
    odeint(blowup, column({1.0}), {0.0, 2.0});
    FAIL() << "no exception";
  } catch (const StepSizeUnderflow& e) {
    EXPECT_NE(std::string(e.what()).find("step size underflow"), std::string::npos) << e.what();
    EXPECT_NEAR(e.t(), 1.0, 1e-3);
  } catch (const NonFiniteError& e) {
    EXPECT_NEAR(e.t(), 1.0, 1e-3) << e.what();
  }
}

TEST(Errors, MaxNumStepsExceededIsReportedWithTheLimit) {
  Options opt;
  opt.max_num_steps = 5;
  auto rotation = [](Time, const Matrix<double>& y) -> Matrix<double> {
    Matrix<double> dy(2, 1);
    dy << y(1), -y(0);
    return dy;
  };
  expect_error<MaxStepsExceeded>([&] { odeint(rotation, column({1.0, 0.0}), {0.0, 100.0}, opt); },
                                 "max_num_steps = 5");
  opt.method = "rk4";
  opt.step_size = 0.01;
  expect_error<MaxStepsExceeded>([&] { odeint(rotation, column({1.0, 0.0}), {0.0, 100.0}, opt); },
                                 "max_num_steps = 5");
}

TEST(Errors, FixedGridOptionsAreChecked) {
  Options opt;
  opt.method = "euler";
  opt.step_size = 0.1;
  opt.grid_points = {0.0, 0.5, 1.0};
  expect_error<InvalidArgument>([&] { odeint(decay, column({1.0}), {0.0, 1.0}, opt); }, "mutually exclusive");
  opt.step_size = 0.0;
  opt.grid_points = {0.1, 0.5, 1.0};
  expect_error<InvalidArgument>([&] { odeint(decay, column({1.0}), {0.0, 1.0}, opt); }, "grid_points");
  opt.grid_points = {0.0, 0.5, 0.4, 1.0};
  expect_error<InvalidArgument>([&] { odeint(decay, column({1.0}), {0.0, 1.0}, opt); }, "grid_points[2]");
}

TEST(Errors, ControllerParametersAreChecked) {
  Options opt;
  opt.safety = 1.5;
  expect_error<InvalidArgument>([&] { odeint(decay, column({1.0}), {0.0, 1.0}, opt); }, "safety");
  opt = {};
  opt.min_step = 1.0;
  opt.max_step = 0.5;
  expect_error<InvalidArgument>([&] { odeint(decay, column({1.0}), {0.0, 1.0}, opt); }, "min_step");
  opt = {};
  opt.max_num_steps = 0;
  expect_error<InvalidArgument>([&] { odeint(decay, column({1.0}), {0.0, 1.0}, opt); }, "max_num_steps");
  opt = {};
  opt.step_t = {0.5};
  opt.jump_t = {0.5};
  expect_error<InvalidArgument>([&] { odeint(decay, column({1.0}), {0.0, 1.0}, opt); }, "both step_t and jump_t");
}

TEST(Errors, FailedSolveLeavesTheCallersStateUntouched) {
  const Matrix<double> y0 = column({1.0, 2.0});
  const Matrix<double> copy = y0;
  Options opt;
  opt.max_num_steps = 1;
  EXPECT_THROW(odeint(decay, y0, {0.0, 100.0}, opt), MaxStepsExceeded);
  EXPECT_EQ(y0, copy);
}

}  // namespace
}  // namespace odeflow
