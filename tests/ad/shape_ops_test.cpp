// Shape ops (concat, slice_rows, slice_cols, split, reshape, transpose, flatten): VJPs
// and second order against finite differences on random shapes, the values
// they move around, image geometry, and their error messages.
#include <odeflow/ad/gradcheck.hpp>
#include <odeflow/ad/ops.hpp>
#include <odeflow/core/error.hpp>

#include "support/expect_error.hpp"
#include "support/op_cases.hpp"

#include <gtest/gtest.h>

#include <array>
#include <random>

namespace odeflow::ad {
namespace {

using T = Tensor<double>;
using Inputs = std::span<const T>;
using test::expect_error;
using test::OpCase;
using test::random_inputs;

// Shape ops are linear, so each row multiplies by an input somewhere to give
// the second order something to check.
const OpCase kCases[] = {
    {"concat_two", 2, [](Tape<double>&, Inputs x) { return square(concat(x[0], x[1])); }, -2, 2, true, "fd"},
    {"concat_three", 3,
     [](Tape<double>&, Inputs x) {
       const std::array<T, 3> parts{x[0], x[1], x[2]};
       return square(concat<double>(parts));
     },
     -2, 2, true, "fdr"},
    {"concat_many_parts_chained", 5,
     [](Tape<double>&, Inputs x) {
       const std::array<T, 7> parts{x[0], x[1], x[2], x[3], x[4], x[0], x[2]};
       return square(concat<double>(parts));
     },
     -2, 2, true, "fdrfd"},
    {"concat_with_constant_parts", 2,
     [](Tape<double>& tape, Inputs x) {
       const T c = tape.full(2, x[0].cols(), 0.5);
       const std::array<T, 5> parts{c, x[0], c, x[1], c};
       return square(concat<double>(parts));
     },
     -2, 2, true, "fr"},
    {"slice_rows", 1, [](Tape<double>&, Inputs x) { return square(slice_rows(x[0], 1, x[0].rows() - 2)); }, -2, 2,
     true, "d"},
    {"slice_cols", 1,
     [](Tape<double>&, Inputs x) {
       return add(square(slice_cols(x[0], x[0].cols() - 1, 1)), sum(slice_cols(x[0], 0, (x[0].cols() + 1) / 2)));
     },
     -2, 2, true, "d"},
    {"slice_across_concat", 2,
     [](Tape<double>&, Inputs x) { return square(slice_rows(concat(x[0], x[1]), 1, x[0].rows())); }, -2, 2, true,
     "fd"},
    {"split", 1,
     [](Tape<double>&, Inputs x) {
       const std::array<Eigen::Index, 3> sizes{1, x[0].rows() - 2, 1};
       const std::vector<T> s = split<double>(x[0], sizes);
       const std::array<T, 3> parts{s[2], mul(s[1], s[1]), mul(s[0], s[2])};
       return concat<double>(parts);
     },
     -2, 2, true, "d"},
    {"reshape_swapping_dimensions", 1,
     [](Tape<double>&, Inputs x) { return square(reshape(x[0], x[0].cols(), x[0].rows())); }},
    {"reshape_to_column", 2,
     [](Tape<double>&, Inputs x) { return mul(reshape(x[0], x[0].size(), 1), reshape(x[1], x[1].size(), 1)); }},
    {"transpose", 2, [](Tape<double>&, Inputs x) { return mul(transpose(x[0]), x[1]); }, -2, 2, true, "fk"},
    {"transpose_in_a_product", 1, [](Tape<double>&, Inputs x) { return matmul(transpose(x[0]), x[0]); }, -2, 2, true,
     "f"},
    {"flatten_image", 1,
     [](Tape<double>&, Inputs x) {
       const T image = reshape(x[0], x[0].rows(), x[0].cols(), Shape{1, static_cast<int>(x[0].rows()), 1});
       return square(flatten(image));
     },
     -2, 2, true, "d"},
};

class ShapeOpGradient : public ::testing::TestWithParam<OpCase> {};

TEST_P(ShapeOpGradient, MatchesFiniteDifferencesOnRandomShapesIncludingBatchOne) {
  test::expect_first_order_matches(GetParam());
}

TEST_P(ShapeOpGradient, SecondOrderMatchesFiniteDifferencesOfTheGradient) {
  test::expect_second_order_matches(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Ops, ShapeOpGradient, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<OpCase>& info) { return std::string(info.param.name); });

Matrix<double> counting(Eigen::Index rows, Eigen::Index cols, double start = 0) {
  Matrix<double> m(rows, cols);
  for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = start + static_cast<double>(k);
  return m;
}

TEST(Concat, StacksPartsAlongTheFeatures) {
  Tape<double> tape;
  const Matrix<double> a = counting(2, 3);
  const Matrix<double> b = counting(1, 3, 10);
  const Matrix<double> c = counting(3, 3, 20);
  const std::array<T, 3> parts{tape.constant(a), tape.constant(b), tape.constant(c)};
  const T y = concat<double>(parts);
  ASSERT_EQ(y.rows(), 6);
  ASSERT_EQ(y.cols(), 3);
  EXPECT_EQ(Matrix<double>(y.value().topRows(2)), a);
  EXPECT_EQ(Matrix<double>(y.value().middleRows(2, 1)), b);
  EXPECT_EQ(Matrix<double>(y.value().bottomRows(3)), c);
}

TEST(Concat, WritesOneBufferForManyParts) {
  Tape<double> tape;
  std::vector<T> parts;
  for (int i = 0; i < 9; ++i) parts.push_back(tape.constant(counting(3, 4, 10.0 * i)));
  const std::size_t before = tape.bytes_in_use();
  const T y = concat<double>(parts);
  const std::size_t bytes = sizeof(double) * static_cast<std::size_t>(y.size());
  const std::size_t one_buffer = (bytes + Arena::kAlignment - 1) / Arena::kAlignment * Arena::kAlignment;
  EXPECT_EQ(tape.bytes_in_use() - before, one_buffer);
}

TEST(Concat, GivesEachOfManyPartsItsRowsOfTheCotangent) {
  Tape<double> tape;
  GradScope<double> scope(tape);
  std::vector<T> parts;
  for (int i = 0; i < 6; ++i) parts.push_back(tape.variable(counting(i % 3 + 1, 2)));
  parts.push_back(tape.constant(counting(2, 2)));  // needs no gradient
  parts.push_back(parts[1]);                       // appears twice: its gradients add
  const T y = concat<double>(parts);
  const Matrix<double> seed = counting(y.rows(), y.cols(), 1);
  const T seed_t = tape.constant(seed);
  const std::vector<T> g = tape.grad(std::span<const T>(&y, 1), parts, std::span<const T>(&seed_t, 1));
  Eigen::Index offset = 0;
  std::vector<Matrix<double>> expected(parts.size());
  for (std::size_t i = 0; i < parts.size(); ++i) {
    expected[i] = parts[i].requires_grad() ? Matrix<double>(seed.middleRows(offset, parts[i].rows()))
                                           : Matrix<double>::Zero(parts[i].rows(), 2);
    offset += parts[i].rows();
  }
  expected[1] += expected[7];
  expected[7] = expected[1];
  for (std::size_t i = 0; i < parts.size(); ++i) EXPECT_EQ(Matrix<double>(g[i].value()), expected[i]) << "part " << i;
}

TEST(Concat, StacksImagesOfOneSizeAlongTheChannels) {
  Tape<double> tape;
  const T a = tape.constant(counting(8, 2), Shape{2, 2, 2});
  const T b = tape.constant(counting(4, 2), Shape{1, 2, 2});
  EXPECT_EQ(concat(a, b).shape(), (Shape{3, 2, 2}));
  const T c = tape.constant(counting(3, 2));
  EXPECT_FALSE(concat(a, c).shape().is_image());
}

TEST(SliceRows, TakesTheRowsAndKeepsWholeChannelsOfAnImage) {
  Tape<double> tape;
  const Matrix<double> m = counting(12, 2);
  const T x = tape.constant(m, Shape{3, 2, 2});
  const T channel = slice_rows(x, 4, 4);
  EXPECT_EQ(Matrix<double>(channel.value()), Matrix<double>(m.middleRows(4, 4)));
  EXPECT_EQ(channel.shape(), (Shape{1, 2, 2}));
  EXPECT_FALSE(slice_rows(x, 1, 4).shape().is_image());
}

TEST(Split, ReturnsConsecutiveRowBlocks) {
  Tape<double> tape;
  const Matrix<double> m = counting(6, 3);
  const std::array<Eigen::Index, 3> sizes{2, 0, 4};
  const std::vector<T> parts = split(tape.constant(m), std::span<const Eigen::Index>(sizes));
  ASSERT_EQ(parts.size(), 3U);
  EXPECT_EQ(Matrix<double>(parts[0].value()), Matrix<double>(m.topRows(2)));
  EXPECT_EQ(parts[1].rows(), 0);
  EXPECT_EQ(parts[1].cols(), 3);
  EXPECT_EQ(Matrix<double>(parts[2].value()), Matrix<double>(m.bottomRows(4)));
}

TEST(Reshape, KeepsTheColumnMajorElementOrder) {
  Tape<double> tape;
  const Matrix<double> m = counting(4, 3);
  const T y = reshape(tape.constant(m), 2, 6);
  const Eigen::Map<const Matrix<double>> expected(m.data(), 2, 6);
  EXPECT_EQ(Matrix<double>(y.value()), Matrix<double>(expected));
  EXPECT_EQ(reshape(tape.constant(m), 4, 3, Shape{1, 2, 2}).shape(), (Shape{1, 2, 2}));
}

TEST(Transpose, SwapsRowsAndColumns) {
  Tape<double> tape;
  const Matrix<double> m = counting(2, 5);
  EXPECT_EQ(Matrix<double>(transpose(tape.constant(m)).value()), Matrix<double>(m.transpose()));
}

TEST(Flatten, DropsTheImageGeometryAndRestoresItInTheGradient) {
  Tape<double> tape;
  GradScope<double> scope(tape);
  const T x = tape.variable(counting(8, 2), Shape{2, 2, 2});
  const T y = flatten(x);
  EXPECT_EQ(y.shape(), Shape::features(8));
  EXPECT_EQ(Matrix<double>(y.value()), Matrix<double>(x.value()));
  const T g = tape.grad(sum(square(y)), x, tape.scalar(1.0));
  EXPECT_EQ(g.shape(), x.shape());
  EXPECT_EQ(Matrix<double>(g.value()), Matrix<double>(2 * x.value()));
}

TEST(ShapeErrors, ConcatNamesBothShapesWhenColumnsDiffer) {
  Tape<double> tape;
  const T a = tape.zeros(3, 2);
  const T b = tape.zeros(4, 5);
  expect_error<ShapeError>([&] { concat(a, b); }, "concat: shapes 3x2 (part 0) and 4x5 (part 1) differ in columns");
  expect_error<InvalidArgument>([&] { concat(std::span<const T>()); }, "concat: no parts");
}

TEST(ShapeErrors, SliceOutsideTheRowsIsRefused) {
  Tape<double> tape;
  const T x = tape.zeros(4, 3);
  expect_error<ShapeError>([&] { slice_rows(x, 2, 3); }, "slice_rows: rows [2, 5) are outside a tensor of 4x3");
  expect_error<ShapeError>([&] { slice_rows(x, -1, 2); }, "slice_rows: rows [-1, 1)");
  expect_error<ShapeError>([&] { slice_cols(x, 1, 3); }, "slice_cols: columns [1, 4) are outside a tensor of 4x3");
}

TEST(ShapeErrors, SplitSizesMustSumToTheRows) {
  Tape<double> tape;
  const T x = tape.zeros(4, 3);
  const std::array<Eigen::Index, 2> short_sizes{1, 2};
  expect_error<ShapeError>([&] { split(x, std::span<const Eigen::Index>(short_sizes)); },
                           "split: sizes sum to 3 rows but the tensor is 4x3");
  const std::array<Eigen::Index, 2> negative{5, -1};
  expect_error<ShapeError>([&] { split(x, std::span<const Eigen::Index>(negative)); }, "split: size -1 of part 1");
}

TEST(ShapeErrors, ReshapeMustKeepTheElementCountAndFitTheGeometry) {
  Tape<double> tape;
  const T x = tape.zeros(4, 3);
  expect_error<ShapeError>([&] { reshape(x, 5, 2); },
                           "reshape: a tensor of 4x3 (12 elements) cannot become 5x2 (10 elements)");
  expect_error<ShapeError>([&] { reshape(x, 6, 2, Shape{1, 2, 2}); }, "reshape: image shape 1x2x2 does not hold 6 rows");
}

}  // namespace
}  // namespace odeflow::ad
