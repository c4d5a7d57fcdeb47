#include <odeflow/optim/lr_scheduler.hpp>

#include "optim/option_checks.hpp"

#include <cmath>
#include <numbers>

namespace odeflow::optim {
namespace {

void check_epoch(const char* owner, std::int64_t epoch) {
  if (epoch < 0) throw InvalidArgument(fmt::format("{}: epoch = {} must be non-negative", owner, epoch));
}

}  // namespace

LrScheduler::LrScheduler(OptimizerBase& optimizer)
    : optimizer_(optimizer), base_lr_(optimizer.lr()), last_lr_(optimizer.lr()) {}

void LrScheduler::step() {
  ++last_epoch_;
  last_lr_ = next_lr(optimizer_.lr(), last_epoch_);
  optimizer_.set_lr(last_lr_);
}

void LrScheduler::load_state(const LrSchedulerState& state) {
  check_epoch("LrScheduler", state.last_epoch);
  detail::check_non_negative("LrScheduler", "base_lr", state.base_lr);
  detail::check_non_negative("LrScheduler", "last_lr", state.last_lr);
  last_epoch_ = state.last_epoch;
  base_lr_ = state.base_lr;
  last_lr_ = state.last_lr;
}

StepLr::StepLr(OptimizerBase& optimizer, std::int64_t step_size, double gamma)
    : LrScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  if (step_size < 1) throw InvalidArgument(fmt::format("StepLR: step_size = {} must be at least 1", step_size));
  detail::check_non_negative("StepLR", "gamma", gamma);
}

double StepLr::next_lr(double lr, std::int64_t epoch) const { return epoch % step_size_ != 0 ? lr : lr * gamma_; }

double StepLr::closed_form_lr(std::int64_t epoch) const {
  check_epoch("StepLR", epoch);
  return base_lr() * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

ExponentialLr::ExponentialLr(OptimizerBase& optimizer, double gamma) : LrScheduler(optimizer), gamma_(gamma) {
  detail::check_non_negative("ExponentialLR", "gamma", gamma);
}

double ExponentialLr::next_lr(double lr, std::int64_t) const { return lr * gamma_; }

double ExponentialLr::closed_form_lr(std::int64_t epoch) const {
  check_epoch("ExponentialLR", epoch);
  return base_lr() * std::pow(gamma_, static_cast<double>(epoch));
}

CosineAnnealingLr::CosineAnnealingLr(OptimizerBase& optimizer, std::int64_t t_max, double eta_min)
    : LrScheduler(optimizer), t_max_(t_max), eta_min_(eta_min) {
  if (t_max < 1) throw InvalidArgument(fmt::format("CosineAnnealingLR: T_max = {} must be at least 1", t_max));
  detail::check_non_negative("CosineAnnealingLR", "eta_min", eta_min);
}

double CosineAnnealingLr::next_lr(double lr, std::int64_t epoch) const {
  constexpr double kPi = std::numbers::pi;
  const auto t_max = static_cast<double>(t_max_);
  const auto e = static_cast<double>(epoch);
  // One epoch past each minimum the ratio below would divide 0 by 0; PyTorch
  // steps up by the first increment of the mirrored half-period instead.
  if ((epoch - 1 - t_max_) % (2 * t_max_) == 0)
    return lr + (base_lr() - eta_min_) * (1.0 - std::cos(kPi / t_max)) / 2.0;
  return (1.0 + std::cos(kPi * e / t_max)) / (1.0 + std::cos(kPi * (e - 1.0) / t_max)) * (lr - eta_min_) + eta_min_;
}

double CosineAnnealingLr::closed_form_lr(std::int64_t epoch) const {
  check_epoch("CosineAnnealingLR", epoch);
  const double angle = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(t_max_);
  return eta_min_ + (base_lr() - eta_min_) * (1.0 + std::cos(angle)) / 2.0;
}

}  // namespace odeflow::optim
