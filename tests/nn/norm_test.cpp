// GroupNorm, BatchNorm1d and BatchNorm2d against PyTorch (tests/data/nn),
// including BatchNorm's running-statistics update; gradients against finite
// differences; train/eval behaviour; error messages.
#include "support/expect_error.hpp"
#include "support/module_check.hpp"
#include "support/nn_reference.hpp"

#include <odeflow/ad/gradcheck.hpp>
#include <odeflow/core/error.hpp>
#include <odeflow/nn/norm.hpp>

#include <gtest/gtest.h>

namespace odeflow::nn {
namespace {

using test::expect_matches_reference;
using test::ReferenceCheck;

TEST(GroupNorm, MatchesPyTorchOnImages) {
  GroupNorm<double> norm(2, 4);
  expect_matches_reference(norm, "groupnorm", ReferenceCheck{.input_shape = {4, 3, 3}});
}

TEST(BatchNorm1d, TrainModeMatchesPyTorchAndUpdatesTheRunningStatistics) {
  BatchNorm1d<double> norm(4);
  const nlohmann::json meta = test::load_json("nn/batchnorm1d_train.json");
  norm.set_num_batches_tracked(meta.at("integer_buffers_before").at("num_batches_tracked").get<std::int64_t>());
  ASSERT_TRUE(norm.training());
  expect_matches_reference(norm, "batchnorm1d_train");

  const io::TensorFile file = io::read_safetensors(test::data_path("nn/batchnorm1d_train.safetensors"));
  EXPECT_LE(test::max_rel_error(norm.running_mean().value, file.matrix<double>("running_mean_after")), 1e-15);
  EXPECT_LE(test::max_rel_error(norm.running_var().value, file.matrix<double>("running_var_after")), 1e-15);
  EXPECT_EQ(norm.num_batches_tracked(), meta.at("integer_buffers_after").at("num_batches_tracked").get<std::int64_t>());
}

TEST(BatchNorm1d, EvalModeMatchesPyTorchAndLeavesTheBuffersAlone) {
  BatchNorm1d<double> norm(4);
  norm.eval();
  expect_matches_reference(norm, "batchnorm1d_eval");
  const io::TensorFile file = io::read_safetensors(test::data_path("nn/batchnorm1d_eval.safetensors"));
  EXPECT_EQ(norm.running_mean().value, file.matrix<double>("running_mean"));
  EXPECT_EQ(norm.running_var().value, file.matrix<double>("running_var"));
  EXPECT_EQ(norm.running_mean().value, file.matrix<double>("running_mean_after"));
  EXPECT_EQ(norm.num_batches_tracked(), 0);
}

TEST(BatchNorm, DefaultsAndStateDictNamesFollowPyTorch) {
  BatchNorm2d<double> norm(3);
  const auto params = norm.named_parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].name, "weight");
  EXPECT_EQ(params[0].param->value, Matrix<double>::Ones(3, 1));
  EXPECT_EQ(params[1].param->value, Matrix<double>::Zero(3, 1));
  const auto buffers = norm.named_buffers();
  ASSERT_EQ(buffers.size(), 2u);  // num_batches_tracked is a counter, not a buffer
  EXPECT_EQ(buffers[0].name, "running_mean");
  EXPECT_EQ(buffers[1].name, "running_var");
  EXPECT_EQ(buffers[1].param->value, Matrix<double>::Ones(3, 1));
  EXPECT_EQ(norm.parameter_count(), 6);
  EXPECT_EQ(BatchNorm1d<double>(3, {.affine = false}).parameter_count(), 0);
  EXPECT_EQ(GroupNorm<double>(1, 3, 1e-5, false).parameter_count(), 0);
}

// Per-channel statistics over the batch and the plane, computed directly.
TEST(BatchNorm2d, NormalizesEachChannelOverBatchAndPlaneAndTracksUnbiasedVariance) {
  BatchNorm2d<double> norm(2, {.momentum = 0.25});
  const ad::Shape shape{2, 2, 3};
  const Matrix<double> x = test::random_matrix(shape.size(), 4, 21) + Matrix<double>::Constant(12, 4, 0.7);
  ad::Tape<double> tape;
  const Matrix<double> y = norm.forward(tape.constant(x, shape)).value();
  for (int c = 0; c < 2; ++c) {
    const Eigen::VectorXd values = x.middleRows(6 * c, 6).reshaped();
    const Eigen::VectorXd out = y.middleRows(6 * c, 6).reshaped();
    const double mean = values.mean();
    const double biased = (values.array() - mean).square().mean();
    EXPECT_NEAR(out.mean(), 0.0, 1e-14);
    EXPECT_NEAR((out.array().square()).mean(), biased / (biased + 1e-5), 1e-13);
    EXPECT_NEAR(norm.running_mean().value(c), 0.25 * mean, 1e-15);
    EXPECT_NEAR(norm.running_var().value(c), 0.75 + 0.25 * biased * 24.0 / 23.0, 1e-14);
  }
  norm.eval();
  const Matrix<double> z = norm.forward(tape.constant(x, shape)).value();
  for (int c = 0; c < 2; ++c) {
    const double scale = 1.0 / std::sqrt(norm.running_var().value(c) + 1e-5);
    const Matrix<double> want = (x.middleRows(6 * c, 6).array() - norm.running_mean().value(c)) * scale;
    EXPECT_LE((z.middleRows(6 * c, 6) - want).cwiseAbs().maxCoeff(), 1e-14);
  }
}

template <class Layer>
void expect_gradients_match(Layer& layer, ad::Shape shape, Eigen::Index batch, std::uint64_t seed) {
  const std::vector<Matrix<double>> x{test::random_matrix(shape.size(), batch, seed)};
  const ad::TensorFunction<double> f = [&](ad::Tape<double>&, std::span<const ad::Tensor<double>> in) {
    return layer.forward(ad::reshape(in[0], in[0].rows(), in[0].cols(), shape));
  };
  const ad::GradcheckResult first = ad::gradcheck<double>(f, x);
  EXPECT_TRUE(first.ok) << layer.type_name() << ": " << first.worst;
  const ad::GradcheckResult second = ad::gradgradcheck<double>(f, x);
  EXPECT_TRUE(second.ok) << layer.type_name() << ": " << second.worst;
  // Non-trivial affine parameters so their gradients are not a special case.
  Vector<double> theta = layer.flat_parameters();
  theta += Vector<double>::LinSpaced(theta.size(), -0.5, 0.5);
  layer.set_flat_parameters(theta);
  const ad::GradcheckResult params = test::parameter_gradcheck<double>(
      layer, [&](ad::Tape<double>& tape) { return layer.forward(tape.constant(x[0], shape)); });
  EXPECT_TRUE(params.ok) << layer.type_name() << ": " << params.worst;
}

TEST(GroupNorm, GradientsMatchFiniteDifferencesToSecondOrder) {
  GroupNorm<double> norm(3, 6);
  expect_gradients_match(norm, ad::Shape{6, 2, 2}, 2, 31);
  GroupNorm<double> features(2, 4);  // plain C x N features are 1x1 images
  expect_gradients_match(features, ad::Shape::features(4), 3, 32);
}

TEST(BatchNorm, GradientsMatchFiniteDifferencesInTrainAndEvalMode) {
  BatchNorm1d<double> norm1d(3);
  expect_gradients_match(norm1d, ad::Shape::features(3), 5, 33);
  BatchNorm2d<double> norm2d(2);
  expect_gradients_match(norm2d, ad::Shape{2, 2, 3}, 2, 34);
  norm2d.running_mean().value << 0.3, -0.2;
  norm2d.running_var().value << 0.5, 2.0;
  norm2d.eval();
  expect_gradients_match(norm2d, ad::Shape{2, 2, 3}, 2, 35);
}

TEST(Norm, ErrorsNameTheLayerAndBothShapes) {
  ad::Tape<double> tape;
  GroupNorm<double> group(2, 4);
  test::expect_error<ShapeError>([&] { group.forward(tape.zeros(27, 2, ad::Shape{3, 3, 3})); },
                                 "GroupNorm(2, 4): input is 27x2 (image 3x3x3), expected images of 4 channels");
  test::expect_error<InvalidArgument>([&] { GroupNorm<double>(3, 4); }, "4 channels cannot be split into 3 equal groups");
  BatchNorm1d<double> norm1d(4);
  test::expect_error<ShapeError>([&] { norm1d.forward(tape.zeros(5, 6)); }, "BatchNorm1d(4): input is 5x6, expected 4xN");
  test::expect_error<ShapeError>([&] { norm1d.forward(tape.zeros(4, 1)); },
                                 "BatchNorm1d(4): training needs more than one value per channel, input is 4x1");
  norm1d.eval();
  EXPECT_EQ(norm1d.forward(tape.zeros(4, 1)).cols(), 1);  // eval mode takes a single sample
  BatchNorm2d<double> norm2d(3);
  test::expect_error<ShapeError>([&] { norm2d.forward(tape.zeros(8, 2, ad::Shape{2, 2, 2})); },
                                 "BatchNorm2d(3): input is 8x2 (image 2x2x2), expected images of 3 channels");
  test::expect_error<InvalidArgument>([&] { BatchNorm1d<double>(4, {.momentum = 1.5}); },
                                      "momentum must be in [0, 1], got 1.5");
  test::expect_error<InvalidArgument>([&] { BatchNorm1d<double>(4, {.eps = 0}); }, "eps must be positive");
}

}  // namespace
}  // namespace odeflow::nn
