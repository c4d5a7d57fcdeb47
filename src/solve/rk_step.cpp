#include <odeflow/core/error.hpp>
#include <odeflow/solve/detail/error_norm.hpp>
#include <odeflow/solve/detail/initial_step.hpp>
#include <odeflow/solve/detail/multiply_add.hpp>
#include <odeflow/solve/rk_step.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace odeflow {
namespace {

constexpr int kMaxTerms = 16;

// out[e] = base[e] + Σ_j c[j]·p[j][e] (base omitted when null). M is known at
// compile time so the inner sum unrolls and the loop over e vectorizes.
// The rounding is static_combine's (static_rk_step.hpp): keep them in step.
template <class S, int M>
void combine(S* __restrict out, const S* base, const S* const* p, const S* c, Eigen::Index n) {
  for (Eigen::Index e = 0; e < n; ++e) {
    if constexpr (M == 0) {
      out[e] = base != nullptr ? base[e] : S(0);
    } else if constexpr (M == 1) {
      out[e] = base != nullptr ? detail::multiply_add(c[0], p[0][e], base[e]) : c[0] * p[0][e];
    } else {
      S acc = c[0] * p[0][e];
      for (int j = 1; j < M; ++j) acc = detail::multiply_add(c[j], p[j][e], acc);
      out[e] = base != nullptr ? base[e] + acc : acc;
    }
  }
}

template <class S>
using CombineFn = void (*)(S*, const S*, const S* const*, const S*, Eigen::Index);

template <class S, int... Ms>
constexpr std::array<CombineFn<S>, sizeof...(Ms)> make_combine_table(std::integer_sequence<int, Ms...>) {
  return {&combine<S, Ms>...};
}

// kCombine<S>[m] sums m terms.
template <class S>
constexpr auto kCombine = make_combine_table<S>(std::make_integer_sequence<int, kMaxTerms + 1>{});

// out = base + Σ (row.value[j]·scale)·k[row.index[j]] (base may be null: out =
// the sum). The coefficient is scaled before multiplying, as torchdiffeq does,
// so that step sequences match it to the bit.
template <class S>
void combine_row(S* out, const S* base, const StageRow& row, const std::vector<Matrix<S>>& k, S scale,
                 Eigen::Index n) {
  const S* p[kMaxTerms];
  S c[kMaxTerms];
  for (int j = 0; j < row.count; ++j) {
    p[j] = k[static_cast<std::size_t>(row.index[j])].data();
    c[j] = static_cast<S>(row.value[j]) * scale;
  }
  kCombine<S>[static_cast<std::size_t>(row.count)](out, base, p, c, n);
}

}  // namespace

StageRow::StageRow(std::span<const double> coefficients) {
  for (std::size_t j = 0; j < coefficients.size(); ++j) {
    if (coefficients[j] == 0.0) continue;
    if (count == kMaxTerms) throw InvalidArgument("a tableau row has more than 16 nonzero coefficients");
    index[count] = static_cast<int>(j);
    value[count] = coefficients[j];
    ++count;
  }
}

template <Scalar S>
void RkWork<S>::resize(const ButcherTableau& tableau, Eigen::Index rows, Eigen::Index cols) {
  const int s = tableau.stages();
  k.resize(static_cast<std::size_t>(s + tableau.extra_stages()));
  for (auto& ki : k) ki.resize(rows, cols);
  y1.resize(rows, cols);
  stage.resize(rows, cols);
  error.resize(rows, cols);
  if (!tableau.b_error3.empty()) error3.resize(rows, cols);
  fsal = tableau.fsal();
  a.assign(static_cast<std::size_t>(s), StageRow{});
  for (int i = 1; i < s; ++i)
    a[static_cast<std::size_t>(i)] =
        StageRow(tableau.a.subspan(static_cast<std::size_t>(i * s), static_cast<std::size_t>(i)));
  b = StageRow(tableau.b);
  b_error = StageRow(tableau.b_error);
  b_error3 = StageRow(tableau.b_error3);
}

template <Scalar S>
void linear_combination(S* out, const S* base, const double* coef, const S* const* terms, int count, S scale,
                        Eigen::Index n) {
  const S* p[kMaxTerms];
  S c[kMaxTerms];
  int m = 0;
  for (int j = 0; j < count; ++j) {
    if (coef[j] == 0.0) continue;
    if (m == kMaxTerms) throw InvalidArgument("linear_combination: more than 16 nonzero terms");
    p[m] = terms[j];
    c[m] = static_cast<S>(coef[j]) * scale;
    ++m;
  }
  kCombine<S>[static_cast<std::size_t>(m)](out, base, p, c, n);
}

template <Scalar S>
void linear_combination(Matrix<S>& out, const Matrix<S>& base, const double* coef,
                        const Matrix<S>* terms, int count, S scale) {
  const S* p[kMaxTerms];
  double c[kMaxTerms];
  int m = 0;
  for (int j = 0; j < count; ++j) {
    if (coef[j] == 0.0) continue;
    if (m == kMaxTerms) throw InvalidArgument("linear_combination: more than 16 nonzero terms");
    p[m] = terms[j].data();
    c[m] = coef[j];
    ++m;
  }
  linear_combination<S>(out.data(), base.data(), c, p, m, scale, base.size());
}

template <Scalar S>
int rk_step(const ButcherTableau& tableau, Rhs<S> f, Time t0, Time dt, Time t1, const Matrix<S>& y0,
            RkWork<S>& work) {
  const int s = tableau.stages();
  const S h = static_cast<S>(dt);
  const Eigen::Index n = y0.size();
  for (int i = 1; i < s; ++i) {
    Matrix<S>& input = (work.fsal && i == s - 1) ? work.y1 : work.stage;
    combine_row<S>(input.data(), y0.data(), work.a[static_cast<std::size_t>(i)], work.k, h, n);
    f(stage_time(t0, dt, t1, tableau.c[i]), input, work.k[static_cast<std::size_t>(i)]);
  }
  if (!work.fsal) combine_row<S>(work.y1.data(), y0.data(), work.b, work.k, h, n);
  return s - 1;
}

template <Scalar S>
double error_ratio(Time dt, const Matrix<S>& y0, RkWork<S>& work, const Options& options) {
  const Eigen::Index n = y0.size();
  const S h = static_cast<S>(dt);
  combine_row<S>(work.error.data(), nullptr, work.b_error, work.k, h, n);
  const double norm =
      detail::error_norm<S>(work.error.data(), y0.data(), work.y1.data(), y0.rows(), y0.cols(), options);
  if (work.b_error3.count == 0 || norm == 0.0 || !std::isfinite(norm)) return norm;
  combine_row<S>(work.error3.data(), nullptr, work.b_error3, work.k, h, n);
  const double norm3 =
      detail::error_norm<S>(work.error3.data(), y0.data(), work.y1.data(), y0.rows(), y0.cols(), options);
  return detail::combine_error_norms(norm, norm3);
}

template <Scalar S>
double scaled_norm(const Matrix<S>& x, const Matrix<S>& y, const Options& options) {
  return detail::scaled_norm<S>(x.data(), y.data(), y.rows(), y.cols(), options);
}

template <Scalar S>
double initial_step(Rhs<S> f, Time t0, const Matrix<S>& y0, const Matrix<S>& f0, int order,
                    const Options& options, Matrix<S>& scratch, Matrix<S>& f1) {
  scratch.resize(y0.rows(), y0.cols());
  f1.resize(y0.rows(), y0.cols());
  return detail::hairer_initial_step(f, t0, y0, f0, order, options, scratch, f1);
}

#define ODEFLOW_INSTANTIATE(S)                                                                   \
  template struct RkWork<S>;                                                                     \
  template void linear_combination<S>(Matrix<S>&, const Matrix<S>&, const double*,               \
                                      const Matrix<S>*, int, S);                                 \
  template void linear_combination<S>(S*, const S*, const double*, const S* const*, int, S,      \
                                      Eigen::Index);                                             \
  template int rk_step<S>(const ButcherTableau&, Rhs<S>, Time, Time, Time, const Matrix<S>&,     \
                          RkWork<S>&);                                                           \
  template double error_ratio<S>(Time, const Matrix<S>&, RkWork<S>&, const Options&);            \
  template double scaled_norm<S>(const Matrix<S>&, const Matrix<S>&, const Options&);            \
  template double initial_step<S>(Rhs<S>, Time, const Matrix<S>&, const Matrix<S>&, int,         \
                                  const Options&, Matrix<S>&, Matrix<S>&);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow
