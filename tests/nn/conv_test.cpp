// Conv2d and ConcatConv2d against PyTorch's outputs and gradients
// (tests/data/nn), their gradients against finite differences, PyTorch's
// default initialization, and their error messages.
#include "support/expect_error.hpp"
#include "support/module_check.hpp"
#include "support/nn_reference.hpp"

#include <odeflow/ad/gradcheck.hpp>
#include <odeflow/core/error.hpp>
#include <odeflow/nn/conv.hpp>
#include <odeflow/nn/sequential.hpp>

#include <gtest/gtest.h>

namespace odeflow::nn {
namespace {

using test::expect_matches_reference;
using test::ReferenceCheck;

TEST(Conv2d, MatchesPyTorchWithStrideOneAndPadding) {
  SplitMix64 rng(1);
  Conv2d<double> conv(3, 4, 3, rng, {.stride = 1, .padding = 1});
  expect_matches_reference(conv, "conv2d_s1", ReferenceCheck{.input_shape = {3, 5, 5}});
}

TEST(Conv2d, MatchesPyTorchWithStrideTwoLeavingThePaddedEdgeUnused) {
  SplitMix64 rng(1);
  Conv2d<double> conv(3, 4, 3, rng, {.stride = 2, .padding = 1});
  expect_matches_reference(conv, "conv2d_s2", ReferenceCheck{.input_shape = {3, 6, 6}});
}

TEST(Conv2d, MatchesPyTorchInFloatWithinFloatRounding) {
  SplitMix64 rng(1);
  Conv2d<float> conv(3, 4, 3, rng, {.stride = 1, .padding = 1});
  // The reference is float64; the float layer loads it rounded (conversion allowed).
  const io::TensorFile file = io::read_safetensors(test::data_path("nn/conv2d_s1.safetensors"));
  io::load_state_dict(conv, file, io::LoadOptions{.strict = false, .conversion = io::DtypeConversion::kAllow});
  ad::Tape<float> tape;
  const Matrix<float> x = file.batch<double>("input").cast<float>();
  const ad::Tensor<float> y = conv.forward(tape.constant(x, ad::Shape{3, 5, 5}));
  EXPECT_EQ(y.shape(), (ad::Shape{4, 5, 5}));
  EXPECT_LE(test::max_rel_error(y.value(), file.batch<double>("output")), 1e-5);
}

TEST(ConcatConv2d, MatchesTorchdiffeqWithTimeAsTheFirstChannel) {
  SplitMix64 rng(1);
  ConcatConv2d<double> conv(3, 4, 3, rng, {.stride = 1, .padding = 1});
  expect_matches_reference(conv, "concat_conv2d", ReferenceCheck{.time = true, .input_shape = {3, 5, 5}});
}

TEST(Conv2d, NamesShapesAndOutputGeometryFollowPyTorch) {
  SplitMix64 rng(1);
  Conv2d<double> conv(3, 8, 3, rng, {.stride = 2, .padding = 1});
  const auto params = conv.named_parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].name, "weight");
  EXPECT_EQ(params[0].param->shape, (std::vector<std::int64_t>{8, 3, 3, 3}));
  EXPECT_EQ(params[0].param->value.rows(), 27);
  EXPECT_EQ(params[1].name, "bias");
  ConcatConv2d<double> concat(3, 8, 3, rng);
  EXPECT_EQ(concat.named_parameters()[0].name, "_layer.weight");
  EXPECT_EQ(concat.named_parameters()[0].param->shape, (std::vector<std::int64_t>{8, 4, 3, 3}));
  Conv2d<double> no_bias(3, 8, 3, rng, {.bias = false});
  EXPECT_EQ(no_bias.parameter_count(), 8 * 3 * 3 * 3);

  ad::Tape<double> tape;
  const ad::Tensor<double> y = conv.forward(tape.zeros(3 * 7 * 6, 2, ad::Shape{3, 7, 6}));
  EXPECT_EQ(y.shape(), (ad::Shape{8, 4, 3}));  // (7 + 2 - 3) / 2 + 1 = 4, (6 + 2 - 3) / 2 + 1 = 3
  EXPECT_EQ(y.cols(), 2);
}

TEST(Conv2d, DefaultInitDrawsWeightThenBiasFromTheGivenGenerator) {
  SplitMix64 rng(9);
  Conv2d<double> conv(2, 3, 3, rng);
  SplitMix64 replay(9);
  const double bound = 1.0 / std::sqrt(2.0 * 3 * 3);
  const Matrix<double>& w = conv.weight().value;
  for (Eigen::Index i = 0; i < w.size(); ++i) ASSERT_EQ(w.data()[i], replay.uniform(-bound, bound)) << i;
  for (Eigen::Index i = 0; i < 3; ++i) ASSERT_EQ(conv.bias()->value(i), replay.uniform(-bound, bound)) << i;
  EXPECT_EQ(rng.state(), replay.state());
}

ad::TensorFunction<double> conv_of_input(Conv2d<double>& conv, ad::Shape shape) {
  return [&conv, shape](ad::Tape<double>&, std::span<const ad::Tensor<double>> in) {
    return conv.forward(ad::reshape(in[0], in[0].rows(), in[0].cols(), shape));
  };
}

TEST(Conv2d, GradientsMatchFiniteDifferencesToSecondOrder) {
  SplitMix64 rng(3);
  Conv2d<double> conv(2, 3, 3, rng, {.stride = 2, .padding = 1});
  const ad::Shape shape{2, 5, 4};
  const std::vector<Matrix<double>> x{test::random_matrix(shape.size(), 2, 11)};
  const ad::GradcheckResult first = ad::gradcheck<double>(conv_of_input(conv, shape), x);
  EXPECT_TRUE(first.ok) << first.worst;
  const ad::GradcheckResult second = ad::gradgradcheck<double>(conv_of_input(conv, shape), x);
  EXPECT_TRUE(second.ok) << second.worst;
  const ad::GradcheckResult params = test::parameter_gradcheck<double>(
      conv, [&](ad::Tape<double>& tape) { return conv.forward(tape.constant(x[0], shape)); });
  EXPECT_TRUE(params.ok) << params.worst;
}

TEST(ConcatConv2d, TimeAndInputGradientsMatchFiniteDifferences) {
  SplitMix64 rng(4);
  ConcatConv2d<double> conv(2, 3, 3, rng, {.padding = 1});
  const ad::Shape shape{2, 4, 4};
  const ad::TensorFunction<double> f = [&](ad::Tape<double>&, std::span<const ad::Tensor<double>> in) {
    return conv.forward(in[0], ad::reshape(in[1], in[1].rows(), in[1].cols(), shape));
  };
  const std::vector<Matrix<double>> inputs{Matrix<double>::Constant(1, 1, 0.3), test::random_matrix(shape.size(), 3, 12)};
  const ad::GradcheckResult first = ad::gradcheck<double>(f, inputs);
  EXPECT_TRUE(first.ok) << first.worst;
  const ad::GradcheckResult second = ad::gradgradcheck<double>(f, inputs);
  EXPECT_TRUE(second.ok) << second.worst;
}

TEST(Conv2d, ComposesInATimeDependentSequentialIgnoringTime) {
  SplitMix64 rng(5);
  Sequential<double> net;
  net.push_back(std::make_unique<ConcatConv2d<double>>(2, 4, 3, rng, Conv2dOptions{.padding = 1}));
  net.push_back(std::make_unique<Conv2d<double>>(4, 2, 3, rng, Conv2dOptions{.padding = 1}));
  ad::Tape<double> tape;
  const ad::Tensor<double> x = tape.constant(test::random_matrix(2 * 3 * 3, 2, 13), ad::Shape{2, 3, 3});
  const ad::Tensor<double> y0 = net.forward(tape.scalar(0.0), x);
  const ad::Tensor<double> y1 = net.forward(tape.scalar(1.0), x);
  EXPECT_EQ(y0.shape(), (ad::Shape{2, 3, 3}));
  EXPECT_GT((y0.value() - y1.value()).norm(), 0.0);  // the time channel reaches the output
}

TEST(Conv2d, ShapeErrorsNameTheLayerAndBothShapes) {
  SplitMix64 rng(1);
  Conv2d<double> conv(3, 4, 3, rng, {.padding = 1});
  ad::Tape<double> tape;
  test::expect_error<ShapeError>([&] { conv.forward(tape.zeros(2 * 25, 2, ad::Shape{2, 5, 5})); },
                                 "Conv2d(3, 4, kernel_size=3, stride=1, padding=1): input is 50x2 (image 2x5x5), "
                                 "expected images of 3 channels");
  test::expect_error<ShapeError>([&] { conv.forward(tape.zeros(75, 2)); }, "input is 75x2, expected images of 3");
  Conv2d<double> big(3, 4, 5, rng);
  test::expect_error<ShapeError>([&] { big.forward(tape.zeros(3 * 9, 1, ad::Shape{3, 3, 3})); },
                                 "input is 27x1 (image 3x3x3), smaller than the 5x5 kernel");
  ConcatConv2d<double> concat(3, 4, 3, rng);
  test::expect_error<ShapeError>([&] { concat.forward(tape.scalar(0.0), tape.zeros(4 * 25, 1, ad::Shape{4, 5, 5})); },
                                 "ConcatConv2d(3, 4): input is 100x1 (image 4x5x5), expected images of 3 channels");
  test::expect_error<InvalidArgument>([&] { concat.forward(tape.zeros(3 * 25, 1, ad::Shape{3, 5, 5})); },
                                      "ConcatConv2d needs the time");
  test::expect_error<InvalidArgument>([&] { Conv2d<double>(3, 4, 0, rng); }, "kernel and stride must be positive");
}

}  // namespace
}  // namespace odeflow::nn
