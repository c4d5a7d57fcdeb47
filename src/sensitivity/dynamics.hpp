// The dynamics of a differentiable solve as the gradient methods use them
// (internal): evaluations and VJPs of a tensor right-hand side on a scratch
// tape, and parameter gradients redirected into buffers of the caller's.
#pragma once

#include <odeflow/ad/ops.hpp>
#include <odeflow/ad/tape.hpp>
#include <odeflow/core/error.hpp>
#include <odeflow/sensitivity/odeint.hpp>

#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace odeflow::detail {

// A tape of this thread for the dynamics, one per nesting depth (a solve
// inside the dynamics of a solve gets the next one). Rewound on release.
template <Scalar S>
class ScratchTape {
 public:
  ScratchTape();
  ~ScratchTape();
  ScratchTape(const ScratchTape&) = delete;
  ScratchTape& operator=(const ScratchTape&) = delete;
  ad::Tape<S>& operator*() const { return *tape_; }

 private:
  ad::Tape<S>* tape_;
  typename ad::Tape<S>::Mark mark_;
};

template <Scalar S>
struct Dynamics {
  TensorRhs<S> f;
  std::vector<ad::Parameter<S>*> params;
  Eigen::Index rows = 0, cols = 0;
  ad::Shape shape;

  // dy = f(t, y), nothing recorded.
  void eval(ad::Tape<S>& tape, Time t, const Eigen::Ref<const Matrix<S>>& y, Eigen::Ref<Matrix<S>> dy) const;
  // One evaluation with its VJP for the cotangent `bar` of f(t, y):
  // y_bar = (∂f/∂y)ᵀ bar, and (∂f/∂θ)ᵀ bar added into each parameter's
  // grad (see GradRedirect). dy (rows x cols, column-major) = f(t, y) when
  // given.
  void vjp(ad::Tape<S>& tape, Time t, const Eigen::Ref<const Matrix<S>>& y, const Eigen::Ref<const Matrix<S>>& bar,
           Eigen::Ref<Matrix<S>> y_bar, S* dy = nullptr) const;
  // Elements of all parameters that take gradients.
  Eigen::Index parameter_size() const;

  // An evaluation whose graph stays on the tape (from `mark` on), so that
  // the reverse sweep need not evaluate f again.
  struct Recorded {
    typename ad::Tape<S>::Mark mark;
    ad::Tensor<S> y_in, out;
  };
  // dy = f(t, y), recorded.
  Recorded record(ad::Tape<S>& tape, Time t, const Eigen::Ref<const Matrix<S>>& y, Eigen::Ref<Matrix<S>> dy) const;
  // vjp() of a recorded evaluation, through its graph. Its cotangents stay
  // on the tape until the caller rewinds to r.mark.
  void vjp(ad::Tape<S>& tape, const Recorded& r, const Eigen::Ref<const Matrix<S>>& bar,
           Eigen::Ref<Matrix<S>> y_bar) const;
};

// A tape that keeps graphs from a forward pass to its backward pass, taken
// from a pool of this thread's (its arena is reused, so a training loop
// does not fault in fresh pages every iteration) and reset on release.
template <Scalar S>
class GraphTape {
 public:
  GraphTape();
  ~GraphTape();
  GraphTape(const GraphTape&) = delete;
  GraphTape& operator=(const GraphTape&) = delete;
  ad::Tape<S>& operator*() const { return *tape_; }

 private:
  std::unique_ptr<ad::Tape<S>> tape_;
};

// For its lifetime each parameter's grad is a zeroed buffer of its own, so
// that VJPs deliver θ-gradients there without touching the caller's.
template <Scalar S>
class GradRedirect {
 public:
  explicit GradRedirect(std::span<ad::Parameter<S>* const> params) : params_(params.begin(), params.end()) {
    saved_.resize(params_.size());
    for (std::size_t i = 0; i < params_.size(); ++i) {
      ad::Parameter<S>& p = *params_[i];
      saved_[i].setZero(p.value.rows(), p.value.cols());
      std::swap(p.grad, saved_[i]);
    }
  }
  ~GradRedirect() {
    for (std::size_t i = 0; i < params_.size(); ++i) std::swap(params_[i]->grad, saved_[i]);
  }
  GradRedirect(const GradRedirect&) = delete;
  GradRedirect& operator=(const GradRedirect&) = delete;

  void zero() {
    for (ad::Parameter<S>* p : params_) p->grad.setZero();
  }
  // The gathered gradient of parameter i (valid during the redirect).
  const Matrix<S>& grad(std::size_t i) const { return params_[i]->grad; }

 private:
  std::vector<ad::Parameter<S>*> params_;
  std::vector<Matrix<S>> saved_;
};

}  // namespace odeflow::detail
