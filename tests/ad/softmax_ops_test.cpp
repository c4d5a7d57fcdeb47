// logsumexp, softmax, log_softmax and cross_entropy: VJPs and second order
// against finite differences on random shapes, values against their
// definitions (also where a naive exp would overflow), and error messages.
#include <odeflow/ad/gradcheck.hpp>
#include <odeflow/ad/ops.hpp>
#include <odeflow/core/error.hpp>

#include "support/expect_error.hpp"
#include "support/op_cases.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace odeflow::ad {
namespace {

using T = Tensor<double>;
using Inputs = std::span<const T>;
using test::expect_error;
using test::OpCase;
using test::random_inputs;

// Deterministic labels for a batch: sample b has class (3b + 1) mod classes.
std::vector<std::int64_t> labels_for(Eigen::Index classes, Eigen::Index batch) {
  std::vector<std::int64_t> labels(static_cast<std::size_t>(batch));
  for (Eigen::Index b = 0; b < batch; ++b) labels[static_cast<std::size_t>(b)] = (3 * b + 1) % classes;
  return labels;
}

T cross_entropy_of(const T& logits) {
  const std::vector<std::int64_t> labels = labels_for(logits.rows(), logits.cols());
  return cross_entropy<double>(logits, labels);
}

const OpCase kCases[] = {
    {"logsumexp_rows", 1, [](Tape<double>&, Inputs x) { return logsumexp(x[0], Axis::kRows); }},
    {"logsumexp_cols", 1, [](Tape<double>&, Inputs x) { return logsumexp(x[0], Axis::kCols); }},
    {"softmax_rows", 1, [](Tape<double>&, Inputs x) { return softmax(x[0], Axis::kRows); }},
    {"softmax_cols", 1, [](Tape<double>&, Inputs x) { return softmax(x[0], Axis::kCols); }},
    {"log_softmax_rows", 1, [](Tape<double>&, Inputs x) { return log_softmax(x[0], Axis::kRows); }},
    {"log_softmax_cols", 1, [](Tape<double>&, Inputs x) { return log_softmax(x[0], Axis::kCols); }},
    {"softmax_times_input", 2, [](Tape<double>&, Inputs x) { return mul(softmax(x[0], Axis::kRows), x[1]); }},
    {"log_softmax_of_product", 2,
     [](Tape<double>&, Inputs x) { return log_softmax(mul(x[0], x[1]), Axis::kRows); }},
    {"logsumexp_wide_inputs", 1, [](Tape<double>&, Inputs x) { return logsumexp(x[0], Axis::kRows); }, -20, 20},
    {"cross_entropy", 1, [](Tape<double>&, Inputs x) { return cross_entropy_of(x[0]); }},
    {"cross_entropy_of_linear", 3, [](Tape<double>&, Inputs x) { return cross_entropy_of(linear(x[0], x[1], x[2])); },
     -2, 2, true, "fwb"},
};

class SoftmaxOpGradient : public ::testing::TestWithParam<OpCase> {};

TEST_P(SoftmaxOpGradient, MatchesFiniteDifferencesOnRandomShapesIncludingBatchOne) {
  test::expect_first_order_matches(GetParam());
}

TEST_P(SoftmaxOpGradient, SecondOrderMatchesFiniteDifferencesOfTheGradient) {
  test::expect_second_order_matches(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Ops, SoftmaxOpGradient, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<OpCase>& info) { return std::string(info.param.name); });

Matrix<double> random_matrix(Eigen::Index rows, Eigen::Index cols, double lo, double hi) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(lo, hi);
  Matrix<double> m(rows, cols);
  for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = u(rng);
  return m;
}

TEST(Softmax, ColumnsSumToOneAndMatchTheDefinition) {
  Tape<double> tape;
  const Matrix<double> x = random_matrix(5, 3, -3, 3);
  const auto y = softmax(tape.constant(x), Axis::kRows).value();
  for (Eigen::Index j = 0; j < x.cols(); ++j) {
    EXPECT_NEAR(y.col(j).sum(), 1.0, 1e-15);
    double total = 0;
    for (Eigen::Index i = 0; i < x.rows(); ++i) total += std::exp(x(i, j));
    for (Eigen::Index i = 0; i < x.rows(); ++i) EXPECT_NEAR(y(i, j), std::exp(x(i, j)) / total, 1e-15);
  }
}

TEST(Softmax, OfZeroAndLogThreeIsAQuarterAndThreeQuarters) {
  Tape<double> tape;
  Matrix<double> x(2, 1);
  x << 0.0, std::log(3.0);
  const auto y = softmax(tape.constant(x), Axis::kRows).value();
  EXPECT_NEAR(y(0, 0), 0.25, 1e-15);
  EXPECT_NEAR(y(1, 0), 0.75, 1e-15);
  // The same shifted by a thousand, where exp alone overflows.
  const auto shifted = softmax(tape.constant((x.array() + 1000.0).matrix()), Axis::kRows).value();
  EXPECT_NEAR(shifted(0, 0), 0.25, 1e-12);
  EXPECT_NEAR(shifted(1, 0), 0.75, 1e-12);
}

TEST(Softmax, AlongColumnsNormalizesEachRow) {
  Tape<double> tape;
  const Matrix<double> x = random_matrix(3, 4, -3, 3);
  const auto y = softmax(tape.constant(x), Axis::kCols).value();
  for (Eigen::Index i = 0; i < x.rows(); ++i) EXPECT_NEAR(y.row(i).sum(), 1.0, 1e-15);
  const auto lse = logsumexp(tape.constant(x), Axis::kCols).value();
  ASSERT_EQ(lse.rows(), 3);
  ASSERT_EQ(lse.cols(), 1);
  for (Eigen::Index i = 0; i < x.rows(); ++i) EXPECT_NEAR(y(i, 2), std::exp(x(i, 2) - lse(i, 0)), 1e-15);
}

TEST(Logsumexp, StaysFiniteForInputsNearAThousand) {
  Tape<double> tape;
  Matrix<double> x(2, 2);
  x << 1000.0, -1000.0, 1000.0 + std::log(3.0), -1000.0 + std::log(3.0);
  const auto lse = logsumexp(tape.constant(x), Axis::kRows).value();
  EXPECT_NEAR(lse(0, 0), 1000.0 + std::log(4.0), 1e-12);
  EXPECT_NEAR(lse(0, 1), -1000.0 + std::log(4.0), 1e-12);

  Tape<float> tape_f;
  const auto lse_f = logsumexp(tape_f.constant(x.cast<float>()), Axis::kRows).value();
  EXPECT_NEAR(lse_f(0, 0), 1000.0f + std::log(4.0f), 1e-3f);
}

TEST(Logsumexp, OfAllMinusInfinityIsMinusInfinityNotNan) {
  Tape<double> tape;
  const Matrix<double> x = Matrix<double>::Constant(3, 1, -std::numeric_limits<double>::infinity());
  const double lse = logsumexp(tape.constant(x), Axis::kRows).item();
  EXPECT_TRUE(std::isinf(lse) && lse < 0) << lse;
}

TEST(LogSoftmax, IsFiniteWhereSoftmaxUnderflowsAndMatchesTheShiftedDefinition) {
  Tape<double> tape;
  Matrix<double> x(3, 1);
  x << 1000.0, 0.0, -1000.0;
  const auto y = log_softmax(tape.constant(x), Axis::kRows).value();
  const double lse = 1000.0 + std::log1p(std::exp(-1000.0) + std::exp(-2000.0));
  for (Eigen::Index i = 0; i < 3; ++i) {
    EXPECT_TRUE(std::isfinite(y(i, 0)));
    EXPECT_NEAR(y(i, 0), x(i, 0) - lse, 1e-12);
  }
}

TEST(CrossEntropy, EqualsTheMeanNegativeLogLikelihood) {
  Tape<double> tape;
  const Matrix<double> x = random_matrix(4, 5, -3, 3);
  const std::vector<std::int64_t> labels{0, 3, 1, 3, 2};
  double expected = 0;
  for (Eigen::Index b = 0; b < x.cols(); ++b) {
    double total = 0;
    for (Eigen::Index i = 0; i < x.rows(); ++i) total += std::exp(x(i, b));
    expected += -std::log(std::exp(x(labels[static_cast<std::size_t>(b)], b)) / total);
  }
  expected /= static_cast<double>(x.cols());
  EXPECT_NEAR(cross_entropy<double>(tape.constant(x), labels).item(), expected, 1e-14);
}

TEST(CrossEntropy, GradientIsSoftmaxMinusOneHotOverTheBatch) {
  Tape<double> tape;
  GradScope<double> scope(tape);
  const Matrix<double> x = random_matrix(3, 4, -2, 2);
  const std::vector<std::int64_t> labels{2, 0, 0, 1};
  const T logits = tape.variable(x);
  const T g = tape.grad(cross_entropy<double>(logits, labels), logits, tape.scalar(1.0));
  Matrix<double> expected = softmax(tape.constant(x), Axis::kRows).value();
  for (Eigen::Index b = 0; b < x.cols(); ++b) expected(labels[static_cast<std::size_t>(b)], b) -= 1.0;
  expected /= 4.0;
  EXPECT_LT((g.value() - expected).cwiseAbs().maxCoeff(), 1e-15);
}

TEST(SoftmaxErrors, CrossEntropyWantsOneLabelPerSample) {
  Tape<double> tape;
  const T logits = tape.zeros(5, 4);
  const std::vector<std::int64_t> three{0, 1, 2};
  expect_error<ShapeError>([&] { cross_entropy<double>(logits, three); },
                           "cross_entropy: 3 labels for logits 5x4 (classes x batch: 4 samples)");
}

TEST(SoftmaxErrors, CrossEntropyRefusesLabelsOutsideTheClasses) {
  Tape<double> tape;
  const T logits = tape.zeros(5, 3);
  const std::vector<std::int64_t> too_large{0, 5, 1};
  expect_error<InvalidArgument>([&] { cross_entropy<double>(logits, too_large); },
                                "cross_entropy: label 5 of sample 1 is outside [0, 5) for logits 5x3");
  const std::vector<std::int64_t> negative{0, 1, -1};
  expect_error<InvalidArgument>([&] { cross_entropy<double>(logits, negative); }, "label -1 of sample 2");
}

TEST(SoftmaxErrors, AnEmptyReducedAxisIsRefused) {
  Tape<double> tape;
  const T x = tape.zeros(0, 3);
  expect_error<ShapeError>([&] { softmax(x, Axis::kRows); }, "softmax: tensor 0x3 is empty along the reduced axis");
  expect_error<ShapeError>([&] { logsumexp(x, Axis::kRows); }, "logsumexp: tensor 0x3");
  expect_error<ShapeError>([&] { log_softmax(x, Axis::kRows); }, "log_softmax: tensor 0x3");
}

}  // namespace
}  // namespace odeflow::ad
