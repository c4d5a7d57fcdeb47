// conv2d, avg_pool2d and adaptive_avg_pool2d: values and gradients against
// PyTorch's, values against the definitions written as plain loops, VJPs and
// their gradients against finite differences on small random geometries, and
// the error messages.
#include <odeflow/ad/gradcheck.hpp>
#include <odeflow/ad/ops.hpp>
#include <odeflow/core/error.hpp>

#include "support/expect_error.hpp"
#include "support/test_data.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace odeflow::ad {
namespace {

using T = Tensor<double>;
using Inputs = std::span<const T>;

double max_abs_diff(const Eigen::Ref<const Matrix<double>>& a, const Eigen::Ref<const Matrix<double>>& b) {
  EXPECT_EQ(a.rows(), b.rows());
  EXPECT_EQ(a.cols(), b.cols());
  if (a.rows() != b.rows() || a.cols() != b.cols()) return INFINITY;
  return (a - b).cwiseAbs().maxCoeff();
}

// A PyTorch tensor's bytes read as a rows x cols column-major matrix.
Matrix<double> bytes_as(const test::RefTensor& t, Eigen::Index rows, Eigen::Index cols) {
  EXPECT_EQ(static_cast<Eigen::Index>(t.data.size()), rows * cols);
  return Eigen::Map<const Matrix<double>>(t.data.data(), rows, cols);
}

Matrix<double> random_matrix(Eigen::Index rows, Eigen::Index cols, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-1, 1);
  Matrix<double> m(rows, cols);
  for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = u(rng);
  return m;
}

// ---- PyTorch references ------------------------------------------------------
struct ReferenceCase {
  const char* stem;
  int stride;
  int padding;
};

void PrintTo(const ReferenceCase& c, std::ostream* os) { *os << c.stem; }

class Conv2dReference : public ::testing::TestWithParam<ReferenceCase> {};

TEST_P(Conv2dReference, OutputAndGradientsMatchPyTorch) {
  const ReferenceCase& c = GetParam();
  const auto ref = test::load_safetensors(fmt::format("nn/{}.safetensors", c.stem));
  const auto& in = ref.at("input").shape;         // [N, C, H, W]
  const auto& ws = ref.at("weight").shape;        // [C_out, C_in, kh, kw]
  const auto& out = ref.at("output").shape;       // [N, C_out, H_out, W_out]
  const int n = static_cast<int>(in[0]);
  const Shape in_shape{static_cast<int>(in[1]), static_cast<int>(in[2]), static_cast<int>(in[3])};
  const Shape out_shape{static_cast<int>(out[1]), static_cast<int>(out[2]), static_cast<int>(out[3])};
  const Eigen::Index patch = ws[1] * ws[2] * ws[3];

  Tape<double> tape;
  GradScope<double> scope(tape);
  const T x = tape.variable(bytes_as(ref.at("input"), in_shape.size(), n), in_shape);
  const T w = tape.variable(bytes_as(ref.at("weight"), patch, ws[0]));
  const T b = tape.variable(bytes_as(ref.at("bias"), ws[0], 1));
  const Conv2dGeometry geometry{static_cast<int>(ws[2]), static_cast<int>(ws[3]), c.stride, c.padding};
  const T y = conv2d(x, w, b, geometry);
  EXPECT_EQ(y.shape(), out_shape);
  EXPECT_LE(max_abs_diff(y.value(), bytes_as(ref.at("output"), out_shape.size(), n)), 1e-12);

  const T seed = tape.constant(bytes_as(ref.at("grad_output"), out_shape.size(), n));
  const T inputs[] = {x, w, b};
  const std::vector<T> g = tape.grad(std::span<const T>(&y, 1), inputs, std::span<const T>(&seed, 1));
  EXPECT_LE(max_abs_diff(g[0].value(), bytes_as(ref.at("grad_input"), in_shape.size(), n)), 1e-12);
  EXPECT_LE(max_abs_diff(g[1].value(), bytes_as(ref.at("grad.weight"), patch, ws[0])), 1e-12);
  EXPECT_LE(max_abs_diff(g[2].value(), bytes_as(ref.at("grad.bias"), ws[0], 1)), 1e-12);
}

INSTANTIATE_TEST_SUITE_P(Cases, Conv2dReference,
                         ::testing::Values(ReferenceCase{"conv2d_s1", 1, 1}, ReferenceCase{"conv2d_s2", 2, 1}),
                         [](const auto& info) { return std::string(info.param.stem); });

TEST(Conv2dFloat, MatchesPyTorchToSinglePrecision) {
  const auto ref = test::load_safetensors("nn/conv2d_s1.safetensors");
  Tape<float> tape;
  const Tensor<float> x = tape.constant(bytes_as(ref.at("input"), 75, 2).cast<float>(), Shape{3, 5, 5});
  const Tensor<float> w = tape.constant(bytes_as(ref.at("weight"), 27, 4).cast<float>());
  const Tensor<float> b = tape.constant(bytes_as(ref.at("bias"), 4, 1).cast<float>());
  const Tensor<float> y = conv2d(x, w, b, Conv2dGeometry{3, 3, 1, 1});
  EXPECT_LE(max_abs_diff(y.value().cast<double>(), bytes_as(ref.at("output"), 100, 2)), 1e-5);
}

// ---- Random geometries ---------------------------------------------------------
struct ConvCase {
  const char* name;
  Shape in;
  int batch;
  int channels_out;
  Conv2dGeometry geometry;
  bool bias = true;
};

const ConvCase kConvCases[] = {
    {"square_kernel_padding_1_batch_1", {2, 5, 5}, 1, 3, {3, 3, 1, 1}},
    {"stride_2_padding_1", {2, 6, 6}, 2, 3, {3, 3, 2, 1}},
    {"stride_2_unused_last_row", {1, 5, 6}, 2, 2, {2, 2, 2, 0}},
    {"kernel_2x3_no_padding", {3, 4, 5}, 2, 2, {2, 3, 1, 0}},
    {"kernel_3x2_stride_2_padding_1_batch_1", {2, 5, 6}, 1, 2, {3, 2, 2, 1}},
    {"kernel_1x2_no_bias", {1, 5, 4}, 3, 2, {1, 2, 2, 0}, false},
    {"kernel_1x1", {4, 3, 3}, 2, 3, {1, 1, 1, 0}},
    {"kernel_wider_than_input", {1, 2, 2}, 2, 2, {3, 3, 1, 1}},
};

// The definition: y[o, r, s] = b[o] + sum x[c, r*stride + i - p, s*stride + j - p] W[o, c, i, j].
Matrix<double> naive_conv(const ConvCase& c, const Matrix<double>& x, const Matrix<double>& w, const Matrix<double>* b) {
  const Conv2dGeometry& g = c.geometry;
  const int ho = (c.in.height + 2 * g.padding - g.kernel_h) / g.stride + 1;
  const int wo = (c.in.width + 2 * g.padding - g.kernel_w) / g.stride + 1;
  Matrix<double> y(Eigen::Index{c.channels_out} * ho * wo, x.cols());
  for (Eigen::Index n = 0; n < x.cols(); ++n)
    for (int o = 0; o < c.channels_out; ++o)
      for (int r = 0; r < ho; ++r)
        for (int s = 0; s < wo; ++s) {
          double acc = b != nullptr ? (*b)(o, 0) : 0.0;
          for (int ci = 0; ci < c.in.channels; ++ci)
            for (int i = 0; i < g.kernel_h; ++i)
              for (int j = 0; j < g.kernel_w; ++j) {
                const int h = r * g.stride + i - g.padding;
                const int v = s * g.stride + j - g.padding;
                if (h < 0 || h >= c.in.height || v < 0 || v >= c.in.width) continue;
                acc += x((ci * c.in.height + h) * c.in.width + v, n) * w((ci * g.kernel_h + i) * g.kernel_w + j, o);
              }
          y((o * ho + r) * wo + s, n) = acc;
        }
  return y;
}

std::vector<Matrix<double>> conv_inputs(const ConvCase& c, std::mt19937_64& rng) {
  const Eigen::Index patch = Eigen::Index{c.in.channels} * c.geometry.kernel_h * c.geometry.kernel_w;
  std::vector<Matrix<double>> xs{random_matrix(c.in.size(), c.batch, rng), random_matrix(patch, c.channels_out, rng)};
  if (c.bias) xs.push_back(random_matrix(c.channels_out, 1, rng));
  return xs;
}

T conv_of(const ConvCase& c, Inputs xs) {
  const T x = reshape(xs[0], xs[0].rows(), xs[0].cols(), c.in);
  return conv2d(x, xs[1], c.bias ? xs[2] : T(), c.geometry);
}

void PrintTo(const ConvCase& c, std::ostream* os) { *os << c.name; }

class Conv2dGeometries : public ::testing::TestWithParam<ConvCase> {};

TEST_P(Conv2dGeometries, ValueMatchesTheDefinition) {
  const ConvCase& c = GetParam();
  std::mt19937_64 rng(7);
  const std::vector<Matrix<double>> xs = conv_inputs(c, rng);
  Tape<double> tape;
  std::vector<T> ts;
  for (const auto& m : xs) ts.push_back(tape.constant(m));
  const T y = conv_of(c, ts);
  EXPECT_LE(max_abs_diff(y.value(), naive_conv(c, xs[0], xs[1], c.bias ? &xs[2] : nullptr)), 1e-13);
}

TEST_P(Conv2dGeometries, GradientsMatchFiniteDifferences) {
  const ConvCase& c = GetParam();
  std::mt19937_64 rng(11);
  const std::vector<Matrix<double>> xs = conv_inputs(c, rng);
  const TensorFunction<double> f = [&c](Tape<double>&, Inputs ts) { return conv_of(c, ts); };
  const GradcheckResult r = gradcheck<double>(f, xs);
  EXPECT_TRUE(r.ok) << r.worst;
}

TEST_P(Conv2dGeometries, SecondOrderGradientsMatchFiniteDifferences) {
  const ConvCase& c = GetParam();
  std::mt19937_64 rng(13);
  const std::vector<Matrix<double>> xs = conv_inputs(c, rng);
  // Bilinear alone, then under tanh so the cotangent itself depends on x and W.
  const TensorFunction<double> bilinear = [&c](Tape<double>&, Inputs ts) { return conv_of(c, ts); };
  const TensorFunction<double> curved = [&c](Tape<double>&, Inputs ts) { return tanh(conv_of(c, ts)); };
  const GradcheckResult r1 = gradgradcheck<double>(bilinear, xs);
  EXPECT_TRUE(r1.ok) << "conv2d: " << r1.worst;
  const GradcheckResult r2 = gradgradcheck<double>(curved, xs);
  EXPECT_TRUE(r2.ok) << "tanh(conv2d): " << r2.worst;
}

INSTANTIATE_TEST_SUITE_P(Cases, Conv2dGeometries, ::testing::ValuesIn(kConvCases),
                         [](const auto& info) { return std::string(info.param.name); });

// A batch large enough to be convolved in several chunks (the last one
// partial) gives what each sample gives alone, values and gradients.
TEST(Conv2dChunks, ALargeBatchMatchesSampleBySample) {
  const ConvCase c{"mnist_like", {3, 28, 28}, 45, 8, {3, 3, 1, 1}};  // chunks of 19, 19 and 7
  std::mt19937_64 rng(29);
  const std::vector<Matrix<double>> xs = conv_inputs(c, rng);
  const Matrix<double> seed = random_matrix(8 * 28 * 28, c.batch, rng);
  Tape<double> tape;
  GradScope<double> scope(tape);
  const T x = tape.variable(xs[0], c.in);
  const T w = tape.variable(xs[1]);
  const T b = tape.variable(xs[2]);
  const T y = conv2d(x, w, b, c.geometry);
  EXPECT_LE(max_abs_diff(y.value(), naive_conv(c, xs[0], xs[1], &xs[2])), 1e-13);
  const T inputs[] = {x, w, b};
  const T seed_t = tape.constant(seed);
  const std::vector<T> g = tape.grad(std::span<const T>(&y, 1), inputs, std::span<const T>(&seed_t, 1));
  Matrix<double> x_bar(xs[0].rows(), c.batch);
  Matrix<double> w_bar = Matrix<double>::Zero(xs[1].rows(), xs[1].cols());
  for (Eigen::Index n = 0; n < c.batch; ++n) {
    const T xn = tape.variable(xs[0].col(n), c.in);
    const T wn = tape.variable(xs[1]);
    const T yn = conv2d(xn, wn, b, c.geometry);
    const T sn = tape.constant(seed.col(n));
    const T in_n[] = {xn, wn};
    const std::vector<T> gn = tape.grad(std::span<const T>(&yn, 1), in_n, std::span<const T>(&sn, 1));
    x_bar.col(n) = gn[0].value();
    w_bar += gn[1].value();
  }
  EXPECT_LE(max_abs_diff(g[0].value(), x_bar), 1e-12);
  EXPECT_LE(max_abs_diff(g[1].value(), w_bar), 1e-11);
}

// ---- Pooling -------------------------------------------------------------------
struct PoolCase {
  const char* name;
  Shape in;
  int batch;
  bool adaptive;
  int a;  // kernel, or output height
  int b;  // stride, or output width
  int padding = 0;
};

const PoolCase kPoolCases[] = {
    {"kernel_2_stride_2_batch_1", {2, 4, 4}, 1, false, 2, 2},
    {"kernel_3_stride_1_padding_1", {2, 5, 5}, 2, false, 3, 1, 1},
    {"kernel_3_stride_2_padding_1_non_square", {1, 6, 5}, 2, false, 3, 2, 1},
    {"kernel_2_stride_3_leaves_pixels_out", {1, 7, 6}, 1, false, 2, 3},
    {"adaptive_global", {3, 4, 4}, 2, true, 1, 1},
    {"adaptive_uneven_overlapping_windows", {2, 5, 7}, 2, true, 3, 2},
    {"adaptive_larger_than_input_batch_1", {1, 3, 3}, 1, true, 4, 5},
};

T pool_of(const PoolCase& c, const T& x) {
  return c.adaptive ? adaptive_avg_pool2d(x, c.a, c.b) : avg_pool2d(x, c.a, c.b, c.padding);
}

// The definitions: windows over the zero-padded input divided by kernel^2,
// or PyTorch's adaptive windows [floor(i H / n), ceil((i + 1) H / n)).
Matrix<double> naive_pool(const PoolCase& c, const Matrix<double>& x) {
  const int p = c.padding;
  const int ho = c.adaptive ? c.a : (c.in.height + 2 * p - c.a) / c.b + 1;
  const int wo = c.adaptive ? c.b : (c.in.width + 2 * p - c.a) / c.b + 1;
  Matrix<double> y(Eigen::Index{c.in.channels} * ho * wo, x.cols());
  for (Eigen::Index n = 0; n < x.cols(); ++n)
    for (int ch = 0; ch < c.in.channels; ++ch)
      for (int r = 0; r < ho; ++r)
        for (int s = 0; s < wo; ++s) {
          int h0 = r * c.b - p, h1 = h0 + c.a, v0 = s * c.b - p, v1 = v0 + c.a;
          if (c.adaptive) {
            h0 = static_cast<int>(std::floor(double(r) * c.in.height / ho));
            h1 = static_cast<int>(std::ceil(double(r + 1) * c.in.height / ho));
            v0 = static_cast<int>(std::floor(double(s) * c.in.width / wo));
            v1 = static_cast<int>(std::ceil(double(s + 1) * c.in.width / wo));
          }
          double acc = 0;
          for (int h = h0; h < h1; ++h)
            for (int v = v0; v < v1; ++v)
              if (h >= 0 && h < c.in.height && v >= 0 && v < c.in.width) acc += x((ch * c.in.height + h) * c.in.width + v, n);
          y((ch * ho + r) * wo + s, n) = acc / ((h1 - h0) * (v1 - v0));
        }
  return y;
}

void PrintTo(const PoolCase& c, std::ostream* os) { *os << c.name; }

class PoolGeometries : public ::testing::TestWithParam<PoolCase> {};

TEST_P(PoolGeometries, ValueMatchesTheDefinition) {
  const PoolCase& c = GetParam();
  std::mt19937_64 rng(17);
  const Matrix<double> x = random_matrix(c.in.size(), c.batch, rng);
  Tape<double> tape;
  const T y = pool_of(c, tape.constant(x, c.in));
  EXPECT_LE(max_abs_diff(y.value(), naive_pool(c, x)), 1e-14);
  EXPECT_EQ(y.shape().channels, c.in.channels);
}

TEST_P(PoolGeometries, FirstAndSecondOrderGradientsMatchFiniteDifferences) {
  const PoolCase& c = GetParam();
  std::mt19937_64 rng(19);
  const std::vector<Matrix<double>> xs{random_matrix(c.in.size(), c.batch, rng)};
  const TensorFunction<double> f = [&c](Tape<double>&, Inputs ts) {
    return tanh(pool_of(c, reshape(ts[0], ts[0].rows(), ts[0].cols(), c.in)));
  };
  const GradcheckResult r1 = gradcheck<double>(f, xs);
  EXPECT_TRUE(r1.ok) << r1.worst;
  const GradcheckResult r2 = gradgradcheck<double>(f, xs);
  EXPECT_TRUE(r2.ok) << r2.worst;
}

INSTANTIATE_TEST_SUITE_P(Cases, PoolGeometries, ::testing::ValuesIn(kPoolCases),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- Memory --------------------------------------------------------------------
TEST(Conv2dMemory, KeepsOnlyItsOutputInTheArena) {
  std::mt19937_64 rng(23);
  Tape<double> tape;
  const T x = tape.constant(random_matrix(3 * 8 * 8, 4, rng), Shape{3, 8, 8});
  const T w = tape.constant(random_matrix(27, 5, rng));
  const std::size_t before = tape.bytes_in_use();
  const T y = conv2d(x, w, T(), Conv2dGeometry{3, 3, 1, 1});
  const std::size_t out_bytes = static_cast<std::size_t>(y.size()) * sizeof(double);
  EXPECT_EQ(tape.bytes_in_use() - before, (out_bytes + 63) / 64 * 64);
}

// ---- Errors --------------------------------------------------------------------
class ConvErrors : public ::testing::Test {
 protected:
  Tape<double> tape_;
  T x_ = tape_.zeros(75, 2, Shape{3, 5, 5});
  T w_ = tape_.zeros(27, 4);
};

TEST_F(ConvErrors, WeightRowsThatDoNotMatchTheInputChannelsNameBothShapes) {
  const T w = tape_.zeros(18, 4);
  const auto e = test::expect_error<ShapeError>([&] { conv2d(x_, w, T(), Conv2dGeometry{3, 3, 1, 1}); },
                                                "conv2d: input 75x2 (image 3x5x5) has 3 channels");
  if (e) EXPECT_NE(std::string(e->what()).find("18x4"), std::string::npos) << e->what();
}

TEST_F(ConvErrors, AKernelLargerThanThePaddedInputIsAShapeError) {
  test::expect_error<ShapeError>([&] { conv2d(x_, tape_.zeros(3 * 36, 4), T(), Conv2dGeometry{6, 6, 1, 0}); },
                                 "a 6x6 kernel with padding 0 does not fit input 75x2 (image 3x5x5)");
}

TEST_F(ConvErrors, ABiasOfTheWrongLengthNamesBothShapes) {
  test::expect_error<ShapeError>([&] { conv2d(x_, w_, tape_.zeros(3, 1), Conv2dGeometry{3, 3, 1, 1}); },
                                 "conv2d: bias 3x1 does not match weight 27x4");
}

TEST_F(ConvErrors, NonPositiveStrideOrNegativePaddingIsRejected) {
  test::expect_error<InvalidArgument>([&] { conv2d(x_, w_, T(), Conv2dGeometry{3, 3, 0, 1}); }, "stride 0");
  test::expect_error<InvalidArgument>([&] { conv2d(x_, w_, T(), Conv2dGeometry{3, 3, 1, -1}); }, "padding -1");
}

TEST_F(ConvErrors, AnUndefinedWeightIsRejected) {
  test::expect_error<InvalidArgument>([&] { conv2d(x_, T(), T(), Conv2dGeometry{}); }, "conv2d: weight is an undefined tensor");
}

TEST_F(ConvErrors, PoolingWindowsMustFitAndPaddingStayWithinHalfTheKernel) {
  test::expect_error<ShapeError>([&] { avg_pool2d(x_, 6, 1); }, "avg_pool2d: a 6x6 window with padding 0 does not fit input 75x2 (image 3x5x5)");
  test::expect_error<InvalidArgument>([&] { avg_pool2d(x_, 2, 1, 2); }, "avg_pool2d: kernel 2, stride 1, padding 2");
  test::expect_error<InvalidArgument>([&] { avg_pool2d(x_, 2, 0); }, "stride 0");
  test::expect_error<InvalidArgument>([&] { adaptive_avg_pool2d(x_, 0, 2); },
                                      "adaptive_avg_pool2d: output size 0x2 for input 75x2 (image 3x5x5)");
}

}  // namespace
}  // namespace odeflow::ad
