// odeint as a recorded op: the forward solve, and its VJP by the three
// gradient methods of sensitivity/odeint.hpp.
#include "dynamics.hpp"
#include "records.hpp"
#include "vjps.hpp"

#include <odeflow/ad/ops.hpp>
#include <odeflow/core/error.hpp>
#include <odeflow/sensitivity/odeint.hpp>
#include <odeflow/solve/detail/solve_checks.hpp>
#include <odeflow/solve/detail/step_recorder.hpp>
#include <odeflow/solve/odeint.hpp>
#include <odeflow/solve/registry.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace odeflow {
namespace detail {
namespace {

template <Scalar S>
void odeint_vjp(ad::Tape<S>& tape, const ad::Node<S>& node, const ad::Tensor<S>& bar) {
  auto& rec = *static_cast<OdeintRecord<S>*>(tape.context(node));
  if (tape.recording())
    throw InvalidArgument("odeint: its gradient cannot be differentiated again (create_graph through a solve)");
  const Eigen::Index rows = rec.y0.rows(), cols = rec.y0.cols();
  const std::size_t K = rec.ts.size();
  std::vector<Matrix<S>> g(K);
  for (std::size_t k = 0; k < K; ++k) g[k] = bar.value().middleCols(static_cast<Eigen::Index>(k) * cols, cols);
  rec.backward = BackwardStats{};
  const bool want_t = rec.ts_in.defined() && rec.ts_in.requires_grad() && tape.wants(rec.ts_in);
  std::vector<double> t_bar(K, 0.0);
  Matrix<S> y0_bar;
  std::vector<Matrix<S>> param_bar(rec.dyn.params.size());
  {
    ScratchTape<S> scratch;
    GradRedirect<S> redirect(rec.dyn.params);
    if (K == 1) {
      y0_bar = g[0];
    } else if (rec.gradient.gradient == Gradient::kAdjoint) {
      y0_bar = adjoint_vjp<S>(rec, *scratch, redirect, g, t_bar, want_t);
    } else {
      y0_bar = rec.stages ? direct_vjp<S>(rec, *scratch, g) : checkpoint_vjp<S>(rec, *scratch, g);
      if (want_t) {
        // dL/dt_k = ḡ_k·f(t_k, y_k); dL/dt_0 = −a(t_0)·f(t_0, y_0).
        Matrix<S> f_out(rows, cols);
        for (std::size_t k = 0; k < K; ++k) {
          rec.dyn.eval(*scratch, rec.ts[k], rec.ys[k], f_out);
          ++rec.backward.nfe;
          const Matrix<S>& a = k == 0 ? Matrix<S>(y0_bar - g[0]) : g[k];
          t_bar[k] = (k == 0 ? -1.0 : 1.0) * static_cast<double>((a.array() * f_out.array()).sum());
        }
      }
    }
    for (std::size_t i = 0; i < rec.dyn.params.size(); ++i) param_bar[i] = redirect.grad(i);
  }
  if (rec.stages) rec.backward.stored_bytes = rec.stages->bytes();
  if (rec.checkpoints) rec.backward.stored_bytes = rec.checkpoints->bytes();
  if (rec.y0_in.defined() && tape.wants(rec.y0_in)) tape.accumulate(rec.y0_in, tape.constant(y0_bar, rec.y0_in.shape()));
  if (want_t) {
    Matrix<S> tb(rec.ts_in.rows(), rec.ts_in.cols());
    for (std::size_t k = 0; k < K; ++k) tb.data()[k] = static_cast<S>(t_bar[k]);
    tape.accumulate(rec.ts_in, tape.constant(tb));
  }
  for (std::size_t i = 0; i < rec.param_in.size(); ++i) {
    const ad::Tensor<S>& leaf = rec.param_in[i];
    if (!leaf.defined()) continue;
    if (Matrix<S>* target = tape.parameter_grad(leaf)) {
      *target += param_bar[i];
    } else if (tape.wants(leaf)) {
      tape.accumulate(leaf, tape.constant(param_bar[i]));
    }
  }
}

template <Scalar S>
std::vector<Time> times_of(const ad::Tensor<S>& ts) {
  if (!ts.defined()) throw InvalidArgument("odeint: ts is an undefined tensor");
  if (ts.rows() != 1 && ts.cols() != 1)
    throw ShapeError(fmt::format("odeint: ts is {}; it must be a K x 1 or 1 x K tensor of times", ts.shape_string()));
  std::vector<Time> out(static_cast<std::size_t>(ts.size()));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<Time>(ts.data()[i]);
  return out;
}

template <Scalar S>
Trajectory<S> run(TensorRhs<S> f, std::span<ad::Parameter<S>* const> params, const ad::Tensor<S>& y0,
                  std::vector<Time> ts, const ad::Tensor<S>& ts_in, const Options& options,
                  const GradientOptions& gradient) {
  if (!y0.defined()) throw InvalidArgument("odeint: y0 is an undefined tensor");
  if (!f) throw InvalidArgument("odeint: the dynamics are empty");
  ad::Tape<S>& tape = y0.tape();
  auto rec = std::make_shared<OdeintRecord<S>>();
  rec->dyn.f = std::move(f);
  rec->dyn.params.assign(params.begin(), params.end());
  rec->dyn.rows = y0.rows();
  rec->dyn.cols = y0.cols();
  rec->dyn.shape = y0.shape();
  rec->options = options;
  rec->gradient = gradient;
  rec->ts = std::move(ts);
  rec->y0 = y0.value();
  if (gradient.checkpoint_every < 0)
    throw InvalidArgument(fmt::format("odeint: checkpoint_every = {} must be non-negative", gradient.checkpoint_every));
  if (gradient.checkpoints < 1)
    throw InvalidArgument(fmt::format("odeint: checkpoints = {} must be at least 1", gradient.checkpoints));

  // Leaves for the parameters on the caller's tape, so the op's VJP can reach them.
  bool needs_grad = tape.recording() && (y0.requires_grad() || (ts_in.defined() && ts_in.requires_grad()));
  if (tape.recording()) {
    for (ad::Parameter<S>* p : rec->dyn.params) {
      if (p == nullptr) throw InvalidArgument("odeint: a parameter pointer is null");
      rec->param_in.push_back(tape.param(*p));
      needs_grad = needs_grad || rec->param_in.back().requires_grad();
    }
  }

  const Direction dir{rec->ts.size() > 1 && rec->ts[1] < rec->ts[0]};
  ScratchTape<S> scratch;
  auto rhs = [&](Time t, const Matrix<S>& y, Matrix<S>& dy) { rec->dyn.eval(*scratch, t, y, dy); };
  Solution<S> sol;
  const bool discrete = needs_grad && gradient.gradient != Gradient::kAdjoint && rec->ts.size() > 1;
  if (discrete) {
    const MethodInfo& method = find_method(options.method);
    if (method.kind != MethodKind::kExplicitRk) {
      throw InvalidArgument(fmt::format("odeint: gradient 'direct'/'checkpoint' needs an explicit Runge-Kutta method, "
                                        "not '{}'; use Gradient::kAdjoint",
                                        options.method));
    }
    rec->tableau = method.tableau;
    if (gradient.gradient == Gradient::kDirect) {
      rec->stages = std::make_unique<StageRecord<S>>(*method.tableau, y0.size());
      // Each evaluation keeps its graph, so that the sweep does not evaluate f again.
      rec->graphs = std::make_unique<GraphLog<S>>(dir.reversed);
      rec->stages->set_graphs(rec->graphs.get());
      auto record = [&](Time t, const Matrix<S>& y, Matrix<S>& dy) {
        GraphLog<S>& log = *rec->graphs;
        log.evals.push_back(rec->dyn.record(*log.tape, t, y, dy));
        log.written.push_back(dy.data());
      };
      sol = solve_recorded<S>(Rhs<S>(record), rec->y0, rec->ts, options, *rec->stages);
      const GraphLog<S>& log = *rec->graphs;
      rec->stages->graphs_done((*log.tape).bytes_in_use() + log.evals.capacity() * sizeof(log.evals[0]) +
                               log.written.capacity() * sizeof(log.written[0]));
    } else {
      // The loop solve_recorded runs (its dispatch) and the options it runs with.
      const bool adaptive = method.adaptive && options.step_size <= 0.0 && options.grid_points.empty();
      const std::int64_t every = gradient.checkpoint_every > 0 ? gradient.checkpoint_every : 1;
      const std::int64_t budget = gradient.checkpoint_every > 0 ? 0 : gradient.checkpoints;
      rec->checkpoints = std::make_unique<CheckpointRecord<S>>(
          *method.tableau, y0.rows(), y0.cols(), dir.reversed ? reversed_options(options) : options, adaptive,
          every, budget);
      sol = solve_recorded<S>(Rhs<S>(rhs), rec->y0, rec->ts, options, *rec->checkpoints);
      rec->checkpoints->finish();
    }
  } else {
    sol = solve<S>(Rhs<S>(rhs), rec->y0, rec->ts, options);
  }
  rec->stats = sol.stats;
  const Eigen::Index cols = y0.cols();
  ad::Tensor<S> ys = tape.make(y0.rows(), cols * static_cast<Eigen::Index>(sol.ys.size()), y0.shape());
  for (std::size_t k = 0; k < sol.ys.size(); ++k)
    tape.mutable_value(ys).middleCols(static_cast<Eigen::Index>(k) * cols, cols) = sol.ys[k];
  rec->ys = std::move(sol.ys);
  if (needs_grad) {
    rec->y0_in = y0;
    rec->ts_in = ts_in;
    ys = tape.record_custom(ys, odeint_vjp<S>, "odeint", {y0, ts_in, ad::Tensor<S>()}, rec);
  } else {
    rec->param_in.clear();
  }
  const std::size_t count = rec->ts.size();
  return Trajectory<S>(ys, count, cols, std::move(rec));
}

}  // namespace
}  // namespace detail

template <Scalar S>
ad::Tensor<S> Trajectory<S>::operator[](std::size_t k) const {
  if (k >= count_) throw InvalidArgument(fmt::format("Trajectory: output {} of {}", k, count_));
  return ad::slice_cols(ys, static_cast<Eigen::Index>(k) * batch_, batch_);
}

template <Scalar S>
const Stats& Trajectory<S>::stats() const {
  return record_->stats;
}

template <Scalar S>
const BackwardStats& Trajectory<S>::backward_stats() const {
  return record_->backward;
}

template <Scalar S>
Trajectory<S> odeint(TensorRhs<S> f, std::span<ad::Parameter<S>* const> params, const ad::Tensor<S>& y0,
                     const ad::Tensor<S>& ts, const Options& options, const GradientOptions& gradient) {
  return detail::run<S>(std::move(f), params, y0, detail::times_of(ts), ts, options, gradient);
}

template <Scalar S>
Trajectory<S> odeint(TensorRhs<S> f, std::span<ad::Parameter<S>* const> params, const ad::Tensor<S>& y0,
                     std::span<const Time> ts, const Options& options, const GradientOptions& gradient) {
  return detail::run<S>(std::move(f), params, y0, std::vector<Time>(ts.begin(), ts.end()), ad::Tensor<S>(), options,
                        gradient);
}

template <Scalar S>
Trajectory<S> odeint(nn::Module<S>& func, const ad::Tensor<S>& y0, const ad::Tensor<S>& ts, const Options& options,
                     const GradientOptions& gradient) {
  const std::vector<ad::Parameter<S>*> params = func.parameters();
  return odeint<S>([&func](const ad::Tensor<S>& t, const ad::Tensor<S>& y) { return func.forward(t, y); }, params, y0,
                   ts, options, gradient);
}

template <Scalar S>
Trajectory<S> odeint(nn::Module<S>& func, const ad::Tensor<S>& y0, std::span<const Time> ts, const Options& options,
                     const GradientOptions& gradient) {
  const std::vector<ad::Parameter<S>*> params = func.parameters();
  return odeint<S>([&func](const ad::Tensor<S>& t, const ad::Tensor<S>& y) { return func.forward(t, y); }, params, y0,
                   ts, options, gradient);
}

#define ODEFLOW_INSTANTIATE(S)                                                                                        \
  template class Trajectory<S>;                                                                                       \
  template Trajectory<S> odeint<S>(TensorRhs<S>, std::span<ad::Parameter<S>* const>, const ad::Tensor<S>&,            \
                                   const ad::Tensor<S>&, const Options&, const GradientOptions&);                     \
  template Trajectory<S> odeint<S>(TensorRhs<S>, std::span<ad::Parameter<S>* const>, const ad::Tensor<S>&,            \
                                   std::span<const Time>, const Options&, const GradientOptions&);                    \
  template Trajectory<S> odeint<S>(nn::Module<S>&, const ad::Tensor<S>&, const ad::Tensor<S>&, const Options&,        \
                                   const GradientOptions&);                                                           \
  template Trajectory<S> odeint<S>(nn::Module<S>&, const ad::Tensor<S>&, std::span<const Time>, const Options&,       \
                                   const GradientOptions&);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow
