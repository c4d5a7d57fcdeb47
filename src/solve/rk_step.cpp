#include <odeflow/core/error.hpp>
#include <odeflow/solve/rk_step.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cmath>
#include <limits>

namespace odeflow {
namespace {

constexpr int kMaxTerms = 16;

// out[e] = base[e] + Σ_j c[j]·p[j][e] (base omitted when null). M is known at
// compile time so the inner sum unrolls and the loop over e vectorizes.
template <class S, int M>
void combine(S* __restrict out, const S* base, const S* const* p, const S* c, Eigen::Index n) {
  for (Eigen::Index e = 0; e < n; ++e) {
    S acc = M > 0 ? c[0] * p[0][e] : S(0);
    for (int j = 1; j < M; ++j) acc += c[j] * p[j][e];
    out[e] = base != nullptr ? base[e] + acc : acc;
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

// The largest double below t (t finite): std::nextafter(t, −inf) without its
// generality, which costs as much as a whole small stage.
double next_below(double t) {
  if (t == 0.0) return -std::numeric_limits<double>::denorm_min();
  auto bits = std::bit_cast<std::uint64_t>(t);
  bits += t > 0.0 ? std::uint64_t(-1) : std::uint64_t(1);
  return std::bit_cast<double>(bits);
}

// Σ_i (err_i / tol_i)² or max_i |err_i / tol_i|, tol_i = atol + rtol·max(|y0_i|, |y1_i|).
template <class S, bool kMax, bool kScalarTol>
double scaled_error(const S* err, const S* y0, const S* y1, Eigen::Index rows, Eigen::Index cols,
                    const Options& options) {
  const double rtol0 = options.rtol[0], atol0 = options.atol[0];
  double acc = 0.0;
  for (Eigen::Index col = 0; col < cols; ++col) {
    for (Eigen::Index row = 0; row < rows; ++row) {
      const Eigen::Index i = col * rows + row;
      const double scale = static_cast<double>(std::max(std::abs(y0[i]), std::abs(y1[i])));
      const double tol = kScalarTol ? atol0 + rtol0 * scale : options.atol[row] + options.rtol[row] * scale;
      const double r = static_cast<double>(err[i]) / tol;
      if constexpr (kMax) {
        if (!(std::abs(r) <= acc)) acc = std::abs(r);  // keeps NaN
      } else {
        acc += r * r;
      }
    }
  }
  return acc;
}

template <class S>
double error_norm(const Matrix<S>& err, const Matrix<S>& y0, const Matrix<S>& y1, const Options& options) {
  const Eigen::Index rows = y0.rows(), cols = y0.cols();
  const bool scalar = options.rtol.is_scalar() && options.atol.is_scalar();
  if (options.norm == Norm::kMax)
    return scalar ? scaled_error<S, true, true>(err.data(), y0.data(), y1.data(), rows, cols, options)
                  : scaled_error<S, true, false>(err.data(), y0.data(), y1.data(), rows, cols, options);
  const double sum = scalar ? scaled_error<S, false, true>(err.data(), y0.data(), y1.data(), rows, cols, options)
                            : scaled_error<S, false, false>(err.data(), y0.data(), y1.data(), rows, cols, options);
  return std::sqrt(sum / static_cast<double>(rows * cols));
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

Time stage_time(Time t0, Time dt, Time t1, double c) {
  if (c == 1.0) return t1 > t0 ? next_below(t1) : std::nextafter(t1, t0);
  return t0 + c * dt;
}

template <Scalar S>
void linear_combination(Matrix<S>& out, const Matrix<S>& base, const double* coef,
                        const Matrix<S>* terms, int count, S scale) {
  const S* p[kMaxTerms];
  S c[kMaxTerms];
  int m = 0;
  for (int j = 0; j < count; ++j) {
    if (coef[j] == 0.0) continue;
    if (m == kMaxTerms) throw InvalidArgument("linear_combination: more than 16 nonzero terms");
    p[m] = terms[j].data();
    c[m] = static_cast<S>(coef[j]) * scale;
    ++m;
  }
  kCombine<S>[static_cast<std::size_t>(m)](out.data(), base.data(), p, c, base.size());
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
  const double norm = error_norm<S>(work.error, y0, work.y1, options);
  if (work.b_error3.count == 0 || norm == 0.0 || !std::isfinite(norm)) return norm;
  // DOP853: for small h this is ≈ 10·n²/n₃ = O(h^8) (n alone is O(h^6)), which
  // matches the controller's exponent 1/order of an 8th-order method.
  combine_row<S>(work.error3.data(), nullptr, work.b_error3, work.k, h, n);
  const double norm3 = error_norm<S>(work.error3, y0, work.y1, options);
  return norm * norm / std::sqrt(norm * norm + 0.01 * norm3 * norm3);
}

template <Scalar S>
double scaled_norm(const Matrix<S>& x, const Matrix<S>& y, const Options& options) {
  const Eigen::Index rows = y.rows(), cols = y.cols();
  double sum = 0.0, max = 0.0;
  for (Eigen::Index col = 0; col < cols; ++col) {
    for (Eigen::Index row = 0; row < rows; ++row) {
      const double scale = options.atol[row] + std::abs(static_cast<double>(y(row, col))) * options.rtol[row];
      const double r = static_cast<double>(x(row, col)) / scale;
      sum += r * r;
      max = std::max(max, std::abs(r));
    }
  }
  if (options.norm == Norm::kMax) return max;
  return std::sqrt(sum / static_cast<double>(rows * cols));
}

template <Scalar S>
double initial_step(Rhs<S> f, Time t0, const Matrix<S>& y0, const Matrix<S>& f0, int order,
                    const Options& options, Matrix<S>& scratch, Matrix<S>& f1) {
  const double d0 = scaled_norm<S>(y0, y0, options);
  const double d1 = scaled_norm<S>(f0, y0, options);
  const double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  scratch = y0 + static_cast<S>(h0) * f0;
  f(t0 + h0, scratch, f1);
  scratch = f1 - f0;
  const double d2 = scaled_norm<S>(scratch, y0, options) / h0;
  double h1;
  if (d1 <= 1e-15 && d2 <= 1e-15)
    h1 = std::max(1e-6, h0 * 1e-3);
  else
    h1 = std::pow(0.01 / std::max(d1, d2), 1.0 / order);
  const double h = std::min(100.0 * h0, h1);
  if (!std::isfinite(h) || h <= 0.0)
    throw NonFiniteError("initial step selection failed: f is not finite near t0", t0, h);
  return h;
}

#define ODEFLOW_INSTANTIATE(S)                                                                   \
  template struct RkWork<S>;                                                                     \
  template void linear_combination<S>(Matrix<S>&, const Matrix<S>&, const double*,               \
                                      const Matrix<S>*, int, S);                                 \
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
