// After a warm-up, a forward+backward pass of a fixed network touches no heap:
// the tape's arena and node list keep their capacity across reset(), so the
// same sequence of ops finds its memory already there (tape.hpp's contract).
// Repeated solves take their buffers from the previous ones: only their
// outputs are new (solver buffers of a large state would be fresh pages).
//
// This executable replaces every heap entry point with a counting one: the
// global operator new/delete in all forms (plain, array, nothrow, sized,
// aligned) and, with glibc, malloc and its relatives, which Eigen calls
// directly. Under AddressSanitizer the replacements are left out (ASan owns
// the allocator) and the assertions are skipped.
#include <odeflow/ad/arena.hpp>
#include <odeflow/ad/ops.hpp>
#include <odeflow/ad/tape.hpp>
#include <odeflow/core/random.hpp>
#include <odeflow/nn/mlp.hpp>
#include <odeflow/sensitivity/odeint.hpp>
#include <odeflow/solve/odeint.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define ODEFLOW_COUNTING_ALLOCATOR 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ODEFLOW_COUNTING_ALLOCATOR 0
#endif
#endif
#ifndef ODEFLOW_COUNTING_ALLOCATOR
#define ODEFLOW_COUNTING_ALLOCATOR 1
#endif

namespace {

std::atomic<long> g_allocations{0};
// Allocations of at least g_large_bytes, counted apart.
std::atomic<std::size_t> g_large_bytes{SIZE_MAX};
std::atomic<long> g_large_allocations{0};

long allocation_count() { return g_allocations.load(std::memory_order_relaxed); }
long large_allocation_count() { return g_large_allocations.load(std::memory_order_relaxed); }

void count(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (size >= g_large_bytes.load(std::memory_order_relaxed)) g_large_allocations.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

#if ODEFLOW_COUNTING_ALLOCATOR

#if defined(__GLIBC__)
// glibc's own allocator under the replaceable malloc family: the functions
// below count and forward here.
extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t count, std::size_t size);
void* __libc_realloc(void* p, std::size_t size);
void* __libc_memalign(std::size_t alignment, std::size_t size);
void __libc_free(void* p);

void* malloc(std::size_t size) {
  count(size);
  return __libc_malloc(size);
}
void* calloc(std::size_t n, std::size_t size) {
  count(n * size);
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t size) {
  count(size);
  return __libc_realloc(p, size);
}
void* memalign(std::size_t alignment, std::size_t size) {
  count(size);
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) {
  count(size);
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
  count(size);
  void* p = __libc_memalign(alignment, size);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
void free(void* p) { __libc_free(p); }
}

namespace {
void* raw_allocate(std::size_t size) { return __libc_malloc(size == 0 ? 1 : size); }
void* raw_allocate_aligned(std::size_t size, std::align_val_t al) {
  return __libc_memalign(static_cast<std::size_t>(al), size == 0 ? 1 : size);
}
void raw_free(void* p) { __libc_free(p); }
}  // namespace

#else

namespace {
void* raw_allocate(std::size_t size) { return std::malloc(size == 0 ? 1 : size); }
void* raw_allocate_aligned(std::size_t size, std::align_val_t al) {
  const auto a = static_cast<std::size_t>(al);
  return std::aligned_alloc(a, (size + a - 1) / a * a);
}
void raw_free(void* p) { std::free(p); }
}  // namespace

#endif

namespace {
void* counted(std::size_t size) {
  count(size);
  if (void* p = raw_allocate(size)) return p;
  throw std::bad_alloc();
}
void* counted(std::size_t size, std::align_val_t al) {
  count(size);
  if (void* p = raw_allocate_aligned(size, al)) return p;
  throw std::bad_alloc();
}
void* counted_nothrow(std::size_t size) noexcept {
  count(size);
  return raw_allocate(size);
}
void* counted_nothrow(std::size_t size, std::align_val_t al) noexcept {
  count(size);
  return raw_allocate_aligned(size, al);
}
}  // namespace

void* operator new(std::size_t size) { return counted(size); }
void* operator new[](std::size_t size) { return counted(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted_nothrow(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return counted_nothrow(size); }
void* operator new(std::size_t size, std::align_val_t al) { return counted(size, al); }
void* operator new[](std::size_t size, std::align_val_t al) { return counted(size, al); }
void* operator new(std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
  return counted_nothrow(size, al);
}
void* operator new[](std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
  return counted_nothrow(size, al);
}
void operator delete(void* p) noexcept { raw_free(p); }
void operator delete[](void* p) noexcept { raw_free(p); }
void operator delete(void* p, std::size_t) noexcept { raw_free(p); }
void operator delete[](void* p, std::size_t) noexcept { raw_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { raw_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { raw_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { raw_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { raw_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { raw_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { raw_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { raw_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { raw_free(p); }

#endif  // ODEFLOW_COUNTING_ALLOCATOR

namespace odeflow::ad {
namespace {

constexpr int kWarmUp = 3;
constexpr int kRuns = 20;

// The passes run in every build (so AddressSanitizer checks them too); only
// the count is skipped where it cannot be taken.
#define ODEFLOW_REQUIRE_COUNTING_ALLOCATOR()                                                          \
  if (!ODEFLOW_COUNTING_ALLOCATOR)                                                                    \
  GTEST_SKIP() << "AddressSanitizer replaces the allocator, so this build cannot count allocations; " \
                  "the non-sanitized build checks this"

// Heap allocations made by `pass` over kRuns calls after kWarmUp calls.
template <class Pass>
long allocations_after_warm_up(Pass&& pass) {
  for (int i = 0; i < kWarmUp; ++i) pass();
  const long before = allocation_count();
  for (int i = 0; i < kRuns; ++i) pass();
  return allocation_count() - before;
}

template <Scalar S>
Matrix<S> random_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  SplitMix64 rng(seed);
  return uniform_matrix<S>(rows, cols, rng);
}

template <Scalar S>
class AllocationTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(AllocationTest, Scalars);

TEST(CountingAllocator, SeesOperatorNewAndEigenAllocations) {
  ODEFLOW_REQUIRE_COUNTING_ALLOCATOR();
  const long before = allocation_count();
  auto boxed = std::make_unique<volatile int>(1);
  EXPECT_EQ(allocation_count() - before, 1);
  const long before_eigen = allocation_count();
  Matrix<double> m = Matrix<double>::Ones(40, 40);
  EXPECT_GE(allocation_count() - before_eigen, 1);
  EXPECT_EQ(m.sum() + *boxed, 1601.0);
}

TYPED_TEST(AllocationTest, MlpForwardBackwardAllocatesNothingAfterWarmUp) {
  using S = TypeParam;
  SplitMix64 rng(7);
  auto net = nn::make_mlp<S>({.sizes = {2, 50, 50, 2}}, rng);
  std::array<long, 2> allocations{};
  for (std::size_t i = 0; i < allocations.size(); ++i) {
    const Eigen::Index batch = i == 0 ? 1 : 20;
    const Matrix<S> x = random_matrix<S>(2, batch, 1);
    const Matrix<S> target = random_matrix<S>(2, batch, 2);
    Tape<S> tape;
    auto pass = [&] {
      tape.reset();
      GradScope<S> scope(tape);
      const Tensor<S> y = (*net)(tape.view(x));
      tape.backward(sum(square(y - tape.view(target))));
    };
    net->zero_grad();
    allocations[i] = allocations_after_warm_up(pass);
    EXPECT_GT(net->flat_gradients().cwiseAbs().maxCoeff(), S(0)) << "the backward pass reached the parameters";
  }
  ODEFLOW_REQUIRE_COUNTING_ALLOCATOR();
  EXPECT_EQ(allocations[0], 0) << "batch 1";
  EXPECT_EQ(allocations[1], 0) << "batch 20";
}

TYPED_TEST(AllocationTest, ConcatSquashMlpForwardBackwardAllocatesNothingAfterWarmUp) {
  using S = TypeParam;
  SplitMix64 rng(11);
  auto net = nn::make_mlp<S>({.sizes = {2, 32, 32, 2}, .time = nn::TimeInput::kConcatSquash}, rng);
  const Matrix<S> x = random_matrix<S>(2, 16, 3);
  const Matrix<S> target = random_matrix<S>(2, 16, 4);
  Tape<S> tape;
  auto pass = [&] {
    tape.reset();
    GradScope<S> scope(tape);
    const Tensor<S> y = (*net)(tape.scalar(S(0.5)), tape.view(x));
    tape.backward(mean(square(y - tape.view(target))));
  };
  net->zero_grad();
  const long allocations = allocations_after_warm_up(pass);
  EXPECT_GT(net->flat_gradients().cwiseAbs().maxCoeff(), S(0)) << "the backward pass reached the parameters";
  ODEFLOW_REQUIRE_COUNTING_ALLOCATOR();
  EXPECT_EQ(allocations, 0);
}

// A gradient penalty: d loss / d x with create_graph, then backward through it
// (second order), as regularized neural-ODE training does.
TYPED_TEST(AllocationTest, SecondOrderPassAllocatesNothingAfterWarmUp) {
  using S = TypeParam;
  SplitMix64 rng(13);
  auto net = nn::make_mlp<S>({.sizes = {2, 50, 50, 2}}, rng);
  const Matrix<S> x0 = random_matrix<S>(2, 8, 5);
  Tape<S> tape;
  std::size_t forward_nodes = 0;
  std::size_t nodes = 0;
  auto pass = [&] {
    tape.reset();
    GradScope<S> scope(tape);
    const Tensor<S> x = tape.variable(x0);
    const Tensor<S> loss = sum(square((*net)(x)));
    forward_nodes = tape.node_count();
    std::array<Tensor<S>, 1> gx;
    tape.grad(std::span<const Tensor<S>>(&loss, 1), std::span<const Tensor<S>>(&x, 1), {}, gx, true);
    tape.backward(sum(square(gx[0])));
    nodes = tape.node_count();
  };
  net->zero_grad();
  const long allocations = allocations_after_warm_up(pass);
  EXPECT_GT(nodes, forward_nodes) << "the gradient computation itself was recorded";
  EXPECT_GT(net->flat_gradients().cwiseAbs().maxCoeff(), S(0)) << "the second-order pass reached the parameters";
  ODEFLOW_REQUIRE_COUNTING_ALLOCATOR();
  EXPECT_EQ(allocations, 0);
}

TYPED_TEST(AllocationTest, ForwardWithoutRecordingAllocatesNothingAfterWarmUp) {
  using S = TypeParam;
  SplitMix64 rng(17);
  auto net = nn::make_mlp<S>({.sizes = {2, 50, 50, 2}}, rng);
  const Matrix<S> x = random_matrix<S>(2, 20, 6);
  Tape<S> tape;
  Matrix<S> y(2, 20);
  auto pass = [&] {
    tape.reset();
    NoGradScope<S> scope(tape);
    y = (*net)(tape.view(x)).value();
  };
  const long allocations = allocations_after_warm_up(pass);
  EXPECT_EQ(tape.node_count(), 0u);
  EXPECT_TRUE(y.allFinite());
  ODEFLOW_REQUIRE_COUNTING_ALLOCATOR();
  EXPECT_EQ(allocations, 0);
}

// Products this size take the blocked kernel, depth-1 products the
// small-depth loops: each transpose combination and the Linear op agree with
// Eigen's own product.
TYPED_TEST(AllocationTest, BlockedAndOuterProductsMatchEigen) {
  using S = TypeParam;
  const Matrix<S> a = random_matrix<S>(70, 90, 8);
  const Matrix<S> b = random_matrix<S>(90, 40, 9);
  const Matrix<S> at = a.transpose();
  const Matrix<S> bt = b.transpose();
  const Matrix<S> bias = random_matrix<S>(40, 1, 10);
  const Matrix<S> expected = a * b;
  const S tol = std::is_same_v<S, float> ? S(1e-4) : S(1e-12);
  Tape<S> tape;
  EXPECT_TRUE(matmul(tape.view(a), tape.view(b)).value().isApprox(expected, tol));
  EXPECT_TRUE(matmul(tape.view(at), tape.view(b), true, false).value().isApprox(expected, tol));
  EXPECT_TRUE(matmul(tape.view(a), tape.view(bt), false, true).value().isApprox(expected, tol));
  EXPECT_TRUE(matmul(tape.view(at), tape.view(bt), true, true).value().isApprox(expected, tol));
  const Matrix<S> x = random_matrix<S>(90, 30, 11);
  const Matrix<S> linear_expected = (b.transpose() * x).colwise() + bias.col(0);
  EXPECT_TRUE(linear(tape.view(x), tape.view(b), tape.view(bias)).value().isApprox(linear_expected, tol));
  const Matrix<S> u = a.col(0);
  const Matrix<S> v = b.row(0);
  const Matrix<S> vt = v.transpose();
  const Matrix<S> outer = u * v;
  EXPECT_TRUE(matmul(tape.view(u), tape.view(v)).value().isApprox(outer, tol));
  EXPECT_TRUE(matmul(tape.view(u), tape.view(vt), false, true).value().isApprox(outer, tol));
  const Matrix<S> ut = u.transpose();
  EXPECT_TRUE(matmul(tape.view(ut), tape.view(v), true, false).value().isApprox(outer, tol));
  EXPECT_TRUE(matmul(tape.view(ut), tape.view(vt), true, true).value().isApprox(outer, tol));
}

// Allocations of at least `bytes` made by `pass` over kRuns calls after
// kWarmUp calls.
template <class Pass>
long large_allocations_after_warm_up(std::size_t bytes, Pass&& pass) {
  g_large_bytes.store(bytes, std::memory_order_relaxed);
  for (int i = 0; i < kWarmUp; ++i) pass();
  const long before = large_allocation_count();
  for (int i = 0; i < kRuns; ++i) pass();
  const long large = large_allocation_count() - before;
  g_large_bytes.store(SIZE_MAX, std::memory_order_relaxed);
  return large;
}

// A repeated solve allocates its outputs (y0 and the values at ts), and no
// state-sized buffer more: stages, dense output, the loop's state and the
// initial step's scratch come from the previous solve.
TYPED_TEST(AllocationTest, RepeatedSolvesAllocateOnlyTheirOutputs) {
  using S = TypeParam;
  const Eigen::Index rows = 32, cols = 64;
  const Matrix<S> a = random_matrix<S>(rows, rows, 21) / S(2);
  const Matrix<S> y0 = random_matrix<S>(rows, cols, 22);
  auto f = [&](Time, const Matrix<S>& y, Matrix<S>& dy) { dy.noalias() = a * y; };
  const std::vector<Time> ts{0.0, 0.5, 1.0, 2.0};
  for (const char* method : {"dopri5", "tsit5", "bosh3", "dopri8"}) {
    Options opt;
    opt.method = method;
    opt.rtol = 1e-6;
    opt.atol = 1e-8;
    Solution<S> sol;
    auto pass = [&] { sol = solve<S>(Rhs<S>(f), y0, std::span<const Time>(ts), opt); };
    const long large = large_allocations_after_warm_up(sizeof(S) * static_cast<std::size_t>(y0.size()), pass);
    EXPECT_GT(sol.stats.accepted, 3) << method;
    ASSERT_EQ(sol.ys.size(), ts.size());
    EXPECT_TRUE(sol.ys.back().allFinite());
    ODEFLOW_REQUIRE_COUNTING_ALLOCATOR();
    EXPECT_EQ(large, kRuns * static_cast<long>(ts.size())) << method;
  }
}

// A training iteration with the adjoint: the state-sized allocations per
// iteration (outputs, cotangents, the augmented state) do not depend on the
// number of steps, forward or backward.
TYPED_TEST(AllocationTest, AdjointIterationsAllocateIndependentlyOfTheSteps) {
  using S = TypeParam;
  SplitMix64 rng(23);
  auto net = nn::make_mlp<S>({.sizes = {8, 32, 8}}, rng);
  const auto params = net->parameters();
  const Matrix<S> y0 = random_matrix<S>(8, 64, 24);
  const std::vector<Time> ts{0.0, 2.0, 4.0};
  TensorRhs<S> f = [&](const Tensor<S>& t, const Tensor<S>& y) { return (*net)(t, y); };
  std::array<long, 2> large{};
  std::array<std::int64_t, 2> steps{};
  for (std::size_t i = 0; i < large.size(); ++i) {
    Options opt;
    const double rtol = i == 0 ? 1e-3 : 1e-10;
    opt.rtol = rtol;
    opt.atol = rtol / 10;
    Tape<S> tape;
    auto pass = [&] {
      tape.reset();
      GradScope<S> scope(tape);
      const auto traj = odeint<S>(f, params, tape.variable(y0), std::span<const Time>(ts), opt,
                                  GradientOptions{.gradient = Gradient::kAdjoint});
      sum(square(traj[2])).backward();
      steps[i] = traj.stats().accepted + traj.backward_stats().accepted;
    };
    net->zero_grad();
    large[i] = large_allocations_after_warm_up(sizeof(S) * static_cast<std::size_t>(y0.size()), pass);
    EXPECT_GT(net->flat_gradients().cwiseAbs().maxCoeff(), S(0)) << "the backward pass reached the parameters";
  }
  EXPECT_GT(steps[1], 3 * steps[0]);
  ODEFLOW_REQUIRE_COUNTING_ALLOCATOR();
  EXPECT_EQ(large[1], large[0]) << steps[0] << " -> " << steps[1] << " steps";
  EXPECT_LE(large[0], kRuns * 8 * static_cast<long>(ts.size()));
}

// Large enough that Eigen's matrix products block their operands.
TYPED_TEST(AllocationTest, WideMlpAtLargeBatchAllocatesNothingAfterWarmUp) {
  using S = TypeParam;
  SplitMix64 rng(19);
  auto net = nn::make_mlp<S>({.sizes = {64, 256, 256, 64}}, rng);
  const Matrix<S> x = random_matrix<S>(64, 512, 7);
  Tape<S> tape;
  auto pass = [&] {
    tape.reset();
    GradScope<S> scope(tape);
    tape.backward(sum(square((*net)(tape.view(x)))));
  };
  net->zero_grad();
  const long allocations = allocations_after_warm_up(pass);
  EXPECT_GT(net->flat_gradients().cwiseAbs().maxCoeff(), S(0)) << "the backward pass reached the parameters";
  ODEFLOW_REQUIRE_COUNTING_ALLOCATOR();
  EXPECT_EQ(allocations, 0);
}

// A kept graph's pass: evaluations recorded one after another, then each
// one's VJP allocating its cotangents past the graph before the graph is
// rewound to that evaluation's mark (as odeint's direct sweep), then reset.
// The reverse half reuses the forward half's region with other sizes; the
// arena must settle on the blocks of the first repetition, not add blocks
// (fresh pages to fault in) on every later one.
TEST(Arena, AlternatingPassesOverOneRegionSettleOnTheirBlocks) {
  constexpr std::size_t kKiB = 1024;
  Arena arena;
  auto repetition = [&] {
    std::vector<Arena::Mark> marks;
    for (int e = 0; e < 4; ++e) {
      marks.push_back(arena.mark());
      for (const std::size_t kib : {256, 0, 1024, 1024, 256}) arena.allocate(kib > 0 ? kib * kKiB : 64);
    }
    for (int e = 3; e >= 0; --e) {
      for (const std::size_t kib : {256, 1024, 64, 1024, 512}) arena.allocate(kib * kKiB);
      arena.rewind(marks[static_cast<std::size_t>(e)]);
    }
    arena.reset();
  };
  repetition();
  const std::size_t settled = arena.capacity();
  for (int r = 0; r < 10; ++r) repetition();
  EXPECT_EQ(arena.capacity(), settled);
}

}  // namespace
}  // namespace odeflow::ad
