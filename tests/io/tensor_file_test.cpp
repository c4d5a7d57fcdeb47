// Tensors and TensorFile: the Eigen layout conventions, shape and dtype
// checks, and their error messages.
#include "odeflow/io/tensor_file.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "odeflow/core/error.hpp"
#include "support/expect_error.hpp"

namespace odeflow::io {
namespace {

using test::expect_error;

// A tensor holding 0, 1, 2, ... in row-major order.
Tensor iota(Shape shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<double> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0.0);
  return {std::move(shape), std::move(v)};
}

TEST(TensorFile, MatrixTakesDimZeroAsRowsLikeALinearWeight) {
  TensorFile f;
  f.insert("weight", iota({2, 3}));  // PyTorch [out, in], row-major
  const auto m = f.matrix<double>("weight");
  ASSERT_EQ(m.rows(), 2);
  ASSERT_EQ(m.cols(), 3);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_EQ(m(i, j), 3 * i + j);
}

TEST(TensorFile, MatrixFlattensTrailingDimsIntoColumnsLikeAConvWeight) {
  TensorFile f;
  f.insert("conv", iota({2, 3, 2, 2}));
  const auto m = f.matrix<double>("conv");
  ASSERT_EQ(m.rows(), 2);
  ASSERT_EQ(m.cols(), 12);
  EXPECT_EQ(m(1, 0), 12.0);
  EXPECT_EQ(m(1, 11), 23.0);
}

TEST(TensorFile, BatchTakesDimZeroAsColumnsWithTheSameBytes) {
  TensorFile f;
  f.insert("input", iota({4, 3}));  // [batch, features]
  const auto x = f.batch<double>("input");
  ASSERT_EQ(x.rows(), 3);
  ASSERT_EQ(x.cols(), 4);
  EXPECT_EQ(x(2, 1), 5.0);  // sample 1, feature 2
  const auto bytes = f.at("input").bytes();
  EXPECT_EQ(std::memcmp(x.data(), bytes.data(), bytes.size()), 0);
}

TEST(TensorFile, VectorsAreColumnsAndScalarsAreOneByOne) {
  TensorFile f;
  f.insert("bias", iota({3}));
  f.insert("t", Tensor({}, std::vector<double>{0.25}));
  EXPECT_EQ(f.matrix<double>("bias").rows(), 3);
  EXPECT_EQ(f.matrix<double>("bias").cols(), 1);
  EXPECT_EQ(f.batch<double>("bias").rows(), 1);
  EXPECT_EQ(f.batch<double>("bias").cols(), 3);
  EXPECT_EQ(f.matrix<double>("t")(0, 0), 0.25);
  EXPECT_EQ(f.batch<double>("t").size(), 1);
}

TEST(TensorFile, EmptyTensorsKeepTheirShape) {
  TensorFile f;
  f.insert("none", Tensor({0, 5}, std::vector<float>{}));
  const auto m = f.matrix<float>("none");
  EXPECT_EQ(m.rows(), 0);
  EXPECT_EQ(m.cols(), 5);
  EXPECT_EQ(f.batch<float>("none").rows(), 5);
}

TEST(TensorFile, AnEmptyTensorWhoseRowsOverflowHasNoMatrixView) {
  TensorFile f("e.safetensors");
  const std::int64_t big = std::int64_t{1} << 40;
  f.insert("e", Tensor({0, big, big}, std::vector<double>{}));
  EXPECT_EQ(f.at("e").numel(), 0);
  expect_error<FormatError>([&] { f.matrix<double>("e"); },
                            "tensor 'e': shape [0, 1099511627776, 1099511627776] has too many values per row");
  expect_error<FormatError>([&] { f.batch<double>("e"); }, "too many values per row");
  f.insert("z", Tensor({big, big, 0}, std::vector<double>{}));
  EXPECT_EQ(f.matrix<double>("z").rows(), big);
  EXPECT_EQ(f.matrix<double>("z").cols(), 0);
}

TEST(TensorFile, InsertedMatricesAndBatchesComeBackUnchanged) {
  const Matrix<float> w = Matrix<float>::Random(3, 4);
  const Matrix<double> x = Matrix<double>::Random(5, 2);
  TensorFile f;
  f.insert_matrix("w", w);
  f.insert_batch("x", x);
  EXPECT_EQ(f.at("w").shape(), (Shape{3, 4}));
  EXPECT_EQ(f.at("x").shape(), (Shape{2, 5}));
  EXPECT_EQ(f.at("w").dtype(), Dtype::kF32);
  EXPECT_EQ(f.matrix<float>("w"), w);
  EXPECT_EQ(f.batch<double>("x"), x);
  EXPECT_EQ(f.at("w").values<float>()[1], w(0, 1));  // row-major
}

TEST(TensorFile, AMissingTensorNamesTheSourceAndTheTensorsItHas) {
  TensorFile f("weights.safetensors");
  f.insert("bias", iota({2}));
  f.insert("weight", iota({2, 2}));
  const auto e = expect_error<FormatError>([&] { f.at("wieght"); },
                                           "weights.safetensors: no tensor 'wieght' (it holds 'bias', 'weight')");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->tensor(), "wieght");
  EXPECT_EQ(e->path(), "weights.safetensors");
}

TEST(TensorFile, AWrongShapeNamesBothShapes) {
  TensorFile f("w.safetensors");
  f.insert("weight", iota({7, 5}));
  expect_error<FormatError>(
      [&] {
        f.matrix<double>("weight", {5, 7});
      },
      "w.safetensors: tensor 'weight': shape [7, 5], expected [5, 7]");
  expect_error<FormatError>([&] { f.batch<double>("weight", {7}); }, "shape [7, 5], expected [7]");
  EXPECT_EQ(f.matrix<double>("weight", {7, 5}).rows(), 7);
}

TEST(TensorFile, DtypesConvertOnlyWhenAsked) {
  TensorFile f("m.safetensors");
  f.insert("x", Tensor({2}, std::vector<float>{0.1f, -3.0f}));
  f.insert("y", Tensor({1}, std::vector<double>{0.1}));
  expect_error<FormatError>([&] { f.matrix<double>("x"); },
                            "m.safetensors: tensor 'x': dtype F32, but F64 was asked for");
  expect_error<FormatError>([&] { f.batch<float>("y"); }, "tensor 'y': dtype F64, but F32 was asked for");
  EXPECT_EQ(f.matrix<double>("x", DtypeConversion::kAllow)(0), static_cast<double>(0.1f));
  EXPECT_EQ(f.matrix<float>("y", DtypeConversion::kAllow)(0), 0.1f);
  expect_error<InvalidArgument>([&] { f.at("x").values<double>(); }, "F32 values, not F64");
}

TEST(TensorFile, TheMetadataNameIsReserved) {
  TensorFile f;
  expect_error<InvalidArgument>([&] { f.insert("__metadata__", iota({1})); }, "reserved");
}

TEST(Tensor, ValuesMustFillTheShape) {
  expect_error<InvalidArgument>([] { Tensor({2, 3}, std::vector<double>(5)); }, "shape [2, 3] does not hold 5 values");
  expect_error<InvalidArgument>([] { Tensor({-1}, std::vector<float>{}); }, "shape [-1]");
  EXPECT_EQ(Tensor({}, std::vector<double>{1.0}).numel(), 1);
}

TEST(Tensor, BitwiseEqualitySeesSignedZerosAndNaNPayloads) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(Tensor({1}, std::vector<double>{nan}).bitwise_equal(Tensor({1}, std::vector<double>{nan})));
  EXPECT_FALSE(Tensor({1}, std::vector<double>{0.0}).bitwise_equal(Tensor({1}, std::vector<double>{-0.0})));
  EXPECT_FALSE(Tensor({1}, std::vector<double>{1.0}).bitwise_equal(Tensor({1}, std::vector<float>{1.0f})));
  EXPECT_FALSE(Tensor({2}, std::vector<double>{1, 2}).bitwise_equal(Tensor({2, 1}, std::vector<double>{1, 2})));
}

}  // namespace
}  // namespace odeflow::io
