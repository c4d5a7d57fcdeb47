// Differentiable odeint: a solve recorded on the autodiff tape.
//
//   ad::Tape<double> tape;
//   ad::GradScope<double> grad(tape);
//   auto y0 = tape.variable(y0_matrix);                 // rows x batch
//   auto ts = tape.variable(ts_vector);                 // K x 1 output times
//   odeflow::Trajectory<double> traj = odeflow::odeint(net, y0, ts, opt, {.gradient = Gradient::kAdjoint});
//   auto loss = ad::mean(ad::abs(ad::sub(traj.ys, target)));   // traj.ys: rows x (K·batch)
//   loss.backward();      // reaches y0, every parameter of net, and ts
//
// The forward solve is solve/'s (same steps, statistics and errors as the
// plain odeint on matrices); the dynamics run on a scratch tape of the same
// thread, so `func` records nothing on the caller's tape. The recorded op's
// VJP depends on GradientOptions::gradient:
// - kDirect: the exact gradient of the discretization (step sizes held
//   fixed): a reverse sweep through every accepted step's stages and the
//   dense output. Stores each accepted step's stages; memory grows with the
//   number of steps. Any explicit Runge–Kutta method, fixed or adaptive.
// - kAdjoint: the continuous adjoint (Chen et al. 2018): one backward solve
//   of [y, a, a_θ] from ts.back() to ts.front() that adds each output's
//   cotangent to a as it passes the output time and carries its step size
//   across them. Memory does not depend on the number of steps. Seminorm on
//   by default (a_θ out of the error norm; Kidger et al. 2020).
// - kCheckpoint: stores the state at a few accepted steps (checkpoints) with
//   what restarts the solve there bit for bit (the step taken, its first
//   stage's origin, the controller's memory), nothing per step; on the way
//   back re-runs each segment between checkpoints (same attempts, rejections
//   and steps) and sweeps it as kDirect: kDirect's gradient, with memory
//   O(checkpoints × state) between forward and backward. During the backward
//   pass: every N steps, one segment's stages, for one more forward solve;
//   with a budget, segments longer than it are split recursively (checkpoints
//   of their own, at most the budget per level), so memory stays
//   O(budget × state × levels), levels growing as log(steps), each level one
//   more replay.
//
// Gradients with respect to ts use dy/dt = f(t, y) at the outputs:
// dL/dt_k = ḡ_k·f(t_k, y_k) for k ≥ 1 and dL/dt_0 = −a(t_0)·f(t_0, y_0),
// a(t_0) the gradient reaching y(t_0) through the later outputs.
//
// The op's VJP is first order: the gradient of a solve cannot itself be
// differentiated (create_graph through odeint throws). Dynamics may use
// create_graph internally (CNF traces); that runs on the scratch tape.
#pragma once

#include <odeflow/ad/tape.hpp>
#include <odeflow/ad/tensor.hpp>
#include <odeflow/core/stats.hpp>
#include <odeflow/core/types.hpp>
#include <odeflow/nn/module.hpp>
#include <odeflow/solve/options.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace odeflow {

enum class Gradient {
  kDirect,      // backpropagation through the stored stages of every step
  kAdjoint,     // continuous adjoint: a backward solve, constant memory
  kCheckpoint,  // stored states every N steps, segments recomputed
};

// The backward solve of Gradient::kAdjoint. Unset fields take the forward
// solve's values (method, rtol, atol; min/max_step and max_num_steps always
// do). The backward solve starts with the forward's last step size, and
// carries its step size across output times instead of restarting.
struct AdjointOptions {
  std::string method;  // "" = the forward method (must be an explicit Runge–Kutta method)
  std::optional<Tolerance> rtol;
  std::optional<Tolerance> atol;
  // Error control over y and a only; false also controls the parameter
  // integrals a_θ (torchdiffeq's default; more backward steps).
  bool seminorm = true;
  // Called after every attempted step of the backward solve (its t0 and dt
  // in forward time: dt < 0 when integrating from ts.back() to ts.front()).
  std::function<void(const StepInfo&)> on_step;
};

struct GradientOptions {
  Gradient gradient = Gradient::kDirect;
  AdjointOptions adjoint;
  // kCheckpoint: a checkpoint at every `checkpoint_every`-th accepted step;
  // with 0, at most `checkpoints` of them, spread evenly (at every 2^j-th
  // step: when one more is due, every other one is dropped and the interval
  // doubles, so between `checkpoints`/2 and `checkpoints` are kept once the
  // solve has that many steps). With the budget, the backward pass also
  // holds at most max(`checkpoints`, 2) states per level of checkpoints it
  // makes inside longer segments, and one part of at most that many steps:
  // memory O(checkpoints × log(steps)), for one more replay per level.
  int checkpoint_every = 0;
  int checkpoints = 16;
};

// The right-hand side on tensors: dy/dt = f(t, y), t a 1x1 tensor, y
// rows x batch; f records its ops on y's tape and reads `params`.
template <Scalar S>
using TensorRhs = std::function<ad::Tensor<S>(const ad::Tensor<S>& t, const ad::Tensor<S>& y)>;

// What a backward pass did (filled when the tape's backward reaches the op).
struct BackwardStats {
  std::int64_t nfe = 0;       // VJPs of f in the backward pass (adjoint: each with an evaluation of f)
  std::int64_t accepted = 0;  // adjoint: accepted backward steps; direct/checkpoint: steps swept
  std::int64_t rejected = 0;
  // checkpoint: forward evaluations re-run to rebuild segments; direct:
  // stages whose kept graph could not serve, evaluated again for their VJP
  std::int64_t recomputed_nfe = 0;
  std::size_t stored_bytes = 0;  // stages, graphs or checkpoints held by the op between forward and backward
  std::int64_t checkpoints = 0;     // checkpoint: checkpoints the forward pass kept
  // checkpoint: what the backward pass held at most: the stored steps of one
  // segment and the checkpoints it made inside longer ones
  std::size_t segment_bytes = 0;
  std::int64_t checkpoint_levels = 0;  // checkpoint: levels of checkpoints made inside segments (0: none)
};

namespace detail {
template <Scalar S>
struct OdeintRecord;
}

template <Scalar S>
class Trajectory {
 public:
  // rows x (K·batch): the block of columns [k·batch, (k+1)·batch) is y(ts[k]).
  ad::Tensor<S> ys;

  std::size_t size() const { return count_; }
  Eigen::Index batch() const { return batch_; }
  // y(ts[k]) (rows x batch), a recorded column slice of ys.
  ad::Tensor<S> operator[](std::size_t k) const;
  // The forward solve's statistics.
  const Stats& stats() const;
  // The backward pass's (zeros until a backward pass reached the op).
  const BackwardStats& backward_stats() const;

  Trajectory() = default;
  Trajectory(ad::Tensor<S> ys, std::size_t count, Eigen::Index batch, std::shared_ptr<detail::OdeintRecord<S>> record)
      : ys(ys), count_(count), batch_(batch), record_(std::move(record)) {}

 private:
  std::size_t count_ = 0;
  Eigen::Index batch_ = 0;
  std::shared_ptr<detail::OdeintRecord<S>> record_;
};

// f with the parameters it reads (gradients reach exactly these).
// ts: a K x 1 (or 1 x K) tensor of strictly monotone times; K ≥ 1.
template <Scalar S>
Trajectory<S> odeint(TensorRhs<S> f, std::span<ad::Parameter<S>* const> params, const ad::Tensor<S>& y0,
                     const ad::Tensor<S>& ts, const Options& options = {}, const GradientOptions& gradient = {});

// A module as the dynamics: f(t, y) = func.forward(t, y), parameters =
// func.parameters().
template <Scalar S>
Trajectory<S> odeint(nn::Module<S>& func, const ad::Tensor<S>& y0, const ad::Tensor<S>& ts,
                     const Options& options = {}, const GradientOptions& gradient = {});

// Output times as plain numbers (no gradient with respect to them).
template <Scalar S>
Trajectory<S> odeint(nn::Module<S>& func, const ad::Tensor<S>& y0, std::span<const Time> ts,
                     const Options& options = {}, const GradientOptions& gradient = {});
template <Scalar S>
Trajectory<S> odeint(TensorRhs<S> f, std::span<ad::Parameter<S>* const> params, const ad::Tensor<S>& y0,
                     std::span<const Time> ts, const Options& options = {}, const GradientOptions& gradient = {});

}  // namespace odeflow
