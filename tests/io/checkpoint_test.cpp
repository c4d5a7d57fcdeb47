// Training checkpoints: saving mid-training and resuming is bit-identical to
// an uninterrupted run, and a bad checkpoint changes nothing.
#include "support/expect_error.hpp"
#include "support/scratch_dir.hpp"

#include <odeflow/ad/ops.hpp>
#include <odeflow/core/error.hpp>
#include <odeflow/io/checkpoint.hpp>
#include <odeflow/io/file.hpp>
#include <odeflow/nn/mlp.hpp>
#include <odeflow/optim/adam.hpp>
#include <odeflow/optim/module_params.hpp>
#include <odeflow/optim/sgd.hpp>

#include <gtest/gtest.h>

namespace odeflow::io {
namespace {

struct Trainer {
  explicit Trainer(std::uint64_t seed) {
    SplitMix64 rng(seed);
    net = nn::make_mlp<double>(nn::MlpSpec{.sizes = {2, 8, 2}}, rng);
    opt = std::make_unique<optim::Adam<double>>(optim::params_of(*net), optim::AdamOptions{.lr = 0.05});
  }
  // One step on a batch drawn from `data` (whose state is part of the run).
  void step(SplitMix64& data) {
    Matrix<double> x(2, 4), target(2, 4);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = data.normal();
    target = x.array().sin().matrix();
    tape.reset();
    ad::GradScope<double> scope(tape);
    const ad::Tensor<double> loss = ad::mean(ad::square(net->forward(tape.constant(x)) - tape.constant(target)));
    opt->zero_grad();
    tape.backward(loss);
    opt->step();
  }
  std::unique_ptr<nn::Sequential<double>> net;
  std::unique_ptr<optim::Adam<double>> opt;
  ad::Tape<double> tape;
};

TEST(Checkpoint, ResumingIsBitIdenticalToNeverStopping) {
  test::ScratchDir dir;
  Trainer straight(1);
  SplitMix64 data_straight(9);
  for (int i = 0; i < 20; ++i) straight.step(data_straight);

  Trainer first(1);
  SplitMix64 data(9);
  for (int i = 0; i < 10; ++i) first.step(data);
  save_checkpoint(dir.path() / "ck.safetensors", *first.net, first.opt.get(),
                  CheckpointInfo{.step = 10, .extra = {{"data_rng", std::to_string(data.state())}}});

  Trainer resumed(77);  // different initial weights: all of them must be overwritten
  const CheckpointInfo info = load_checkpoint(dir.path() / "ck.safetensors", *resumed.net, resumed.opt.get());
  EXPECT_EQ(info.step, 10);
  SplitMix64 data_resumed(0);
  data_resumed = SplitMix64(std::stoull(info.extra.at("data_rng")));
  // SplitMix64(seed) starts at state = seed: continuing from the saved state.
  for (int i = 0; i < 10; ++i) resumed.step(data_resumed);

  EXPECT_EQ(resumed.net->flat_parameters(), straight.net->flat_parameters());
  EXPECT_EQ(resumed.opt->step_count(), 20);
  const auto a = resumed.opt->export_state();
  const auto b = straight.opt->export_state();
  ASSERT_EQ(a.arrays.size(), b.arrays.size());
  for (const auto& [name, array] : a.arrays) EXPECT_EQ(array.values, b.arrays.at(name).values) << name;
}

TEST(Checkpoint, ACorruptOrMismatchedFileLeavesModelAndOptimizerUnchanged) {
  test::ScratchDir dir;
  Trainer source(1);
  SplitMix64 data(3);
  source.step(data);
  const auto path = dir.path() / "ck.safetensors";
  save_checkpoint(path, *source.net, source.opt.get(), CheckpointInfo{.step = 1});

  Trainer target(2);
  SplitMix64 data2(4);
  target.step(data2);
  const Vector<double> params = target.net->flat_parameters();
  const auto state = target.opt->export_state();

  // Truncated file.
  std::vector<std::byte> bytes = read_file(path);
  bytes.resize(bytes.size() - 16);
  write_file_atomically(dir.path() / "truncated.safetensors", bytes);
  EXPECT_THROW(load_checkpoint(dir.path() / "truncated.safetensors", *target.net, target.opt.get()), FormatError);

  // A different architecture.
  SplitMix64 rng(5);
  auto wide = nn::make_mlp<double>(nn::MlpSpec{.sizes = {2, 9, 2}}, rng);
  test::expect_error<FormatError>([&] { load_checkpoint<double>(path, *wide, nullptr); }, "0.weight");

  // An optimizer of another kind: the model must be restored too.
  optim::Sgd<double> sgd(optim::params_of(*target.net), optim::SgdOptions{.lr = 0.1, .momentum = 0.9});
  EXPECT_THROW(load_checkpoint(path, *target.net, &sgd), Error);
  EXPECT_EQ(target.net->flat_parameters(), params);

  // Not a checkpoint at all.
  save_module(*source.net, dir.path() / "weights.safetensors");
  test::expect_error<FormatError>([&] { load_checkpoint(dir.path() / "weights.safetensors", *target.net, target.opt.get()); },
                                  "not an odeflow checkpoint");
  EXPECT_EQ(target.net->flat_parameters(), params);
  const auto after = target.opt->export_state();
  for (const auto& [name, array] : after.arrays) EXPECT_EQ(array.values, state.arrays.at(name).values) << name;
}

TEST(StateDict, RoundTripsThroughAFileAndRejectsMismatchesNamingTheTensor) {
  test::ScratchDir dir;
  SplitMix64 rng(1);
  auto net = nn::make_mlp<double>(nn::MlpSpec{.sizes = {2, 5, 3}}, rng);
  save_module(*net, dir.path() / "w.safetensors");
  auto copy = nn::make_mlp<double>(nn::MlpSpec{.sizes = {2, 5, 3}}, rng);
  load_module(*copy, dir.path() / "w.safetensors");
  EXPECT_EQ(copy->flat_parameters(), net->flat_parameters());

  auto as_float = nn::make_mlp<float>(nn::MlpSpec{.sizes = {2, 5, 3}}, rng);
  test::expect_error<FormatError>([&] { load_module(*as_float, dir.path() / "w.safetensors"); }, "is F64 but the module is F32");
  load_module(*as_float, dir.path() / "w.safetensors", LoadOptions{.conversion = DtypeConversion::kAllow});
  EXPECT_EQ(as_float->flat_parameters(), net->flat_parameters().cast<float>());

  TensorFile extra = state_dict(*net);
  extra.insert("stray", Tensor({1}, std::vector<double>{1.0}));
  test::expect_error<FormatError>([&] { load_state_dict(*copy, extra); }, "unexpected tensor 'stray'");
  TensorFile nan = state_dict(*net);
  nan.insert("0.bias", Tensor({5}, std::vector<double>{0, 0, std::nan(""), 0, 0}));
  const Vector<double> before = copy->flat_parameters();
  test::expect_error<FormatError>([&] { load_state_dict(*copy, nan); }, "'0.bias' has a non-finite value at flat index 2");
  EXPECT_EQ(copy->flat_parameters(), before);
}

}  // namespace
}  // namespace odeflow::io
