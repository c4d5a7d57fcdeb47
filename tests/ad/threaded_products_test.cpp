// Products split over threads (an ODEFLOW_OPENMP build, Eigen::nbThreads()
// > 1) give the bits of one thread: each thread computes whole columns with
// the single-thread blocking, so each column is summed in the same order.
// Without OpenMP Eigen runs one thread; the comparisons are then skipped and
// only the agreement with Eigen's own product is checked.
#include <odeflow/ad/ops.hpp>
#include <odeflow/ad/tape.hpp>
#include <odeflow/core/random.hpp>
#include <odeflow/nn/mlp.hpp>

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <array>
#include <utility>
#include <type_traits>

namespace odeflow::ad {
namespace {

template <Scalar S>
Matrix<S> random_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  SplitMix64 rng(seed);
  return uniform_matrix<S>(rows, cols, rng);
}

// Eigen::setNbThreads(n) for the scope.
class Threads {
 public:
  explicit Threads(int n) : saved_(Eigen::nbThreads()) { Eigen::setNbThreads(n); }
  ~Threads() { Eigen::setNbThreads(saved_); }
  Threads(const Threads&) = delete;
  Threads& operator=(const Threads&) = delete;

 private:
  int saved_;
};

bool threaded_build() {
  Threads two(2);
  return Eigen::nbThreads() == 2;
}

template <Scalar S>
class ThreadedProducts : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ThreadedProducts, Scalars);

// c = op(a) op(b) for every transpose pair, and a Linear with its bias, at
// 1 and 2 threads: equal bit for bit, and equal to Eigen's product.
TYPED_TEST(ThreadedProducts, MatmulAndLinearEqualOneThread) {
  using S = TypeParam;
  const S tol = std::is_same_v<S, float> ? S(1e-4) : S(1e-12);
  // (m, depth, n): W2's layers at batch 512, an odd width, a product too
  // small to split.
  const std::array<std::array<Eigen::Index, 3>, 4> shapes{{{256, 64, 512}, {64, 256, 512}, {70, 90, 301}, {20, 30, 40}}};
  std::uint64_t seed = 31;
  for (const auto& [m, depth, n] : shapes) {
    const Matrix<S> a = random_matrix<S>(m, depth, seed++);
    const Matrix<S> b = random_matrix<S>(depth, n, seed++);
    const Matrix<S> bias = random_matrix<S>(m, 1, seed++);
    const Matrix<S> at = a.transpose();
    const Matrix<S> bt = b.transpose();
    const Matrix<S> expected = a * b;
    for (int ta = 0; ta < 2; ++ta) {
      for (int tb = 0; tb < 2; ++tb) {
        auto run = [&](int threads) {
          Threads scope(threads);
          Tape<S> tape;
          return Matrix<S>(matmul(tape.view(ta ? at : a), tape.view(tb ? bt : b), ta != 0, tb != 0).value());
        };
        const Matrix<S> one = run(1);
        const Matrix<S> two = run(2);
        EXPECT_TRUE(one.isApprox(expected, tol)) << m << "x" << depth << "x" << n << " ta " << ta << " tb " << tb;
        EXPECT_TRUE((one.array() == two.array()).all()) << m << "x" << depth << "x" << n << " ta " << ta << " tb " << tb;
      }
    }
    auto run_linear = [&](int threads) {
      Threads scope(threads);
      Tape<S> tape;
      return Matrix<S>(linear(tape.view(b), tape.view(at), tape.view(bias)).value());
    };
    const Matrix<S> one = run_linear(1);
    EXPECT_TRUE(one.isApprox(Matrix<S>(expected.colwise() + bias.col(0)), tol));
    EXPECT_TRUE((one.array() == run_linear(2).array()).all()) << "linear " << m << "x" << depth << "x" << n;
  }
  if (!threaded_build()) GTEST_SKIP() << "no OpenMP in this build: products ran on one thread";
}

// W2's network at batch 512 (tanh), and with sigmoid at an odd batch: output
// and parameter gradients of a forward and backward pass, 1 and 2 threads,
// bit for bit (the activation is applied per thread, fused with the product).
TYPED_TEST(ThreadedProducts, MlpGradientsEqualOneThread) {
  using S = TypeParam;
  for (const auto& [activation, batch] : {std::pair{nn::ActivationKind::kTanh, Eigen::Index{512}},
                                          std::pair{nn::ActivationKind::kSigmoid, Eigen::Index{397}}}) {
    SplitMix64 rng(37);
    auto net = nn::make_mlp<S>({.sizes = {64, 256, 256, 64}, .activation = activation}, rng);
    const Matrix<S> x = random_matrix<S>(64, batch, 38);
    auto run = [&](int threads) {
      Threads scope(threads);
      net->zero_grad();
      Tape<S> tape;
      GradScope<S> grad(tape);
      const Tensor<S> y = (*net)(tape.variable(x));
      tape.backward(sum(square(y)));
      return std::pair<Matrix<S>, Matrix<S>>(y.value(), net->flat_gradients());
    };
    const auto one = run(1);
    const auto two = run(2);
    EXPECT_GT(one.second.cwiseAbs().maxCoeff(), S(0));
    EXPECT_TRUE((one.first.array() == two.first.array()).all()) << "batch " << batch;
    EXPECT_TRUE((one.second.array() == two.second.array()).all()) << "batch " << batch;
  }
  if (!threaded_build()) GTEST_SKIP() << "no OpenMP in this build: products ran on one thread";
}

}  // namespace
}  // namespace odeflow::ad
