// Training checkpoints: a model's parameters and buffers, its optimizer's
// complete state, the step, and free-form metadata, in one safetensors file
// written atomically (a crash mid-write leaves the previous checkpoint).
//
// Layout: tensors "model.<state_dict name>" and "optim.<state array name>";
// metadata "odeflow.checkpoint" = "1", "step", "optim.step", "optim.lr"
// (doubles written in shortest round-trip form, so they read back
// exactly) and the caller's `extra` entries under "extra.<key>" (e.g. a
// data sampler's random state). Resuming from a checkpoint and continuing is
// bit-identical to never having stopped.
//
// load_checkpoint validates everything (model entries, optimizer state,
// scalars) before changing anything; on error (FormatError naming the
// tensor, InvalidArgument, ShapeError) model and optimizer are unchanged.
#pragma once

#include <odeflow/io/state_dict.hpp>
#include <odeflow/optim/optimizer.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace odeflow::io {

struct CheckpointInfo {
  std::int64_t step = 0;
  std::map<std::string, std::string> extra;
};

// optimizer may be null (weights only).
template <Scalar S>
void save_checkpoint(const std::filesystem::path& path, nn::Module<S>& model, const optim::Optimizer<S>* optimizer,
                     const CheckpointInfo& info);

template <Scalar S>
CheckpointInfo load_checkpoint(const std::filesystem::path& path, nn::Module<S>& model, optim::Optimizer<S>* optimizer);

}  // namespace odeflow::io
