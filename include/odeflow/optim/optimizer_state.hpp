// An optimizer's complete state as plain named arrays and scalars, for
// checkpoints (a safetensors file stores it as it is).
//
// Array names are "<parameter name>.<key>" with PyTorch's state keys:
// momentum_buffer (SGD, RMSprop), exp_avg, exp_avg_sq, max_exp_avg_sq (Adam,
// AdamW), square_avg, grad_avg (RMSprop). Each array has its parameter's
// shape and element order (ParamView::shape), in the optimizer's scalar
// type. Scalars:
// "step" (completed steps, an integer) and "lr" (the current learning rate,
// which schedules change). Importing an exported state and continuing is
// bit-identical to never having stopped.
#pragma once

#include <odeflow/core/types.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace odeflow::optim {

template <Scalar S>
struct StateArray {
  std::vector<std::int64_t> shape;
  std::vector<S> values;
};

template <Scalar S>
struct OptimizerState {
  std::map<std::string, StateArray<S>> arrays;
  std::map<std::string, double> scalars;
};

}  // namespace odeflow::optim
