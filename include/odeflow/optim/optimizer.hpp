// The optimizer interface shared by Sgd, Adam, AdamW and RmsProp.
//
// An optimizer holds views of its parameters (see param_view.hpp), one set of
// hyperparameters and, per parameter, the state buffers its update rule
// needs. `step()` updates every parameter in place from its gradient exactly
// as PyTorch 1.13's `opt.step()` does; `zero_grad()` zeroes the gradients.
// The whole state exports to named arrays and imports back (checkpoints).
#pragma once

#include <odeflow/core/types.hpp>
#include <odeflow/optim/optimizer_state.hpp>
#include <odeflow/optim/param_view.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace odeflow::optim {

// The scalar-independent face of every optimizer: what a learning-rate
// schedule or a training loop drives.
class OptimizerBase {
 public:
  virtual ~OptimizerBase() = default;
  // One update of every parameter from its current gradient.
  virtual void step() = 0;
  // Sets every gradient to zero (PyTorch's zero_grad(set_to_none=False)).
  virtual void zero_grad() = 0;
  virtual double lr() const = 0;
  // Throws InvalidArgument unless `lr` is finite and non-negative.
  virtual void set_lr(double lr) = 0;
  // Completed steps; the Adam and RMSprop bias corrections use it.
  virtual std::int64_t step_count() const = 0;
};

template <Scalar S>
class Optimizer : public OptimizerBase {
 public:
  void step() final;
  void zero_grad() final;
  double lr() const final { return lr_; }
  void set_lr(double lr) final;
  std::int64_t step_count() const final { return step_count_; }

  std::span<const ParamView<S>> params() const { return params_; }
  // Every state buffer plus "step" and "lr" (see optimizer_state.hpp).
  OptimizerState<S> export_state() const;
  // Replaces the state with `state`, which must hold exactly the arrays
  // export_state() would (same names and shapes) and both scalars. Throws
  // InvalidArgument (missing or unknown entry, bad scalar) or ShapeError
  // (shape mismatch) and then leaves the optimizer unchanged.
  void import_state(const OptimizerState<S>& state);

 protected:
  // Validates the parameter views (at least one; validate_params) and the
  // initial lr.
  Optimizer(std::vector<ParamView<S>> params, double lr);

  // Declares per-parameter state `key` (a PyTorch state name), zero
  // initialized with each parameter's size; returns its handle for buffer().
  std::size_t add_state(std::string key);
  Vector<S>& buffer(std::size_t handle, std::size_t param) { return states_[handle].buffers[param]; }

  // Applies the update rule to every parameter; step_count() already counts
  // this step (1 on the first call), as PyTorch increments `step` first.
  virtual void update() = 0;

  std::vector<ParamView<S>> params_;

 private:
  struct NamedState {
    std::string key;
    std::vector<Vector<S>> buffers;  // one per parameter
  };

  double lr_;
  std::int64_t step_count_ = 0;
  std::vector<NamedState> states_;
};

extern template class Optimizer<float>;
extern template class Optimizer<double>;

}  // namespace odeflow::optim
