// GRUCell against PyTorch (tests/data/nn/grucell: output, grad_input,
// grad_hx and every parameter gradient), against finite differences, its
// init and its error messages.
#include "support/expect_error.hpp"
#include "support/module_check.hpp"
#include "support/nn_reference.hpp"

#include <odeflow/ad/gradcheck.hpp>
#include <odeflow/core/error.hpp>
#include <odeflow/nn/gru.hpp>

#include <gtest/gtest.h>

namespace odeflow::nn {
namespace {

using test::max_rel_error;

TEST(GRUCell, MatchesPyTorchIncludingTheHiddenStateGradient) {
  SplitMix64 rng(1);
  GRUCell<double> cell(3, 5, rng);
  const io::TensorFile file = io::read_safetensors(test::data_path("nn/grucell.safetensors"));
  io::load_state_dict(cell, file, io::LoadOptions{.strict = false});
  cell.zero_grad();

  ad::Tape<double> tape;
  ad::GradScope<double> scope(tape);
  const ad::Tensor<double> x = tape.variable(file.batch<double>("input"));
  const ad::Tensor<double> h = tape.variable(file.batch<double>("hx"));
  const ad::Tensor<double> y = cell.step(x, h);
  EXPECT_LE(max_rel_error(y.value(), file.batch<double>("output")), 1e-14);

  const ad::Tensor<double> loss = ad::sum(ad::mul(y, tape.constant(file.batch<double>("grad_output"))));
  const std::vector<ad::Tensor<double>> inputs{x, h};
  const std::vector<ad::Tensor<double>> grads = tape.grad(std::span<const ad::Tensor<double>>(&loss, 1), inputs);
  EXPECT_LE(max_rel_error(grads[0].value(), file.batch<double>("grad_input")), 1e-13);
  EXPECT_LE(max_rel_error(grads[1].value(), file.batch<double>("grad_hx")), 1e-13);
  tape.backward(loss);
  const auto params = cell.named_parameters();
  ASSERT_EQ(params.size(), 4u);
  for (const NamedParameter<double>& np : params) {
    const std::vector<double> want = file.at("grad." + np.name, np.param->shape).converted<double>();
    const Eigen::Map<const Matrix<double>> w(want.data(), np.param->value.rows(), np.param->value.cols());
    EXPECT_LE(max_rel_error(np.param->grad, w), 1e-13) << np.name;
  }
}

TEST(GRUCell, ParametersFollowPyTorchsOrderShapesAndInit) {
  SplitMix64 rng(8);
  GRUCell<double> cell(3, 4, rng);
  const auto params = cell.named_parameters();
  ASSERT_EQ(params.size(), 4u);
  EXPECT_EQ(params[0].name, "weight_ih");
  EXPECT_EQ(params[0].param->shape, (std::vector<std::int64_t>{12, 3}));
  EXPECT_EQ(params[1].name, "weight_hh");
  EXPECT_EQ(params[1].param->shape, (std::vector<std::int64_t>{12, 4}));
  EXPECT_EQ(params[2].name, "bias_ih");
  EXPECT_EQ(params[3].name, "bias_hh");
  // Every element is drawn from U(-1/sqrt(H), 1/sqrt(H)) in registration order.
  SplitMix64 replay(8);
  for (const NamedParameter<double>& np : params) {
    for (Eigen::Index i = 0; i < np.param->value.size(); ++i) {
      ASSERT_EQ(np.param->value.data()[i], replay.uniform(-0.5, 0.5)) << np.name << " " << i;
    }
  }
  EXPECT_EQ(GRUCell<double>(3, 4, rng, false).parameter_count(), 12 * 3 + 12 * 4);
}

TEST(GRUCell, ForwardStartsFromAZeroHiddenState) {
  SplitMix64 rng(2);
  GRUCell<double> cell(3, 4, rng);
  ad::Tape<double> tape;
  const ad::Tensor<double> x = tape.constant(test::random_matrix(3, 2, 40));
  EXPECT_EQ(cell.forward(x).value(), cell.step(x, tape.zeros(4, 2)).value());
  // A time-dependent caller's t is ignored, as for any plain layer.
  EXPECT_EQ(cell.forward(tape.scalar(0.7), x).value(), cell.forward(x).value());
}

TEST(GRUCell, GradientsMatchFiniteDifferencesToSecondOrder) {
  SplitMix64 rng(6);
  GRUCell<double> cell(3, 4, rng);
  const ad::TensorFunction<double> f = [&](ad::Tape<double>&, std::span<const ad::Tensor<double>> in) {
    return cell.step(in[0], in[1]);
  };
  const std::vector<Matrix<double>> inputs{test::random_matrix(3, 2, 41), test::random_matrix(4, 2, 42)};
  const ad::GradcheckResult first = ad::gradcheck<double>(f, inputs);
  EXPECT_TRUE(first.ok) << first.worst;
  const ad::GradcheckResult second = ad::gradgradcheck<double>(f, inputs);
  EXPECT_TRUE(second.ok) << second.worst;
  const ad::GradcheckResult params = test::parameter_gradcheck<double>(cell, [&](ad::Tape<double>& tape) {
    return cell.step(tape.constant(inputs[0]), tape.constant(inputs[1]));
  });
  EXPECT_TRUE(params.ok) << params.worst;
}

TEST(GRUCell, ShapeErrorsNameTheLayerAndBothShapes) {
  SplitMix64 rng(1);
  GRUCell<double> cell(3, 5, rng);
  ad::Tape<double> tape;
  test::expect_error<ShapeError>([&] { cell.step(tape.zeros(4, 2), tape.zeros(5, 2)); },
                                 "GRUCell(3, 5): input is 4x2, expected 3 features");
  test::expect_error<ShapeError>([&] { cell.step(tape.zeros(3, 2), tape.zeros(5, 3)); },
                                 "GRUCell(3, 5): hidden state is 5x3, expected 5x2 for input 3x2");
  test::expect_error<InvalidArgument>([&] { GRUCell<double>(0, 5, rng); }, "sizes must be at least 1");
}

}  // namespace
}  // namespace odeflow::nn
