// Linear, the MLP, ConcatLinear, ConcatSquashLinear and the activations
// against PyTorch's outputs and gradients (tests/data/nn), and the module
// bookkeeping: names, counts, flat views, state_dict round trips.
#include "support/expect_error.hpp"
#include "support/nn_reference.hpp"

#include <odeflow/core/error.hpp>
#include <odeflow/core/random.hpp>
#include <odeflow/nn/linear.hpp>
#include <odeflow/nn/mlp.hpp>

#include <gtest/gtest.h>

namespace odeflow::nn {
namespace {

using test::expect_matches_reference;
using test::ReferenceCheck;

TEST(Linear, MatchesPyTorchInDouble) {
  SplitMix64 rng(1);
  Linear<double> layer(5, 7, rng);
  expect_matches_reference(layer, "linear");
}

TEST(Linear, MatchesPyTorchInFloat) {
  SplitMix64 rng(1);
  Linear<float> layer(5, 7, rng);
  expect_matches_reference(layer, "linear_f32", ReferenceCheck{.output_tol = 1e-6, .grad_tol = 1e-5});
}

TEST(Mlp, MatchesPyTorchSequentialInDoubleAndFloat) {
  SplitMix64 rng(1);
  auto net = make_mlp<double>(MlpSpec{.sizes = {2, 16, 2}}, rng);
  expect_matches_reference(*net, "mlp");
  auto net32 = make_mlp<float>(MlpSpec{.sizes = {2, 16, 2}}, rng);
  expect_matches_reference(*net32, "mlp_f32", ReferenceCheck{.output_tol = 1e-6, .grad_tol = 1e-5});
}

TEST(ConcatSquashLinear, MatchesFfjordLayerIncludingTheTimeGradient) {
  SplitMix64 rng(1);
  ConcatSquashLinear<double> layer(5, 7, rng);
  expect_matches_reference(layer, "concat_squash_linear", ReferenceCheck{.time = true});
}

TEST(ConcatLinear, MatchesWithTimeAsTheLastOrFirstInput) {
  SplitMix64 rng(1);
  ConcatLinear<double> last(5, 7, rng, TimePosition::kLast);
  expect_matches_reference(last, "concat_linear", ReferenceCheck{.time = true});
  ConcatLinear<double> first(5, 7, rng, TimePosition::kFirst);
  expect_matches_reference(first, "concat_linear_tfirst", ReferenceCheck{.time = true});
}

TEST(Activation, EveryKindMatchesPyTorch) {
  for (const char* name : {"tanh", "sigmoid", "softplus", "relu", "elu", "silu", "gelu"}) {
    Activation<double> act(activation_from_name(name));
    expect_matches_reference(act, std::string("act_") + name);
  }
}

TEST(Module, NamesFollowPyTorchStateDict) {
  SplitMix64 rng(1);
  auto net = make_mlp<double>(MlpSpec{.sizes = {2, 16, 16, 2}, .time = TimeInput::kConcatSquash}, rng);
  std::vector<std::string> names;
  for (const auto& np : net->named_parameters()) names.push_back(np.name);
  EXPECT_EQ(names.front(), "0._layer.weight");
  EXPECT_EQ(names[2], "0._hyper_bias.weight");
  EXPECT_EQ(names.back(), "4._hyper_gate.bias");
  EXPECT_EQ(net->parameter_count(), (2 * 16 + 16 + 16 + 2 * 16) + (16 * 16 + 16 + 16 + 2 * 16) + (16 * 2 + 2 + 2 + 2 * 2));
}

TEST(Module, DefaultInitIsPyTorchsUniformDrawnFromSplitMix64) {
  // W2's documented check value: SplitMix64(3), Linear(64, 256) weight[0, 0].
  SplitMix64 rng(3);
  Linear<double> layer(64, 256, rng);
  EXPECT_DOUBLE_EQ(layer.weight().value(0, 0), -0.09663741448571136);
  const double bound = 1.0 / std::sqrt(64.0);
  EXPECT_LE(layer.weight().value.cwiseAbs().maxCoeff(), bound);
  EXPECT_LE(layer.bias()->value.cwiseAbs().maxCoeff(), bound);
  EXPECT_GT(layer.bias()->value.cwiseAbs().maxCoeff(), 0.5 * bound);
}

TEST(UniformMatrix, DrawsColumnMajorWithinItsBounds) {
  SplitMix64 rng(5), same(5);
  const Matrix<float> m = uniform_matrix<float>(3, 4, rng, -2.0, 0.5);
  for (Eigen::Index j = 0; j < 4; ++j) {
    for (Eigen::Index i = 0; i < 3; ++i) EXPECT_EQ(m(i, j), static_cast<float>(same.uniform(-2.0, 0.5)));
  }
  EXPECT_EQ(rng.state(), same.state());
  EXPECT_GE(m.minCoeff(), -2.0F);
  EXPECT_LE(m.maxCoeff(), 0.5F);
}

TEST(Module, FlatParametersRoundTripAndGradientsLineUp) {
  SplitMix64 rng(5);
  auto net = make_mlp<double>(MlpSpec{.sizes = {3, 4, 2}}, rng);
  const Vector<double> flat = net->flat_parameters();
  ASSERT_EQ(flat.size(), net->parameter_count());
  EXPECT_EQ(flat(0), net->named_parameters()[0].param->value(0, 0));
  net->set_flat_parameters(Vector<double>::Zero(flat.size()));
  EXPECT_EQ(net->flat_parameters().norm(), 0.0);
  net->set_flat_parameters(flat);
  EXPECT_EQ(net->flat_parameters(), flat);
  test::expect_error<ShapeError>([&] { net->set_flat_parameters(Vector<double>::Zero(3)); }, "3 values for");
}

TEST(Module, ShapeErrorsNameTheLayerAndBothShapes) {
  SplitMix64 rng(1);
  Linear<double> layer(5, 7, rng);
  ad::Tape<double> tape;
  const ad::Tensor<double> x = tape.constant(Matrix<double>::Zero(4, 2));
  test::expect_error<ShapeError>([&] { layer.forward(x); }, "Linear(5, 7): input is 4x2, expected 5 features");
  ConcatSquashLinear<double> squash(5, 7, rng);
  test::expect_error<InvalidArgument>([&] { squash.forward(tape.constant(Matrix<double>::Zero(5, 2))); },
                                      "ConcatSquashLinear needs the time");
  test::expect_error<ShapeError>([&] { squash.forward(tape.constant(Matrix<double>::Zero(2, 1)), tape.constant(Matrix<double>::Zero(5, 2))); },
                                 "time must be a 1x1 tensor, got 2x1");
}

}  // namespace
}  // namespace odeflow::nn
