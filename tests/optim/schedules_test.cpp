// StepLr, ExponentialLr and CosineAnnealingLr against PyTorch 1.13's
// schedulers (tests/data/optim/lr_schedulers.*), their closed forms, resuming
// from a saved state, and their argument checks.
#include <odeflow/core/error.hpp>
#include <odeflow/optim/adam.hpp>
#include <odeflow/optim/lr_scheduler.hpp>
#include <odeflow/optim/sgd.hpp>

#include <gtest/gtest.h>

#include "support/test_data.hpp"

#include <cmath>
#include <functional>
#include <memory>
#include <string>

namespace odeflow::optim {
namespace {

const nlohmann::json& reference_json() {
  static const auto json = test::load_json("optim/lr_schedulers.json");
  return json;
}

const std::map<std::string, test::RefTensor>& reference_tensors() {
  static const auto tensors = test::load_safetensors("optim/lr_schedulers.safetensors");
  return tensors;
}

std::unique_ptr<LrScheduler> make_scheduler(const std::string& name, OptimizerBase& optimizer) {
  const nlohmann::json& args = reference_json()["cases"][name]["args"];
  if (name == "steplr") return std::make_unique<StepLr>(optimizer, args["step_size"], args["gamma"]);
  if (name == "exponentiallr") return std::make_unique<ExponentialLr>(optimizer, args["gamma"]);
  return std::make_unique<CosineAnnealingLr>(optimizer, args["T_max"], args["eta_min"]);
}

// The reference's optimizer: SGD(lr = 0.1) on a 2-vector.
struct TwoParameters {
  Eigen::VectorXd p = Eigen::VectorXd::Zero(2), grad = Eigen::VectorXd::Zero(2);
  Sgd<double> sgd{{view_of<double>("p", p, grad)}, SgdOptions{.lr = reference_json()["base_lr"]}};
};

class PyTorchSchedule : public ::testing::TestWithParam<std::string> {};

TEST_P(PyTorchSchedule, StepSetsTheOptimizersLrToPyTorchsRecursiveValues) {
  TwoParameters model;
  const auto scheduler = make_scheduler(GetParam(), model.sgd);
  const std::vector<double>& expected = reference_tensors().at(GetParam() + ".lr").data;
  ASSERT_EQ(expected.size(), 21u);
  EXPECT_EQ(model.sgd.lr(), expected[0]);
  EXPECT_EQ(scheduler->last_lr(), expected[0]);
  for (std::size_t e = 1; e <= 20; ++e) {
    model.sgd.step();
    scheduler->step();
    // PyTorch's recursive arithmetic repeated operation for operation (with
    // glibc's cos the values are bit-identical).
    EXPECT_DOUBLE_EQ(model.sgd.lr(), expected[e]) << "epoch " << e;
    EXPECT_EQ(scheduler->last_lr(), model.sgd.lr());
  }
  EXPECT_EQ(scheduler->last_epoch(), 20);
}

TEST_P(PyTorchSchedule, ClosedFormMatchesPyTorchsClosedForm) {
  TwoParameters model;
  const auto scheduler = make_scheduler(GetParam(), model.sgd);
  const std::vector<double>& expected = reference_tensors().at(GetParam() + ".lr_closed_form").data;
  for (std::int64_t e = 0; e <= 20; ++e)
    EXPECT_DOUBLE_EQ(scheduler->closed_form_lr(e), expected[static_cast<std::size_t>(e)]) << "epoch " << e;
}

INSTANTIATE_TEST_SUITE_P(Schedulers, PyTorchSchedule,
                         ::testing::Values("steplr", "exponentiallr", "cosine_tmax20", "cosine_tmax7"),
                         [](const auto& info) { return info.param; });

TEST(CosineAnnealingLr, RisesAgainAfterTMaxAndReturnsToTheBaseLrAtTwiceTMax) {
  const std::vector<double>& lr = reference_tensors().at("cosine_tmax7.lr").data;
  TwoParameters model;
  CosineAnnealingLr scheduler(model.sgd, 7, 1e-3);
  for (int e = 1; e <= 14; ++e) scheduler.step();
  EXPECT_GT(lr[8], lr[7]);
  EXPECT_NEAR(scheduler.last_lr(), 0.1, 1e-16);
  EXPECT_DOUBLE_EQ(scheduler.last_lr(), lr[14]);
}

TEST(LrScheduler, RespectsAnLrSetByHandBetweenSteps) {
  TwoParameters model;
  ExponentialLr scheduler(model.sgd, 0.5);
  scheduler.step();
  model.sgd.set_lr(1.0);  // chainable, as PyTorch: the next step starts here
  scheduler.step();
  EXPECT_EQ(model.sgd.lr(), 0.5);
  EXPECT_EQ(scheduler.closed_form_lr(2), 0.1 * 0.25);
}

// A checkpoint of Adam + cosine schedule at epoch 9 resumes to the same bits
// as a run that never stopped.
TEST(LrScheduler, ResumesBitExactlyWithItsOptimizer) {
  auto train = [](Eigen::VectorXd& p, Eigen::VectorXd& grad, Adam<double>& adam, LrScheduler& schedule, int epochs) {
    for (int e = 0; e < epochs; ++e) {
      grad = p.array().sin() + 0.5 * p.array();  // any deterministic gradient
      adam.step();
      schedule.step();
    }
  };
  const Eigen::VectorXd p0 = Eigen::VectorXd::LinSpaced(4, -1.0, 2.0);
  Eigen::VectorXd p = p0, grad = Eigen::VectorXd::Zero(4);
  Adam<double> adam({view_of<double>("w", p, grad)}, AdamOptions{.lr = 0.1});
  CosineAnnealingLr schedule(adam, 5, 1e-3);
  train(p, grad, adam, schedule, 9);
  const auto optimizer_state = adam.export_state();
  const auto schedule_state = schedule.state();
  const Eigen::VectorXd p_saved = p;
  train(p, grad, adam, schedule, 11);

  Eigen::VectorXd q = p_saved, q_grad = Eigen::VectorXd::Zero(4);
  Adam<double> adam2({view_of<double>("w", q, q_grad)}, AdamOptions{.lr = 0.1});
  CosineAnnealingLr schedule2(adam2, 5, 1e-3);
  adam2.import_state(optimizer_state);
  schedule2.load_state(schedule_state);
  train(q, q_grad, adam2, schedule2, 11);
  EXPECT_EQ(q, p);
  EXPECT_EQ(adam2.lr(), adam.lr());
  EXPECT_EQ(schedule2.last_epoch(), 20);
}

template <class F>
void expect_invalid(F&& body, const std::string& needle) {
  try {
    body();
    FAIL() << "no exception; expected one mentioning '" << needle << "'";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

TEST(LrScheduler, RejectsBadArgumentsNamingThem) {
  TwoParameters model;
  expect_invalid([&] { StepLr(model.sgd, 0); }, "step_size = 0");
  expect_invalid([&] { StepLr(model.sgd, 3, -0.5); }, "gamma = -0.5");
  expect_invalid([&] { ExponentialLr(model.sgd, std::nan("")); }, "gamma = nan");
  expect_invalid([&] { CosineAnnealingLr(model.sgd, 0); }, "T_max = 0");
  expect_invalid([&] { CosineAnnealingLr(model.sgd, 10, -1e-3); }, "eta_min = -0.001");
  expect_invalid([&] { ExponentialLr(model.sgd, 0.9).closed_form_lr(-1); }, "epoch = -1");
  expect_invalid([&] { ExponentialLr(model.sgd, 0.9).load_state({.last_epoch = -2}); }, "epoch = -2");
}

}  // namespace
}  // namespace odeflow::optim
