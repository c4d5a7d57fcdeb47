// Differentiable odeint_event: the search on values (solve/event.cpp), the
// differentiable odeint to the event time, and the two rerouting ops of the
// implicit function theorem (see sensitivity/event.hpp).
#include <odeflow/sensitivity/event.hpp>

#include "dynamics.hpp"

#include <odeflow/ad/ops.hpp>
#include <odeflow/core/error.hpp>

#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <vector>

namespace odeflow {
namespace detail {
namespace {

template <Scalar S>
ad::Tensor<S> call_event(const TensorEventFn<S>& e, const ad::Tensor<S>& t, const ad::Tensor<S>& y, Time at) {
  const ad::Tensor<S> out = e(t, y);
  if (!out.defined())
    throw InvalidArgument(fmt::format("odeint_event: the event function returned no tensor at t = {}", at));
  if (out.rows() != 1 || out.cols() != 1)
    throw ShapeError(fmt::format("odeint_event: the event function returned a {} tensor at t = {}; it must be 1x1",
                                 out.shape_string(), at));
  return out;
}

// Shared by the time op and the state op.
template <Scalar S>
struct EventRecord {
  Dynamics<S> dyn;
  TensorEventFn<S> e;
  Time t = 0;     // the event time, as the solve used it
  Matrix<S> y;    // y(t)
  Matrix<S> f;    // f(t, y), evaluated by the first VJP that needs it
  ad::Tensor<S> y_star;  // the solve's output at t: what both ops reroute into
  ad::Tensor<S> t_out;   // the event-time tensor (input of the state op)
  std::vector<ad::Tensor<S>> param_in;  // parameter leaves on the caller's tape

  const Matrix<S>& f_star(ad::Tape<S>& scratch) {
    if (f.size() == 0) {
      f.resize(y.rows(), y.cols());
      dyn.eval(scratch, t, y, f);
    }
    return f;
  }
};

template <Scalar S>
EventRecord<S>& record_of(ad::Tape<S>& tape, const ad::Node<S>& node) {
  if (tape.recording())
    throw InvalidArgument("odeint_event: its gradient cannot be differentiated again (create_graph through an event)");
  return *static_cast<EventRecord<S>*>(tape.context(node));
}

// State op: y* = y(t) with t the event time. ȳ* goes to y(t) and ȳ*·f(t, y)
// to the event time (the state moves with it).
template <Scalar S>
void event_state_vjp(ad::Tape<S>& tape, const ad::Node<S>& node, const ad::Tensor<S>& bar) {
  EventRecord<S>& rec = record_of(tape, node);
  tape.accumulate(rec.y_star, bar);
  if (!tape.wants(rec.t_out)) return;
  ScratchTape<S> scratch;
  const Matrix<S>& f = rec.f_star(*scratch);
  tape.accumulate(rec.t_out, tape.scalar((bar.value().array() * f.array()).sum()));
}

// Time op: t* with e(t*, y(t*)) = 0. With rate = ∂e/∂t + ∂e/∂y·f, t̄* goes to
// y(t) as −t̄*·∂e/∂y/rate and to the parameters e reads as −t̄*·∂e/∂θ/rate.
template <Scalar S>
void event_time_vjp(ad::Tape<S>& tape, const ad::Node<S>& node, const ad::Tensor<S>& bar) {
  EventRecord<S>& rec = record_of(tape, node);
  const std::size_t n_params = rec.dyn.params.size();
  Matrix<S> e_y = Matrix<S>::Zero(rec.y.rows(), rec.y.cols());
  double e_t = 0.0, rate = 0.0;
  std::vector<Matrix<S>> e_theta(n_params);
  {
    ScratchTape<S> scratch;
    ad::Tape<S>& st = *scratch;
    const Matrix<S>& f = rec.f_star(st);
    GradRedirect<S> redirect(rec.dyn.params);
    {
      ad::GradScope<S> grad(st);
      const ad::Tensor<S> t_in = st.variable(Matrix<S>::Constant(1, 1, static_cast<S>(rec.t)));
      const ad::Tensor<S> y_in = st.variable(rec.y, rec.dyn.shape);
      const ad::Tensor<S> e = call_event(rec.e, t_in, y_in, rec.t);
      st.set_recording(false);
      st.backward(e);  // ∂e/∂θ into the redirected parameter grads
      if (const ad::Tensor<S> g = st.gathered_grad(t_in); g.defined()) e_t = static_cast<double>(g.item());
      if (const ad::Tensor<S> g = st.gathered_grad(y_in); g.defined()) e_y = g.value();
    }
    rate = e_t + static_cast<double>((e_y.array() * f.array()).sum());
    for (std::size_t i = 0; i < n_params; ++i) e_theta[i] = redirect.grad(i);
  }
  if (rate == 0.0 || !std::isfinite(rate))
    throw NonFiniteError(fmt::format("odeint_event: the event function crosses zero at a rate de/dt + de/dy·f = {} "
                                     "at t = {}; the event time has no derivative there",
                                     rate, rec.t),
                         rec.t, 0.0);
  const S scale = static_cast<S>(-static_cast<double>(bar.item()) / rate);
  if (tape.wants(rec.y_star)) tape.accumulate(rec.y_star, tape.constant(scale * e_y, rec.y_star.shape()));
  for (std::size_t i = 0; i < n_params; ++i) {
    const ad::Tensor<S>& leaf = rec.param_in[i];
    if (Matrix<S>* target = tape.parameter_grad(leaf)) {
      *target += scale * e_theta[i];
    } else if (tape.wants(leaf)) {
      tape.accumulate(leaf, tape.constant(scale * e_theta[i]));
    }
  }
}

template <Scalar S>
EventResult<S> run_event(TensorRhs<S> f, std::span<ad::Parameter<S>* const> params, const ad::Tensor<S>& y0,
                         const ad::Tensor<S>& t0, TensorEventFn<S> event_fn, const Options& options,
                         const EventOptions& event, const GradientOptions& gradient) {
  if (!y0.defined()) throw InvalidArgument("odeint_event: y0 is an undefined tensor");
  if (!t0.defined() || t0.rows() != 1 || t0.cols() != 1)
    throw ShapeError(fmt::format("odeint_event: t0 must be a 1x1 tensor, not {}",
                                 t0.defined() ? t0.shape_string() : std::string("undefined")));
  if (!f) throw InvalidArgument("odeint_event: the dynamics are empty");
  if (!event_fn) throw InvalidArgument("odeint_event: the event function is empty");
  for (const ad::Parameter<S>* p : params)
    if (p == nullptr) throw InvalidArgument("odeint_event: a parameter pointer is null");
  ad::Tape<S>& tape = y0.tape();

  auto rec = std::make_shared<EventRecord<S>>();
  rec->dyn.f = f;
  rec->dyn.params.assign(params.begin(), params.end());
  rec->dyn.rows = y0.rows();
  rec->dyn.cols = y0.cols();
  rec->dyn.shape = y0.shape();
  rec->e = event_fn;

  EventResult<S> result;
  {
    ScratchTape<S> scratch;
    auto rhs = [&](Time t, const Matrix<S>& y, Matrix<S>& dy) { rec->dyn.eval(*scratch, t, y, dy); };
    auto e = [&](Time t, const Matrix<S>& y) {
      ad::Tape<S>& st = *scratch;
      const auto mark = st.mark();
      ad::NoGradScope<S> no_grad(st);
      const double value =
          static_cast<double>(call_event(event_fn, st.scalar(static_cast<S>(t)), st.constant(y, y0.shape()), t).item());
      st.rewind(mark);
      return value;
    };
    const Matrix<S> y0_value = y0.value();
    result.search = solve_event<S>(Rhs<S>(rhs), y0_value, static_cast<Time>(t0.item()), EventFunction<S>(e), options,
                                   event);
  }

  bool needs_grad = tape.recording() && (y0.requires_grad() || t0.requires_grad());
  for (const ad::Parameter<S>* p : params) needs_grad = needs_grad || (tape.recording() && p->requires_grad);
  const ad::Tensor<S> t_value = tape.scalar(static_cast<S>(result.search.t));
  if (!needs_grad) {
    result.t = t_value;
    result.y = tape.constant(result.search.y, y0.shape());
    return result;
  }

  // y(t) differentiable in y0, t0 and θ at the event time held fixed.
  const ad::Tensor<S> ts = ad::concat(t0, t_value);
  result.solve.emplace(odeint<S>(f, params, y0, ts, options, gradient));
  rec->y_star = (*result.solve)[1];
  rec->t = static_cast<Time>(t_value.item());
  rec->y = rec->y_star.value();
  for (ad::Parameter<S>* p : params) rec->param_in.push_back(tape.param(*p));

  result.t = tape.record_custom(t_value, event_time_vjp<S>, "odeint_event_time", {rec->y_star, {}, {}}, rec);
  rec->t_out = result.t;
  result.y = tape.record_custom(rec->y_star, event_state_vjp<S>, "odeint_event_state", {rec->y_star, result.t, {}},
                                rec);
  return result;
}

}  // namespace
}  // namespace detail

template <Scalar S>
EventResult<S> odeint_event(std::type_identity_t<TensorRhs<S>> f,
                            std::type_identity_t<std::span<ad::Parameter<S>* const>> params, const ad::Tensor<S>& y0,
                            const ad::Tensor<S>& t0, std::type_identity_t<TensorEventFn<S>> event_fn,
                            const Options& options, const EventOptions& event, const GradientOptions& gradient) {
  return detail::run_event<S>(std::move(f), params, y0, t0, std::move(event_fn), options, event, gradient);
}

template <Scalar S>
EventResult<S> odeint_event(nn::Module<S>& func, const ad::Tensor<S>& y0, const ad::Tensor<S>& t0,
                            std::type_identity_t<TensorEventFn<S>> event_fn, const Options& options,
                            const EventOptions& event, const GradientOptions& gradient) {
  const std::vector<ad::Parameter<S>*> params = func.parameters();
  return detail::run_event<S>([&func](const ad::Tensor<S>& t, const ad::Tensor<S>& y) { return func.forward(t, y); },
                              params, y0, t0, std::move(event_fn), options, event, gradient);
}

#define ODEFLOW_INSTANTIATE(S)                                                                                    \
  template EventResult<S> odeint_event<S>(TensorRhs<S>, std::span<ad::Parameter<S>* const>, const ad::Tensor<S>&, \
                                          const ad::Tensor<S>&, TensorEventFn<S>, const Options&,                 \
                                          const EventOptions&, const GradientOptions&);                           \
  template EventResult<S> odeint_event<S>(nn::Module<S>&, const ad::Tensor<S>&, const ad::Tensor<S>&,            \
                                          TensorEventFn<S>, const Options&, const EventOptions&,                  \
                                          const GradientOptions&);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow
