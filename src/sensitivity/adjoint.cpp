// Gradient::kAdjoint's backward pass: the adjoint ODE solved backwards
// over each output interval, on the augmented state [y; a; a_θ].
#include "dynamics.hpp"
#include "records.hpp"
#include "vjps.hpp"

#include <odeflow/core/error.hpp>
#include <odeflow/solve/odeint.hpp>
#include <odeflow/solve/registry.hpp>

#include <fmt/format.h>

#include <cmath>
#include <span>
#include <vector>

namespace odeflow::detail {
namespace {

// The augmented state of the adjoint: [y; a; a_θ] as one column.
template <Scalar S>
Options adjoint_options(const OdeintRecord<S>& rec, Eigen::Index n, Eigen::Index p) {
  const AdjointOptions& adj = rec.gradient.adjoint;
  Options o = rec.options;
  o.on_step = adj.on_step;
  if (!adj.method.empty()) o.method = adj.method;
  if (adj.rtol) o.rtol = *adj.rtol;
  if (adj.atol) o.atol = *adj.atol;
  o.controlled_rows = adj.seminorm ? 2 * n : 0;
  // Per-row tolerances of the state, laid out over [y; a; a_θ].
  const Eigen::Index rows = rec.y0.rows();
  for (Tolerance* tol : {&o.rtol, &o.atol}) {
    if (tol->is_scalar()) continue;
    Eigen::VectorXd v(2 * n + p);
    for (Eigen::Index i = 0; i < n; ++i) v[i] = v[n + i] = (*tol)[i % rows];
    if (p > 0) v.tail(p).setConstant(tol->values().minCoeff());
    *tol = Tolerance(v);
  }
  o.grid_points.clear();
  o.first_step = 0.0;
  return o;
}

}  // namespace

template <Scalar S>
Matrix<S> adjoint_vjp(OdeintRecord<S>& rec, ad::Tape<S>& tape, GradRedirect<S>& redirect,
                      std::span<const Matrix<S>> g, std::vector<double>& t_bar, bool want_t) {
  const Eigen::Index rows = rec.y0.rows(), cols = rec.y0.cols(), n = rows * cols;
  const Eigen::Index p = rec.dyn.parameter_size();
  const std::size_t K = rec.ts.size();
  Options o = adjoint_options(rec, n, p);
  const MethodInfo& method = find_method(o.method);
  if (method.kind != MethodKind::kExplicitRk)
    throw InvalidArgument(fmt::format("odeint: the adjoint method '{}' is not an explicit Runge-Kutta method", o.method));
  using Map = Eigen::Map<Matrix<S>>;
  using CMap = Eigen::Map<const Matrix<S>>;
  // dz = [f, −(∂f/∂y)ᵀ a, −(∂f/∂θ)ᵀ a] written in place.
  auto aug = [&](Time t, const Matrix<S>& z, Matrix<S>& dz) {
    redirect.zero();
    Map dz_a(dz.data() + n, rows, cols);
    rec.dyn.vjp(tape, t, CMap(z.data(), rows, cols), CMap(z.data() + n, rows, cols), dz_a, dz.data());
    dz_a = -dz_a;
    Eigen::Index at = 2 * n;
    for (std::size_t i = 0; i < rec.dyn.params.size(); ++i) {
      const Matrix<S>& gp = redirect.grad(i);
      Map(dz.data() + at, gp.rows(), gp.cols()) = -gp;
      at += gp.size();
    }
  };
  Matrix<S> z = Matrix<S>::Zero(2 * n + p, 1);
  Map(z.data(), rows, cols) = rec.ys[K - 1];
  Map(z.data() + n, rows, cols) = g[K - 1];
  Matrix<S> f_out(rows, cols);
  auto time_grad = [&](std::size_t k, const Matrix<S>& a, double sign) {
    rec.dyn.eval(tape, rec.ts[k], rec.ys[k], f_out);
    ++rec.backward.nfe;
    t_bar[k] += sign * static_cast<double>((a.array() * f_out.array()).sum());
  };
  if (want_t) time_grad(K - 1, g[K - 1], 1.0);
  double carried = std::abs(rec.stats.last_step > 0 ? rec.stats.last_step : rec.stats.first_step);
  for (std::size_t k = K - 1; k-- > 0;) {
    o.first_step = method.adaptive && o.step_size == 0.0 ? carried : 0.0;
    const Time span_ts[2] = {rec.ts[k + 1], rec.ts[k]};
    Solution<S> seg = solve<S>(Rhs<S>(aug), z, std::span<const Time>(span_ts, 2), o);
    rec.backward.nfe += seg.stats.nfe;
    rec.backward.accepted += seg.stats.accepted;
    rec.backward.rejected += seg.stats.rejected;
    if (seg.stats.next_step > 0) carried = seg.stats.next_step;
    z.swap(seg.ys.back());
    Map(z.data(), rows, cols) = rec.ys[k];  // the forward solution is known: no drift
    if (k == 0) {
      if (want_t) time_grad(0, Matrix<S>(CMap(z.data() + n, rows, cols)), -1.0);
    } else if (want_t) {
      time_grad(k, g[k], 1.0);
    }
    Map(z.data() + n, rows, cols) += g[k];
  }
  // Parameter integrals into the redirected grads.
  redirect.zero();
  Eigen::Index at = 2 * n;
  for (std::size_t i = 0; i < rec.dyn.params.size(); ++i) {
    ad::Parameter<S>& prm = *rec.dyn.params[i];
    prm.grad = CMap(z.data() + at, prm.value.rows(), prm.value.cols());
    at += prm.value.size();
  }
  return Matrix<S>(CMap(z.data() + n, rows, cols));
}

#define ODEFLOW_INSTANTIATE(S)                                                                              \
  template Matrix<S> adjoint_vjp<S>(OdeintRecord<S>&, ad::Tape<S>&, GradRedirect<S>&, std::span<const Matrix<S>>, \
                                    std::vector<double>&, bool);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::detail
