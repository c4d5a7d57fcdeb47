// Learning-rate schedules that drive an optimizer's lr once per epoch:
// StepLr, ExponentialLr and CosineAnnealingLr, PyTorch 1.13's StepLR,
// ExponentialLR and CosineAnnealingLR.
//
// Like PyTorch, step() applies the recursive ("chainable") rule to the
// optimizer's current lr, so schedules compose and a manual set_lr() between
// steps is respected; closed_form_lr(e) gives the textbook formula from the
// base lr. The two agree to rounding (~1e-17). For cosine annealing past
// T_max both continue periodically: the lr rises back to the base lr at
// 2·T_max, as PyTorch's does (SGDR's restarts are a different schedule).
//
// A scheduler keeps a reference to its optimizer, which must outlive it. The
// base lr is the optimizer's lr at construction.
#pragma once

#include <odeflow/optim/optimizer.hpp>

#include <cstdint>

namespace odeflow::optim {

// What a checkpoint needs to resume a schedule bit-exactly (together with
// the optimizer's own state, which holds the current lr).
struct LrSchedulerState {
  std::int64_t last_epoch = 0;
  double base_lr = 0.0;
  double last_lr = 0.0;
};

class LrScheduler {
 public:
  virtual ~LrScheduler() = default;

  // Advances one epoch and sets the optimizer's lr (PyTorch's sched.step()).
  void step();
  // The lr the last step() set (the base lr before any step).
  double last_lr() const { return last_lr_; }
  std::int64_t last_epoch() const { return last_epoch_; }
  double base_lr() const { return base_lr_; }

  // The closed-form lr at `epoch` ≥ 0, from the base lr; changes nothing.
  virtual double closed_form_lr(std::int64_t epoch) const = 0;

  LrSchedulerState state() const { return {last_epoch_, base_lr_, last_lr_}; }
  // Restores a state(); the optimizer's lr is restored by its own
  // import_state(). Throws InvalidArgument for a negative epoch or lr.
  void load_state(const LrSchedulerState& state);

 protected:
  explicit LrScheduler(OptimizerBase& optimizer);
  // The lr at epoch `epoch` ≥ 1 from the lr `lr` of the epoch before.
  virtual double next_lr(double lr, std::int64_t epoch) const = 0;

 private:
  OptimizerBase& optimizer_;
  double base_lr_;
  double last_lr_;
  std::int64_t last_epoch_ = 0;
};

// lr·gamma every `step_size` epochs: base_lr·gamma^⌊e/step_size⌋.
class StepLr final : public LrScheduler {
 public:
  // Throws InvalidArgument unless step_size ≥ 1 and gamma is finite and ≥ 0.
  StepLr(OptimizerBase& optimizer, std::int64_t step_size, double gamma = 0.1);
  double closed_form_lr(std::int64_t epoch) const override;

 private:
  double next_lr(double lr, std::int64_t epoch) const override;
  std::int64_t step_size_;
  double gamma_;
};

// lr·gamma every epoch: base_lr·gamma^e.
class ExponentialLr final : public LrScheduler {
 public:
  // Throws InvalidArgument unless gamma is finite and ≥ 0.
  ExponentialLr(OptimizerBase& optimizer, double gamma);
  double closed_form_lr(std::int64_t epoch) const override;

 private:
  double next_lr(double lr, std::int64_t epoch) const override;
  double gamma_;
};

// eta_min + (base_lr − eta_min)·(1 + cos(π·e/T_max))/2 (Loshchilov & Hutter,
// SGDR, ICLR 2017, without restarts).
class CosineAnnealingLr final : public LrScheduler {
 public:
  // Throws InvalidArgument unless t_max ≥ 1 and eta_min is finite and ≥ 0.
  CosineAnnealingLr(OptimizerBase& optimizer, std::int64_t t_max, double eta_min = 0.0);
  double closed_form_lr(std::int64_t epoch) const override;

 private:
  double next_lr(double lr, std::int64_t epoch) const override;
  std::int64_t t_max_;
  double eta_min_;
};

}  // namespace odeflow::optim
