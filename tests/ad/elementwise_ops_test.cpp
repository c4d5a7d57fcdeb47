// Every elementwise, linear-algebra and reduction op: its VJP against central
// finite differences, and the gradient of its VJP (second order), on random
// shapes including batch 1. One table, one test per row (as ggml's
// test-backend-ops).
#include <odeflow/ad/gradcheck.hpp>
#include <odeflow/ad/ops.hpp>
#include <odeflow/core/error.hpp>

#include "support/expect_error.hpp"
#include "support/op_cases.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace odeflow::ad {
namespace {

using T = Tensor<double>;
using Inputs = std::span<const T>;

using test::OpCase;
using test::random_inputs;

const OpCase kCases[] = {
    {"add", 2, [](Tape<double>&, Inputs x) { return add(x[0], x[1]); }},
    {"add_bias", 2, [](Tape<double>&, Inputs x) { return add(x[0], x[1]); }, -2, 2, true, "fc"},
    {"add_row", 2, [](Tape<double>&, Inputs x) { return add(x[0], x[1]); }, -2, 2, true, "rf"},
    {"sub_scalar", 2, [](Tape<double>&, Inputs x) { return sub(x[0], x[1]); }, -2, 2, true, "fs"},
    {"sub_outer", 2, [](Tape<double>&, Inputs x) { return sub(x[0], x[1]); }, -2, 2, true, "cr"},
    {"mul", 2, [](Tape<double>&, Inputs x) { return mul(x[0], x[1]); }},
    {"mul_bias", 2, [](Tape<double>&, Inputs x) { return mul(x[1], x[0]); }, -2, 2, true, "fc"},
    {"div", 2, [](Tape<double>&, Inputs x) { return div(x[0], x[1]); }, 0.5, 2},
    {"div_row", 2, [](Tape<double>&, Inputs x) { return div(x[0], x[1]); }, 0.5, 2, true, "fr"},
    {"affine", 1, [](Tape<double>&, Inputs x) { return 3.0 - x[0] * 0.5; }},
    {"neg", 1, [](Tape<double>&, Inputs x) { return -x[0]; }},
    {"exp", 1, [](Tape<double>&, Inputs x) { return exp(x[0]); }},
    {"log", 1, [](Tape<double>&, Inputs x) { return log(x[0]); }, 0.3, 3},
    {"log1p", 1, [](Tape<double>&, Inputs x) { return log1p(x[0]); }, -0.5, 3},
    {"sqrt", 1, [](Tape<double>&, Inputs x) { return sqrt(x[0]); }, 0.3, 3},
    {"square", 1, [](Tape<double>&, Inputs x) { return square(x[0]); }},
    {"pow", 1, [](Tape<double>&, Inputs x) { return pow(x[0], 2.5); }, 0.3, 3},
    {"pow_negative", 1, [](Tape<double>&, Inputs x) { return pow(x[0], -1.5); }, 0.3, 3},
    {"abs", 1, [](Tape<double>&, Inputs x) { return abs(x[0]); }},
    {"sin", 1, [](Tape<double>&, Inputs x) { return sin(x[0]); }},
    {"cos", 1, [](Tape<double>&, Inputs x) { return cos(x[0]); }},
    {"tanh", 1, [](Tape<double>&, Inputs x) { return tanh(x[0]); }},
    {"sigmoid", 1, [](Tape<double>&, Inputs x) { return sigmoid(x[0]); }},
    {"softplus", 1, [](Tape<double>&, Inputs x) { return softplus(x[0]); }},
    {"softplus_beta_threshold", 1, [](Tape<double>&, Inputs x) { return softplus(x[0], 2.0, 3.0); }},
    {"relu", 1, [](Tape<double>&, Inputs x) { return relu(x[0]); }},
    {"elu", 1, [](Tape<double>&, Inputs x) { return elu(x[0], 0.7); }},
    {"silu", 1, [](Tape<double>&, Inputs x) { return silu(x[0]); }},
    {"gelu", 1, [](Tape<double>&, Inputs x) { return gelu(x[0]); }},
    {"clamp", 1, [](Tape<double>&, Inputs x) { return clamp(x[0], -1.0, 0.5); }},
    {"matmul", 2, [](Tape<double>&, Inputs x) { return matmul(x[0], x[1]); }, -2, 2, true, "fq"},
    {"matmul_ta", 2, [](Tape<double>&, Inputs x) { return matmul(x[0], x[1], true, false); }, -2, 2, true, "ff"},
    {"matmul_tb", 2, [](Tape<double>&, Inputs x) { return matmul(x[0], x[1], false, true); }, -2, 2, true, "ff"},
    {"matmul_ta_tb", 2, [](Tape<double>&, Inputs x) { return matmul(x[0], x[1], true, true); }, -2, 2, true, "kf"},
    {"linear", 3, [](Tape<double>&, Inputs x) { return linear(x[0], x[1], x[2]); }, -2, 2, true, "fwb"},
    {"linear_no_bias", 2, [](Tape<double>&, Inputs x) { return linear(x[0], x[1], T()); }, -2, 2, true, "fw"},
    {"linear_tanh_fused", 3, [](Tape<double>&, Inputs x) { return linear(x[0], x[1], x[2], FusedActivation::kTanh); }, -2, 2, true, "fwb"},
    {"linear_sigmoid_fused", 3, [](Tape<double>&, Inputs x) { return linear(x[0], x[1], x[2], FusedActivation::kSigmoid); }, -2, 2, true, "fwb"},
    {"tanh_linear", 3, [](Tape<double>&, Inputs x) { return tanh(linear(x[0], x[1], x[2])); }, -2, 2, true, "fwb"},
    {"sum", 1, [](Tape<double>&, Inputs x) { return sum(x[0]); }},
    {"sum_rows", 1, [](Tape<double>&, Inputs x) { return sum(x[0], Axis::kRows); }},
    {"sum_cols", 1, [](Tape<double>&, Inputs x) { return sum(x[0], Axis::kCols); }},
    {"mean", 1, [](Tape<double>&, Inputs x) { return mean(x[0]); }},
    {"mean_rows", 1, [](Tape<double>&, Inputs x) { return mean(x[0], Axis::kRows); }},
    {"mean_cols", 1, [](Tape<double>&, Inputs x) { return mean(x[0], Axis::kCols); }},
    {"broadcast_to", 1, [](Tape<double>&, Inputs x) { return broadcast_to(x[0], x[0].rows(), 4); }, -2, 2, true, "c"},
    // Products of ops, so that second derivatives are not trivially zero.
    {"tanh_of_product", 2, [](Tape<double>&, Inputs x) { return tanh(mul(x[0], x[1])); }},
    {"relu_times_square", 1, [](Tape<double>&, Inputs x) { return mul(relu(x[0]), square(x[0])); }},
};

class OpGradient : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpGradient, MatchesFiniteDifferencesOnRandomShapesIncludingBatchOne) {
  test::expect_first_order_matches(GetParam());
}

TEST_P(OpGradient, SecondOrderMatchesFiniteDifferencesOfTheGradient) {
  if (!GetParam().second_order) GTEST_SKIP() << GetParam().name << " is first order only";
  test::expect_second_order_matches(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Ops, OpGradient, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<OpCase>& info) { return std::string(info.param.name); });

TEST(OpErrors, ShapeMismatchesNameTheOpAndBothShapes) {
  Tape<double> tape;
  const T a = tape.constant(Matrix<double>::Ones(3, 4));
  const T b = tape.constant(Matrix<double>::Ones(2, 4));
  using test::expect_error;
  expect_error<ShapeError>([&] { add(a, b); }, "add: shapes 3x4 and 2x4 cannot be broadcast together");
  expect_error<ShapeError>([&] { mul(a, transpose(b)); }, "mul: shapes 3x4 and 4x2");
  expect_error<ShapeError>([&] { div(b, a); }, "div: shapes 2x4 and 3x4");
  expect_error<ShapeError>([&] { matmul(a, b); }, "matmul: shapes 3x4 and 2x4 do not chain (4 != 2)");
  expect_error<ShapeError>([&] { matmul(a, b, true, false); }, "matmul: shapes 3x4^T and 2x4 do not chain (3 != 2)");
  expect_error<ShapeError>([&] { linear(a, b, T()); }, "linear: weight [out, in] = [4, 2] does not take an input of 3x4");
  expect_error<ShapeError>([&] { broadcast_to(b, 3, 4); }, "broadcast_to: 2x4 cannot be broadcast to 3x4");
  expect_error<InvalidArgument>([&] { clamp(a, 1.0, 0.0); }, "clamp: lo 1 is above hi 0");
  expect_error<InvalidArgument>([&] { tanh(T()); }, "tanh: operand is an undefined tensor");
  expect_error<ShapeError>([&] { tape.backward(a); }, "backward: output is 3x4");
  Tape<double> other;
  expect_error<InvalidArgument>([&] { add(a, other.constant(Matrix<double>::Ones(3, 4))); }, "add: operands belong to different tapes");
}

TEST(OpValues, FloatOpsAgreeWithDoubleToFloatPrecision) {
  Tape<float> tf;
  Tape<double> td;
  Matrix<double> x = Matrix<double>::Random(4, 3);
  const Matrix<float> xf = x.cast<float>();
  const auto yd = sum(gelu(tanh(matmul(td.constant(x), td.constant(x), true, false))), Axis::kRows);
  const auto yf = sum(gelu(tanh(matmul(tf.constant(xf), tf.constant(xf), true, false))), Axis::kRows);
  EXPECT_LE((yf.value().cast<double>() - yd.value()).cwiseAbs().maxCoeff(), 1e-5);
}

// tanh on double is our own vectorized kernel: within a few ulp of libm's
// across both of its branches, exact at ±0, ±1 in the limit, NaN kept.
TEST(OpValues, DoubleTanhIsWithinFourUlpOfLibm) {
  std::vector<double> xs{0.0, -0.0, 1e-300, -1e-17, 1e-8, 0.3, 0.6249999, 0.625, 0.6250001, -0.7, 1.0, 2.5, -9.0,
                         19.0, 22.0, 40.0, -400.0, 1e308, std::numeric_limits<double>::infinity()};
  std::mt19937_64 gen(3);
  std::uniform_real_distribution<double> u(-6.0, 6.0);
  for (int i = 0; i < 2000; ++i) xs.push_back(u(gen));
  Tape<double> tape;
  const Matrix<double> m = Eigen::Map<const Matrix<double>>(xs.data(), static_cast<Eigen::Index>(xs.size()), 1);
  const Tensor<double> y = tanh(tape.constant(m));
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double want = std::tanh(xs[i]), got = y.data()[i];
    const double ulp = std::nextafter(std::abs(want), 2.0) - std::abs(want);
    EXPECT_LE(std::abs(got - want), 4 * std::max(ulp, std::numeric_limits<double>::denorm_min())) << "x = " << xs[i];
    EXPECT_EQ(std::signbit(got), std::signbit(want)) << "x = " << xs[i];
  }
  const Tensor<double> nan = tanh(tape.scalar(std::numeric_limits<double>::quiet_NaN()));
  EXPECT_TRUE(std::isnan(nan.item()));
}

TEST(OpValues, FusedLinearActivationEqualsTheTwoOpsBitForBit) {
  Tape<double> tape;
  GradScope<double> scope(tape);
  const T x = tape.variable(Matrix<double>::Random(3, 5));
  const T w = tape.variable(Matrix<double>::Random(3, 4));
  const T b = tape.variable(Matrix<double>::Random(4, 1));
  const T g = tape.constant(Matrix<double>::Random(4, 5));
  for (auto [fused, plain] : {std::pair{linear(x, w, b, FusedActivation::kTanh), tanh(linear(x, w, b))},
                              std::pair{linear(x, w, b, FusedActivation::kSigmoid), sigmoid(linear(x, w, b))}}) {
    EXPECT_EQ(Matrix<double>(fused.value()), Matrix<double>(plain.value()));
    const std::array<T, 3> in{x, w, b};
    const auto gf = tape.grad(std::span<const T>(&fused, 1), in, std::span<const T>(&g, 1));
    const auto gp = tape.grad(std::span<const T>(&plain, 1), in, std::span<const T>(&g, 1));
    for (int i = 0; i < 3; ++i) EXPECT_EQ(Matrix<double>(gf[i].value()), Matrix<double>(gp[i].value())) << i;
  }
}

// backward() into Parameters fuses the activation's derivative with the
// bias gradient's row sums (columns of 8 or more): the same gradients, bit
// for bit, as tanh/sigmoid after linear, over two accumulating passes.
template <Scalar S>
void expect_fused_parameter_gradients_equal_the_two_ops() {
  for (const Eigen::Index batch : {1, 5, 33}) {
    for (const auto [in, out] : {std::pair<Eigen::Index, Eigen::Index>{6, 3}, {5, 8}, {9, 37}}) {
      for (const FusedActivation act : {FusedActivation::kTanh, FusedActivation::kSigmoid}) {
        std::array<Parameter<S>, 2> w{Parameter<S>::zeros({out, in}), Parameter<S>::zeros({out, in})};
        std::array<Parameter<S>, 2> b{Parameter<S>::zeros({out}), Parameter<S>::zeros({out})};
        w[1].value = w[0].value.setRandom();
        b[1].value = b[0].value.setRandom();
        const Matrix<S> x = Matrix<S>::Random(in, batch);
        const Matrix<S> g = Matrix<S>::Random(out, batch);
        Tape<S> tape;
        for (int pass = 0; pass < 2; ++pass) {
          for (int fused = 0; fused < 2; ++fused) {
            tape.reset();
            GradScope<S> scope(tape);
            const Tensor<S> xv = tape.view(x), wv = tape.param(w[fused]), bv = tape.param(b[fused]);
            const Tensor<S> y = fused ? linear(xv, wv, bv, act)
                                      : (act == FusedActivation::kTanh ? tanh(linear(xv, wv, bv))
                                                                       : sigmoid(linear(xv, wv, bv)));
            sum(mul(y, tape.view(g))).backward();
          }
        }
        const auto where = ::testing::Message() << "batch " << batch << " in " << in << " out " << out << " act "
                                                << static_cast<int>(act);
        EXPECT_EQ(w[1].grad, w[0].grad) << where;
        EXPECT_EQ(b[1].grad, b[0].grad) << where;
        EXPECT_GT(b[1].grad.cwiseAbs().maxCoeff(), S(0)) << where;
      }
    }
  }
}

TEST(Tape, FusedLinearActivationParameterGradientsEqualTheTwoOpsFloat) {
  expect_fused_parameter_gradients_equal_the_two_ops<float>();
}

TEST(Tape, FusedLinearActivationParameterGradientsEqualTheTwoOpsDouble) {
  expect_fused_parameter_gradients_equal_the_two_ops<double>();
}

// matmul takes one of three kernels by shape (loops for depths up to 4 with
// short or long columns, Eigen's expressions for vector shapes, its blocked
// kernel for the rest): each against the plain Eigen product.
TEST(OpValues, ProductsAgreeWithEigenForEveryDepthShapeAndTranspose) {
  Tape<double> tape;
  std::mt19937_64 gen(11);
  for (const Eigen::Index depth : {1, 2, 3, 4, 5, 12}) {
    for (const auto [m, n] : {std::pair<Eigen::Index, Eigen::Index>{2, 50}, {50, 2}, {50, 20}, {1, 7}, {7, 1}, {3, 3}}) {
      for (const bool ta : {false, true}) {
        for (const bool tb : {false, true}) {
          const Matrix<double> a = Matrix<double>::Random(ta ? depth : m, ta ? m : depth);
          const Matrix<double> b = Matrix<double>::Random(tb ? n : depth, tb ? depth : n);
          const Matrix<double> want = (ta ? Matrix<double>(a.transpose()) : a) * (tb ? Matrix<double>(b.transpose()) : b);
          const T c = matmul(tape.constant(a), tape.constant(b), ta, tb);
          EXPECT_LE((c.value() - want).cwiseAbs().maxCoeff(), 1e-12 * (1 + want.cwiseAbs().maxCoeff()))
              << m << "x" << n << " depth " << depth << " ta " << ta << " tb " << tb;
        }
      }
    }
  }
}

// backward() adds a Linear's weight gradient x bar^T in place, through the
// same kernels with accumulation: twice the gradient after two passes.
TEST(Tape, LinearParameterGradientsAccumulateForEveryBatchSize) {
  for (const Eigen::Index batch : {1, 2, 3, 4, 5, 20}) {
    for (const auto [in, out] : {std::pair<Eigen::Index, Eigen::Index>{2, 50}, {50, 2}, {3, 7}}) {
      Parameter<double> w = Parameter<double>::zeros({out, in});  // stored in x out
      Parameter<double> b = Parameter<double>::zeros({out});
      w.value.setRandom();
      b.value.setRandom();
      const Matrix<double> x = Matrix<double>::Random(in, batch);
      const Matrix<double> g = Matrix<double>::Random(out, batch);
      Tape<double> tape;
      for (int pass = 0; pass < 2; ++pass) {
        tape.reset();
        GradScope<double> scope(tape);
        sum(mul(linear(tape.view(x), tape.param(w), tape.param(b)), tape.view(g))).backward();
      }
      const Matrix<double> w_want = 2 * x * g.transpose();
      const Matrix<double> b_want = 2 * g.rowwise().sum();
      EXPECT_LE((w.grad - w_want).cwiseAbs().maxCoeff(), 1e-12 * (1 + w_want.cwiseAbs().maxCoeff())) << in << "-" << out << " batch " << batch;
      EXPECT_LE((b.grad - b_want).cwiseAbs().maxCoeff(), 1e-12 * (1 + b_want.cwiseAbs().maxCoeff())) << in << "-" << out << " batch " << batch;
    }
  }
}

TEST(Tape, GradientsAccumulateIntoParametersAcrossBackwardCalls) {
  Tape<double> tape;
  Parameter<double> p = Parameter<double>::zeros({3});
  p.value << 1, 2, 3;
  for (int i = 0; i < 2; ++i) {
    tape.reset();
    GradScope<double> scope(tape);
    sum(square(tape.param(p))).backward();
  }
  EXPECT_EQ(p.grad, Matrix<double>(4 * p.value));
  p.zero_grad();
  EXPECT_EQ(p.grad.cwiseAbs().sum(), 0.0);
}

TEST(Tape, NothingIsRecordedOutsideAGradScope) {
  Tape<double> tape;
  Parameter<double> p = Parameter<double>::zeros({3});
  const T y = tanh(tape.param(p));
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(tape.node_count(), 0u);
  GradScope<double> scope(tape);
  const T z = tanh(tape.param(p));
  EXPECT_TRUE(z.requires_grad());
  EXPECT_EQ(tape.node_count(), 2u);
  {
    NoGradScope<double> off(tape);
    EXPECT_FALSE(tanh(z).requires_grad());
  }
  EXPECT_TRUE(tanh(z).requires_grad());
}

}  // namespace
}  // namespace odeflow::ad
