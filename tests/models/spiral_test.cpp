// The spiral of torchdiffeq's ode_demo (W1 of ../shared/bench/WORKLOADS.md §3):
// data, initial weights, first batch and iteration-0 loss match the
// reference values listed there; training lowers the loss; resuming from a
// checkpoint is bit-identical to never having stopped.
#include "support/expect_error.hpp"
#include "support/scratch_dir.hpp"

#include <odeflow/core/error.hpp>
#include <odeflow/models/spiral.hpp>

#include <gtest/gtest.h>

#include <set>

namespace odeflow::models {
namespace {

using test::expect_error;

const SpiralData& reference_data() {
  static const SpiralData data = make_spiral_data();
  return data;
}

SpiralBatch<double> first_batch() {
  const SpiralData& data = reference_data();
  SpiralBatchSampler sampler(data.size() - 10, 20, 2);
  return make_spiral_batch<double>(data.y, data.t, sampler.next(), 10);
}

TEST(SpiralData, TrueTrajectoryMatchesTheReferenceValues) {
  const SpiralData& data = reference_data();
  ASSERT_EQ(data.size(), 1000);
  EXPECT_EQ(data.t[0], 0.0);
  EXPECT_EQ(data.t[999], 25.0);
  EXPECT_EQ(data.t[500], 25.0 * 500 / 999);
  // WORKLOADS.md §3: torchdiffeq's dopri5 at rtol 1e-7, atol 1e-9; ours takes the same steps.
  EXPECT_NEAR(data.y(0, 999), -0.4436228806572041, 1e-13);
  EXPECT_NEAR(data.y(1, 999), 0.27944286930661905, 1e-13);
  EXPECT_NEAR(data.y(0, 500), -0.6315559267736449, 1e-13);
  EXPECT_NEAR(data.y(1, 500), 0.21428540349643002, 1e-13);
  EXPECT_EQ(data.y(0, 0), 2.0);
  EXPECT_EQ(data.y(1, 0), 0.0);
}

TEST(SpiralData, RejectsTooFewTimesAndBadEndTimes) {
  expect_error<InvalidArgument>([] { make_spiral_data(1); }, "size must be at least 2, got 1");
  expect_error<InvalidArgument>([] { make_spiral_data(10, -1.0); }, "t_end must be finite and positive, got -1");
}

TEST(SpiralOdeFunc, InitialWeightsAreTheReferenceDrawsRoundedToFloat32) {
  SpiralOdeFunc<double> func(1);
  const auto params = func.named_parameters();
  ASSERT_EQ(params.size(), 4u);
  EXPECT_EQ(params[0].name, "net.0.weight");
  EXPECT_EQ(params[0].param->shape, (std::vector<std::int64_t>{50, 2}));
  EXPECT_EQ(params[3].name, "net.2.bias");
  // Storage order is PyTorch's row-major [out, in]: element 1 is l1.weight[0, 1].
  const double* w1 = params[0].param->value.data();
  EXPECT_EQ(w1[0], -0.003426732262596488);
  EXPECT_EQ(w1[0], static_cast<double>(static_cast<float>(-0.0034267321791851147)));
  EXPECT_EQ(w1[1], static_cast<double>(static_cast<float>(-0.2500067493369868)));
  EXPECT_TRUE(params[1].param->value.isZero(0.0));
  EXPECT_TRUE(params[3].param->value.isZero(0.0));
  // l2.weight continues the same stream after l1's 100 draws.
  SplitMix64 rng(1);
  for (int i = 0; i < 100; ++i) rng.normal();
  EXPECT_EQ(params[2].param->value.data()[0], static_cast<double>(static_cast<float>(0.1 * rng.normal())));

  SpiralOdeFunc<float> func_f(1);
  EXPECT_EQ(func_f.flat_parameters().cast<double>(), func.flat_parameters());
}

TEST(SpiralOdeFunc, AppliesTheNetworkToTheCubedState) {
  SpiralOdeFunc<double> func(3);
  Matrix<double> y(2, 2);
  y << 0.5, -1.5, 2.0, 0.25;
  const Matrix<double> f = evaluate_field(func, y);
  const Matrix<double> w1 = func.named_parameters()[0].param->value;  // 2 x 50: Wᵀ
  const Matrix<double> w2 = func.named_parameters()[2].param->value;  // 50 x 2
  const Matrix<double> expected = w2.transpose() * (w1.transpose() * y.array().cube().matrix()).array().tanh().matrix();
  EXPECT_LT((f - expected).cwiseAbs().maxCoeff(), 1e-15);
}

TEST(SpiralOdeFunc, FullForwardSolveAtTheInitialWeightsIsTorchdiffeqs) {
  // ../shared/bench/results/w1.jsonl, case full_forward_nograd (torchdiffeq 0.2.5).
  const SpiralData& data = reference_data();
  SpiralOdeFunc<double> func(1);
  const Matrix<double> y0 = data.y.col(0);
  const Solution<double> sol = solve_learned(func, y0, data.t);
  EXPECT_EQ(sol.stats.nfe, 380);
  EXPECT_EQ(sol.stats.accepted, 49);
  EXPECT_EQ(sol.stats.rejected, 14);
  EXPECT_NEAR(sol.ys.back()(0), -2.5344898051906717, 1e-13);
  EXPECT_NEAR(sol.ys.back()(1), 21.20282574253171, 1e-12);
  double loss = 0.0;
  for (std::size_t i = 0; i < sol.ys.size(); ++i) loss += (sol.ys[i] - data.y.col(static_cast<Eigen::Index>(i))).cwiseAbs().sum();
  EXPECT_NEAR(loss / 2000.0, 3.867231249049003, 1e-13);
}

TEST(SpiralBatchSampler, FirstBatchIsTheReferenceBatch) {
  SpiralBatchSampler sampler(990, 20, 2);
  EXPECT_EQ(sampler.next(), (std::vector<std::int64_t>{585, 741, 589, 757, 308, 343, 719, 731, 247, 720, 336, 433, 550,
                                                       370, 922, 201, 198, 360, 374, 208}));
}

TEST(SpiralBatchSampler, DrawsDistinctStartsAndContinuesFromItsState) {
  SpiralBatchSampler sampler(5, 5, 7);  // every start once: duplicates must be redrawn
  const auto all = sampler.next();
  EXPECT_EQ(std::set<std::int64_t>(all.begin(), all.end()), (std::set<std::int64_t>{0, 1, 2, 3, 4}));

  SpiralBatchSampler a(990, 20, 2), b(990, 20, 99);
  a.next();
  b.set_state(a.state());
  EXPECT_EQ(a.next(), b.next());
  expect_error<InvalidArgument>([] { SpiralBatchSampler(10, 11, 0); }, "batch_size must be in [1, 10]");
}

TEST(SpiralBatch, BlockKHoldsEveryWindowAtItsKthTime) {
  const SpiralData& data = reference_data();
  const std::vector<std::int64_t> starts{585, 741, 3};
  const SpiralBatch<double> batch = make_spiral_batch<double>(data.y, data.t, starts, 10);
  ASSERT_EQ(batch.y.cols(), 30);
  EXPECT_EQ(batch.t, std::vector<Time>(data.t.begin(), data.t.begin() + 10));
  EXPECT_EQ(batch.y0.col(1), data.y.col(741));
  EXPECT_EQ(batch.y.col(0 * 3 + 2), data.y.col(3));
  EXPECT_EQ(batch.y.col(9 * 3 + 0), data.y.col(594));
  const std::vector<std::int64_t> late{991};
  expect_error<InvalidArgument>([&] { make_spiral_batch<double>(data.y, data.t, late, 10); },
                                "window start 991 with batch_time 10 runs past the 1000 data times");
}

TEST(SpiralLoss, IterationZeroLossIsTheReferenceForEveryGradientMethod) {
  const SpiralBatch<double> batch = first_batch();
  Matrix<double> grads[2];
  int i = 0;
  for (Gradient g : {Gradient::kDirect, Gradient::kAdjoint}) {
    SpiralOdeFunc<double> func(1);
    func.zero_grad();
    ad::Tape<double> tape;
    const SpiralLoss l = spiral_loss_backward(func, tape, batch, {}, {.gradient = g});
    EXPECT_NEAR(l.loss, 0.04307019795437551, 1e-15);
    EXPECT_EQ(l.forward.nfe, 14);  // torchdiffeq's (../shared/bench/RESULTS.md, W1): 2 accepted steps
    EXPECT_GT(l.backward.nfe, 0);
    EXPECT_EQ(tape.node_count(), 0u);  // rewound
    grads[i++] = func.flat_gradients();
  }
  // The adjoint gradient is the direct one up to the solver tolerance.
  EXPECT_LT((grads[1] - grads[0]).norm(), 1e-4 * grads[0].norm());
}

SpiralSettings quick_settings() {
  SpiralSettings s;
  s.batch_size = 8;
  s.lr = 1e-2;
  s.options.rtol = 1e-5;
  s.options.atol = 1e-7;
  return s;
}

TEST(SpiralTrainer, AShortRunLowersTheTrajectoryLoss) {
  SpiralTrainer<double> trainer(reference_data(), quick_settings());
  const double before = trainer.evaluate().loss;
  for (int i = 0; i < 40; ++i) trainer.step();
  EXPECT_EQ(trainer.iteration(), 40);
  EXPECT_LT(trainer.evaluate().loss, 0.8 * before);
}

TEST(SpiralTrainer, ResumingFromACheckpointIsBitIdentical) {
  test::ScratchDir dir;
  const SpiralSettings settings = quick_settings();
  SpiralTrainer<double> straight(reference_data(), settings);
  std::vector<double> losses;
  for (int i = 0; i < 6; ++i) losses.push_back(straight.step().loss);

  {
    SpiralTrainer<double> first(reference_data(), settings);
    for (int i = 0; i < 3; ++i) first.step();
    first.save(dir / "ck.safetensors", {{"note", "half way"}});
  }
  SpiralTrainer<double> resumed(reference_data(), settings);
  const auto extra = resumed.load(dir / "ck.safetensors");
  EXPECT_EQ(extra, (std::map<std::string, std::string>{{"note", "half way"}}));
  EXPECT_EQ(resumed.iteration(), 3);
  for (int i = 3; i < 6; ++i) EXPECT_EQ(resumed.step().loss, losses[static_cast<std::size_t>(i)]) << i;
  EXPECT_EQ(resumed.func().flat_parameters(), straight.func().flat_parameters());
}

TEST(SpiralTrainer, ACheckpointOfOtherSettingsIsRefusedAndChangesNothing) {
  test::ScratchDir dir;
  SpiralTrainer<double> trainer(reference_data(), quick_settings());
  trainer.step();
  trainer.save(dir / "ck.safetensors");

  SpiralSettings other = quick_settings();
  other.lr = 5e-3;
  SpiralTrainer<double> fresh(reference_data(), other);
  const Vector<double> before = fresh.func().flat_parameters();
  expect_error<InvalidArgument>([&] { fresh.load(dir / "ck.safetensors"); },
                                "made with lr = 0.01, this run has lr = 0.005");
  EXPECT_EQ(fresh.func().flat_parameters(), before);
  EXPECT_EQ(fresh.iteration(), 0);
  expect_error<InvalidArgument>([&] { trainer.save(dir / "x.safetensors", {{"spiral.mine", "1"}}); },
                                "spiral.mine");
}

TEST(SpiralSettings, ValidateNamesTheBadField) {
  SpiralSettings s;
  s.batch_time = 1;
  expect_error<InvalidArgument>([&] { s.validate(1000); }, "batch_time must be in [2, 1000)");
  s = {};
  s.batch_size = 991;
  expect_error<InvalidArgument>([&] { s.validate(1000); }, "batch_size must be in [1, 990]");
  s = {};
  s.lr = -1;
  expect_error<InvalidArgument>([&] { s.validate(1000); }, "lr");
  s = {};
  s.options.method = "no_such_method";
  expect_error<InvalidArgument>([&] { s.validate(1000); }, "no_such_method");
}

}  // namespace
}  // namespace odeflow::models
