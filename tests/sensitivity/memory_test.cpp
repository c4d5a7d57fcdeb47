// Memory of a gradient through a solve, from 100 to 10,000 steps: the
// adjoint's peak heap use stays flat, direct's grows with the steps, and
// what checkpointing stores with the checkpoints kept, not the steps. The
// heap in use (glibc's mallinfo2, which Eigen's allocations go through) is
// sampled at every evaluation of the dynamics, forward and backward.
#include <odeflow/ad/ops.hpp>
#include <odeflow/core/random.hpp>
#include <odeflow/nn/activation.hpp>
#include <odeflow/nn/linear.hpp>
#include <odeflow/nn/sequential.hpp>
#include <odeflow/sensitivity/odeint.hpp>

#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>

#if defined(__SANITIZE_ADDRESS__)
#define ODEFLOW_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ODEFLOW_SANITIZED 1
#endif
#endif

namespace odeflow {
namespace {

std::size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

struct Peak {
  std::size_t bytes;    // peak heap in use above the level before the solve
  BackwardStats stats;  // what the op reports
};

Peak peak_of(Gradient gradient, double t_end, int checkpoints = 16, int checkpoint_every = 0) {
  SplitMix64 rng(5);
  nn::Sequential<double> net;
  net.push_back(std::make_unique<nn::Linear<double>>(2, 16, rng));
  net.push_back(std::make_unique<nn::Activation<double>>(nn::ActivationKind::kTanh));
  net.push_back(std::make_unique<nn::Linear<double>>(16, 2, rng));
  std::size_t peak = 0;
  TensorRhs<double> f = [&](const ad::Tensor<double>& t, const ad::Tensor<double>& y) {
    peak = std::max(peak, heap_in_use());
    return net.forward(t, ad::mul(ad::mul(y, y), y));
  };
  Options opt;
  opt.method = "rk4";
  opt.step_size = 0.01;  // W4's setting: t_end / 0.01 steps
  const std::vector<Time> ts{0.0, t_end};
  const auto params = net.parameters();
  net.zero_grad();
  ad::Tape<double> tape;
  ad::GradScope<double> scope(tape);
  Matrix<double> y0(2, 1);
  y0 << 2.0, 0.0;
  const auto y0_t = tape.variable(y0);
  const std::size_t before = heap_in_use();
  peak = before;
  GradientOptions g{.gradient = gradient, .checkpoint_every = checkpoint_every, .checkpoints = checkpoints};
  const auto traj = odeint<double>(f, params, y0_t, std::span<const Time>(ts), opt, g);
  ad::sum(ad::square(traj[1])).backward();
  return {peak - std::min(peak, before), traj.backward_stats()};
}

TEST(Memory, AdjointIsFlatDirectGrowsCheckpointStaysBounded) {
#ifdef ODEFLOW_SANITIZED
  GTEST_SKIP() << "the sanitizer's allocator does not report through mallinfo2";
#endif
  peak_of(Gradient::kAdjoint, 0.1);  // warm-up: thread-local scratch tapes, arena chunks
  peak_of(Gradient::kDirect, 0.1);
  const Peak adjoint_short = peak_of(Gradient::kAdjoint, 1.0);
  const Peak adjoint_long = peak_of(Gradient::kAdjoint, 100.0);
  const Peak direct_short = peak_of(Gradient::kDirect, 1.0);
  const Peak direct_long = peak_of(Gradient::kDirect, 100.0);
  const Peak checkpoint_short = peak_of(Gradient::kCheckpoint, 1.0, 16);
  const Peak checkpoint_long = peak_of(Gradient::kCheckpoint, 100.0, 16);

  // 100 vs 10,000 steps.
  EXPECT_EQ(adjoint_short.stats.stored_bytes, 0U);
  EXPECT_EQ(adjoint_long.stats.stored_bytes, 0U);
  EXPECT_LE(adjoint_long.bytes, adjoint_short.bytes * 11 / 10 + 4096)
      << adjoint_short.bytes << " -> " << adjoint_long.bytes;
  EXPECT_GT(direct_long.stats.stored_bytes, 50 * direct_short.stats.stored_bytes);
  EXPECT_GT(direct_long.bytes, 50 * direct_short.bytes / 2) << direct_short.bytes << " -> " << direct_long.bytes;
  // (The heap is sampled when f starts: it misses the last evaluation's graph and record.)
  EXPECT_GE(direct_long.bytes, direct_long.stats.stored_bytes / 100 * 98);
  // Checkpointing with a budget holds at most 16 states per level and,
  // during the backward pass, one part of at most 16 steps: flat but for a
  // level more per 16-fold more steps.
  EXPECT_LT(checkpoint_long.bytes, direct_long.bytes / 50);
  EXPECT_LE(checkpoint_long.bytes, checkpoint_short.bytes * 3 / 2 + 4096)
      << checkpoint_short.bytes << " -> " << checkpoint_long.bytes;
  EXPECT_GT(checkpoint_long.stats.recomputed_nfe, 0);
}

// What the op keeps between forward and backward (BackwardStats, so this
// runs under the sanitizers too): with a budget, the checkpoints and their
// bytes do not depend on the number of steps, and grow with the budget.
TEST(Memory, CheckpointStoresTheCheckpointsNotTheSteps) {
  const BackwardStats short_16 = peak_of(Gradient::kCheckpoint, 1.0, 16).stats;     // 100 steps
  const BackwardStats long_16 = peak_of(Gradient::kCheckpoint, 100.0, 16).stats;    // 10,000 steps
  const BackwardStats long_64 = peak_of(Gradient::kCheckpoint, 100.0, 64).stats;
  const BackwardStats long_1 = peak_of(Gradient::kCheckpoint, 100.0, 1).stats;
  const BackwardStats direct_long = peak_of(Gradient::kDirect, 100.0).stats;
  for (const BackwardStats* s : {&short_16, &long_16}) {
    EXPECT_LE(s->checkpoints, 16);
    EXPECT_GE(s->checkpoints, 8);
  }
  EXPECT_LE(long_64.checkpoints, 64);
  EXPECT_GE(long_64.checkpoints, 32);
  EXPECT_EQ(long_1.checkpoints, 1);
  EXPECT_EQ(long_16.stored_bytes, short_16.stored_bytes);
  EXPECT_GT(long_64.stored_bytes, 3 * long_16.stored_bytes);
  EXPECT_LT(long_1.stored_bytes, long_16.stored_bytes);
  EXPECT_LT(long_64.stored_bytes, direct_long.stored_bytes / 100);
  // During the backward pass: segments longer than the budget are split
  // into at most `budget` parts, recursively, so one level of checkpoints
  // per 16-fold more steps (100 steps: segments of 8, none; 1,000: of 64,
  // parts of 4; 10,000: of 1,024, 64, 4) and at most 16 steps' stages.
  const BackwardStats mid_16 = peak_of(Gradient::kCheckpoint, 10.0, 16).stats;  // 1,000 steps
  EXPECT_EQ(short_16.checkpoint_levels, 0);
  EXPECT_EQ(mid_16.checkpoint_levels, 1);
  EXPECT_EQ(long_16.checkpoint_levels, 2);
  // rk4 on a 2 x 1 state: y0, 4 stages and the step's times; a state and
  // its restart data (generously).
  constexpr std::size_t kStepBytes = 5 * 2 * sizeof(double) + 64;
  constexpr std::size_t kCheckpointBytes = 256;
  for (const BackwardStats* s : {&short_16, &mid_16, &long_16})
    EXPECT_LE(s->segment_bytes,
              16 * kStepBytes + static_cast<std::size_t>(s->checkpoint_levels) * 16 * kCheckpointBytes);
  EXPECT_LT(long_16.segment_bytes, 2 * mid_16.segment_bytes);
  // Each level costs a replay: rk4, 4 evaluations per step.
  EXPECT_GE(long_16.recomputed_nfe, 3 * 4 * 10000);
  EXPECT_LE(long_16.recomputed_nfe, 3 * 4 * 10000);
  // A larger budget: fewer levels and replays, more bytes; the smallest
  // (1) splits in two.
  EXPECT_EQ(long_64.checkpoint_levels, 1);
  EXPECT_LT(long_64.recomputed_nfe, long_16.recomputed_nfe);
  EXPECT_GT(long_64.segment_bytes, long_16.segment_bytes);
  EXPECT_GE(long_1.checkpoint_levels, 13);  // 2^13 < 10,000
  // Every N-th step: the checkpoints grow with the steps, segments are
  // stored whole (one more forward solve).
  const BackwardStats every = peak_of(Gradient::kCheckpoint, 100.0, 16, 100).stats;
  EXPECT_EQ(every.checkpoints, 100);
  EXPECT_GT(every.stored_bytes, 4 * long_16.stored_bytes);
  EXPECT_EQ(every.checkpoint_levels, 0);
  EXPECT_EQ(every.recomputed_nfe, 4 * 10000);
  const double per_step = static_cast<double>(direct_long.stored_bytes) / 10000.0;
  EXPECT_LE(static_cast<double>(every.segment_bytes), per_step * 100.0);
}

}  // namespace
}  // namespace odeflow
