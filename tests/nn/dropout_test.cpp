// Dropout: the mask's statistics (keep rate, mean preserved), eval mode as
// the identity, reproducible masks from the seed, gradients through the
// mask, and p's validation.
#include "support/expect_error.hpp"
#include "support/module_check.hpp"

#include <odeflow/ad/gradcheck.hpp>
#include <odeflow/core/error.hpp>
#include <odeflow/nn/dropout.hpp>

#include <gtest/gtest.h>

namespace odeflow::nn {
namespace {

TEST(Dropout, KeepsAboutOneMinusPAndPreservesTheMean) {
  Dropout<double> drop(0.3, 17);
  ad::Tape<double> tape;
  const Eigen::Index n = 200 * 500;
  const Matrix<double> ones = Matrix<double>::Ones(200, 500);
  const Matrix<double> y = drop.forward(tape.constant(ones)).value();
  const double kept = static_cast<double>((y.array() != 0).count()) / static_cast<double>(n);
  // Binomial standard deviation sqrt(p (1 - p) / n) ~ 1.4e-3: 5 sigma.
  EXPECT_NEAR(kept, 0.7, 5 * std::sqrt(0.21 / static_cast<double>(n)));
  EXPECT_NEAR(y.mean(), 1.0, 5 * std::sqrt(0.21 / static_cast<double>(n)) / 0.7);
  // Kept elements are scaled by exactly 1 / (1 - p).
  EXPECT_EQ(((y.array() != 0) && (y.array() != 1.0 / 0.7)).count(), 0);
}

TEST(Dropout, EvalModeAndZeroPAreTheIdentity) {
  Dropout<double> drop(0.5, 1);
  ad::Tape<double> tape;
  const ad::Tensor<double> x = tape.constant(test::random_matrix(6, 4, 50));
  drop.eval();
  EXPECT_EQ(drop.forward(x).value(), x.value());
  drop.train();
  EXPECT_NE(drop.forward(x).value(), x.value());
  Dropout<double> none(0.0, 1);
  EXPECT_EQ(none.forward(x).value(), x.value());
}

TEST(Dropout, SameSeedGivesTheSameMasksAndEachCallANewOne) {
  Dropout<double> a(0.5, 99);
  Dropout<double> b(0.5, 99);
  Dropout<double> other(0.5, 100);
  ad::Tape<double> tape;
  const ad::Tensor<double> x = tape.constant(Matrix<double>::Ones(10, 8));
  const Matrix<double> first = a.forward(x).value();
  EXPECT_EQ(first, b.forward(x).value());
  EXPECT_NE(first, other.forward(x).value());
  const Matrix<double> second = a.forward(x).value();
  EXPECT_NE(first, second);
  EXPECT_EQ(second, b.forward(x).value());
}

TEST(Dropout, GradientIsTheSameMaskAndScale) {
  const Matrix<double> x = test::random_matrix(5, 3, 51);
  // A fresh layer per call replays the same mask, so finite differences see one function.
  const ad::TensorFunction<double> f = [](ad::Tape<double>&, std::span<const ad::Tensor<double>> in) {
    Dropout<double> drop(0.4, 7);
    return drop.forward(in[0]);
  };
  const std::vector<Matrix<double>> inputs{x};
  const ad::GradcheckResult r = ad::gradcheck<double>(f, inputs);
  EXPECT_TRUE(r.ok) << r.worst;

  ad::Tape<double> tape;
  ad::GradScope<double> scope(tape);
  const ad::Tensor<double> v = tape.variable(x);
  Dropout<double> drop(0.4, 7);
  const ad::Tensor<double> y = drop.forward(v);
  const ad::Tensor<double> g = tape.grad(ad::sum(y), v, tape.scalar(1.0));
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    EXPECT_DOUBLE_EQ(g.value().data()[i] * x.data()[i], y.value().data()[i]) << i;
  }
}

TEST(Dropout, RejectsPOutsideZeroToOne) {
  test::expect_error<InvalidArgument>([] { Dropout<double>(1.0); }, "Dropout: p must be in [0, 1), got 1");
  test::expect_error<InvalidArgument>([] { Dropout<double>(-0.1); }, "got -0.1");
}

}  // namespace
}  // namespace odeflow::nn
