// Differentiable events: the event time and the state there, both recorded
// on the autodiff tape.
//
//   ad::Tape<double> tape;
//   ad::GradScope<double> grad(tape);
//   auto y0 = tape.variable(y0_matrix);          // [h, v]
//   auto t0 = tape.variable(Matrix<double>::Zero(1, 1));
//   auto ground = [](const ad::Tensor<double>& t, const ad::Tensor<double>& y) { return ad::slice_rows(y, 0, 1); };
//   odeflow::EventResult<double> ev = odeflow::odeint_event<double>(f, params, y0, t0, ground, opt);
//   ev.t;  ev.y;                                  // 1x1 event time, rows x batch state
//   ad::sum(ev.y).backward();                     // reaches y0, t0 and params
//
// The event is located on values by solve/'s odeint_event (same options,
// steps, root search and errors; see solve/event.hpp), without gradients.
// Gradients then follow the implicit function theorem (as torchdiffeq's
// odeint_event): with z = (y0, t0, θ), y(t; z) the solution and t* defined by
// e(t*, y(t*; z)) = 0,
//   dt*/dz = −(∂e/∂y · ∂y(t*)/∂z + ∂e/∂θ) / (∂e/∂t + ∂e/∂y · f(t*, y*)),
//   dy*/dz = ∂y(t*)/∂z + f(t*, y*) · dt*/dz.
// The recording: ∂y(t*)/∂z is the differentiable odeint from t0 to t* (a
// second forward solve, with the same steps; its gradient method is
// `gradient`), and two small ops reroute cotangents: the state op passes ȳ*
// to y(t*) and ȳ*·f(t*, y*) to t*; the time op passes
// −t̄*·∂e/∂y / (∂e/∂t + ∂e/∂y·f) to y(t*) and the same multiple of ∂e/∂θ to
// the parameters. f and e run on a scratch tape (one evaluation of each, with
// a VJP of e, per backward pass).
//
// - f and e read only the parameters in `params` (gradients reach exactly
//   these); e(t, y) returns a 1x1 tensor for the whole batch, so the batch
//   stops together at one event.
// - The denominator ∂e/∂t + ∂e/∂y·f is the rate at which e crosses zero; a
//   tangential crossing (rate 0) has no derivative and throws NonFiniteError
//   in the backward pass.
// - First order only: the gradient cannot itself be differentiated
//   (create_graph through an event throws), as odeint's.
// - Without recording (or when nothing requires a gradient) no second solve
//   is run and ev.t, ev.y are constants.
#pragma once

#include <odeflow/ad/tape.hpp>
#include <odeflow/ad/tensor.hpp>
#include <odeflow/nn/module.hpp>
#include <odeflow/sensitivity/odeint.hpp>
#include <odeflow/solve/event.hpp>
#include <odeflow/solve/options.hpp>

#include <functional>
#include <optional>
#include <span>
#include <type_traits>

namespace odeflow {

// The event function on tensors: t 1x1, y rows x batch; returns 1x1.
template <Scalar S>
using TensorEventFn = std::function<ad::Tensor<S>(const ad::Tensor<S>& t, const ad::Tensor<S>& y)>;

template <Scalar S>
struct EventResult {
  ad::Tensor<S> t;  // 1x1: the event time
  ad::Tensor<S> y;  // rows x batch: the state at t
  // The search on values (solve/'s result: time, bracket, statistics).
  EventSolution<S> search;
  // The differentiable solve from t0 to t (its statistics and, after a
  // backward pass, backward_stats()); empty when nothing was recorded.
  std::optional<Trajectory<S>> solve;
};

// y0: rows x batch; t0: 1x1 (its gradient is dt*/dt0 etc.). Integrates from
// t0 towards event.t_end (backwards when t_end < t0). S is deduced from y0.
template <Scalar S>
EventResult<S> odeint_event(std::type_identity_t<TensorRhs<S>> f,
                            std::type_identity_t<std::span<ad::Parameter<S>* const>> params,
                            const ad::Tensor<S>& y0, const ad::Tensor<S>& t0,
                            std::type_identity_t<TensorEventFn<S>> event_fn, const Options& options = {},
                            const EventOptions& event = {}, const GradientOptions& gradient = {});

// A module as the dynamics: f(t, y) = func.forward(t, y), params = func.parameters().
template <Scalar S>
EventResult<S> odeint_event(nn::Module<S>& func, const ad::Tensor<S>& y0, const ad::Tensor<S>& t0,
                            std::type_identity_t<TensorEventFn<S>> event_fn, const Options& options = {},
                            const EventOptions& event = {}, const GradientOptions& gradient = {});

}  // namespace odeflow
