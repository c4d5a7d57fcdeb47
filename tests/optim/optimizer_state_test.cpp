// Optimizer state export/import: PyTorch's key names under each parameter's
// name, parameter shapes, and imports that reject anything that does not fit
// (leaving the optimizer unchanged).
#include <odeflow/core/error.hpp>
#include <odeflow/optim/adam.hpp>
#include <odeflow/optim/rmsprop.hpp>
#include <odeflow/optim/sgd.hpp>

#include <gtest/gtest.h>

#include "support/expect_error.hpp"

#include <cmath>
#include <string>
#include <vector>

namespace odeflow::optim {
namespace {

// A Linear(3, 2)-like parameter set: "0.weight" [2, 3] and "0.bias" [2].
struct Layer {
  Eigen::MatrixXd weight = Eigen::MatrixXd::Constant(3, 2, 0.5), weight_grad = Eigen::MatrixXd::Constant(3, 2, 0.1);
  Eigen::VectorXd bias = Eigen::VectorXd::Constant(2, -0.25), bias_grad = Eigen::VectorXd::Constant(2, 0.2);

  std::vector<ParamView<double>> views() {
    return {view_of<double>("0.weight", weight, weight_grad, {2, 3}), view_of<double>("0.bias", bias, bias_grad)};
  }
};

std::vector<std::string> array_names(const OptimizerState<double>& state) {
  std::vector<std::string> names;
  for (const auto& [name, array] : state.arrays) names.push_back(name);
  return names;
}

TEST(OptimizerState, NamesEveryBufferByParameterAndPyTorchKey) {
  Layer layer;
  Adam<double> adam(layer.views(), AdamOptions{.amsgrad = true});
  adam.step();
  const OptimizerState<double> state = adam.export_state();
  EXPECT_EQ(array_names(state), (std::vector<std::string>{"0.bias.exp_avg", "0.bias.exp_avg_sq",
                                                          "0.bias.max_exp_avg_sq", "0.weight.exp_avg",
                                                          "0.weight.exp_avg_sq", "0.weight.max_exp_avg_sq"}));
  EXPECT_EQ(state.arrays.at("0.weight.exp_avg").shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(state.arrays.at("0.bias.exp_avg_sq").shape, (std::vector<std::int64_t>{2}));
  // One Adam step from zero moments: m = (1 − β1)·g.
  EXPECT_EQ(state.arrays.at("0.bias.exp_avg").values[1], (1.0 - 0.9) * 0.2);
  EXPECT_EQ(state.scalars.at("step"), 1.0);
  EXPECT_EQ(state.scalars.at("lr"), 1e-3);
}

TEST(OptimizerState, HoldsOnlyTheBuffersTheOptionsNeed) {
  Layer layer;
  EXPECT_TRUE(Sgd<double>(layer.views(), SgdOptions{.lr = 0.1}).export_state().arrays.empty());
  const auto rms = RmsProp<double>(layer.views(), RmsPropOptions{.centered = true}).export_state();
  EXPECT_EQ(array_names(rms), (std::vector<std::string>{"0.bias.grad_avg", "0.bias.square_avg",
                                                        "0.weight.grad_avg", "0.weight.square_avg"}));
}

using test::expect_error;

class ImportRejects : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int k = 0; k < 3; ++k) sgd_.step();
    good_ = sgd_.export_state();
  }
  // Import `bad` must throw E mentioning `needle` and change nothing.
  template <class E>
  void expect_rejected(const OptimizerState<double>& bad, const std::string& needle) {
    Layer other;
    Sgd<double> fresh(other.views(), kOptions);
    const auto before = fresh.export_state();
    expect_error<E>([&] { fresh.import_state(bad); }, needle);
    const auto after = fresh.export_state();
    EXPECT_EQ(after.scalars, before.scalars);
    for (const auto& [name, array] : after.arrays) EXPECT_EQ(array.values, before.arrays.at(name).values);
  }

  static constexpr SgdOptions kOptions{.lr = 0.1, .momentum = 0.9};
  Layer layer_;
  Sgd<double> sgd_{layer_.views(), kOptions};
  OptimizerState<double> good_;
};

TEST_F(ImportRejects, AMissingArray) {
  OptimizerState<double> bad = good_;
  bad.arrays.erase("0.bias.momentum_buffer");
  expect_rejected<InvalidArgument>(bad, "no array '0.bias.momentum_buffer'");
}

TEST_F(ImportRejects, AnUnknownArray) {
  OptimizerState<double> bad = good_;
  bad.arrays["0.bias.exp_avg"] = bad.arrays.at("0.bias.momentum_buffer");
  expect_rejected<InvalidArgument>(bad, "unknown array '0.bias.exp_avg'");
}

TEST_F(ImportRejects, AnArrayOfTheWrongShape) {
  OptimizerState<double> bad = good_;
  bad.arrays.at("0.weight.momentum_buffer").shape = {3, 2};
  expect_rejected<ShapeError>(bad, "'0.weight.momentum_buffer' has shape [3, 2]");
  bad = good_;
  bad.arrays.at("0.bias.momentum_buffer").values.push_back(1.0);
  expect_rejected<ShapeError>(bad, "3 values; expected shape [2]");
}

TEST_F(ImportRejects, AStepThatIsNotACount) {
  OptimizerState<double> bad = good_;
  bad.scalars.at("step") = 2.5;
  expect_rejected<InvalidArgument>(bad, "step = 2.5");
  bad.scalars.at("step") = -1.0;
  expect_rejected<InvalidArgument>(bad, "step = -1");
  bad.scalars.erase("step");
  expect_rejected<InvalidArgument>(bad, "no scalar 'step'");
}

TEST_F(ImportRejects, ANegativeLrOrAnUnknownScalar) {
  OptimizerState<double> bad = good_;
  bad.scalars.at("lr") = -0.1;
  expect_rejected<InvalidArgument>(bad, "lr = -0.1");
  bad = good_;
  bad.scalars["epoch"] = 3.0;
  expect_rejected<InvalidArgument>(bad, "unknown scalar 'epoch'");
}

TEST_F(ImportRejects, NothingThatExportRoundTrips) {
  Layer other;
  Sgd<double> fresh(other.views(), kOptions);
  fresh.import_state(good_);
  const auto again = fresh.export_state();
  EXPECT_EQ(again.scalars, good_.scalars);
  for (const auto& [name, array] : again.arrays) {
    EXPECT_EQ(array.values, good_.arrays.at(name).values) << name;
    EXPECT_EQ(array.shape, good_.arrays.at(name).shape) << name;
  }
}

}  // namespace
}  // namespace odeflow::optim
