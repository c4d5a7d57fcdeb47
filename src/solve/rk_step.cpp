#include <odeflow/core/error.hpp>
#include <odeflow/solve/rk_step.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace odeflow {
namespace {

constexpr int kMaxTerms = 16;

// out[e] = base[e] + Σ_j c[j]·p[j][e]; M known at compile time so the inner
// sum unrolls and the loop over e vectorizes.
template <class S, int M>
void combine(S* __restrict out, const S* base, const S* const* p, const S* c, Eigen::Index n) {
  for (Eigen::Index e = 0; e < n; ++e) {
    S acc = c[0] * p[0][e];
    for (int j = 1; j < M; ++j) acc += c[j] * p[j][e];
    out[e] = base[e] + acc;
  }
}

template <class S, int... Ms>
void combine_dispatch(int m, S* out, const S* base, const S* const* p, const S* c, Eigen::Index n,
                      std::integer_sequence<int, Ms...>) {
  ((m == Ms + 1 ? (combine<S, Ms + 1>(out, base, p, c, n), true) : false) || ...);
}

// The nonzero terms dt·e_j·k_j of an error estimate, summed per element.
template <class S>
struct ErrorTerms {
  const S* p[kMaxTerms];
  S c[kMaxTerms];
  int m = 0;

  ErrorTerms(std::span<const double> e, Time dt, const std::vector<Matrix<S>>& k) {
    for (std::size_t j = 0; j < e.size(); ++j) {
      if (e[j] == 0.0) continue;
      p[m] = k[j].data();
      c[m] = static_cast<S>(dt) * static_cast<S>(e[j]);
      ++m;
    }
  }
  S at(Eigen::Index i) const {
    S err = 0;
    for (int j = 0; j < m; ++j) err += c[j] * p[j][i];
    return err;
  }
};

}  // namespace

template <Scalar S>
void RkWork<S>::resize(const ButcherTableau& tableau, Eigen::Index rows, Eigen::Index cols) {
  k.resize(static_cast<std::size_t>(tableau.stages() + tableau.extra_stages()));
  for (auto& ki : k) ki.resize(rows, cols);
  y1.resize(rows, cols);
  stage.resize(rows, cols);
}

Time stage_time(Time t0, Time dt, Time t1, double c) {
  if (c == 1.0) return std::nextafter(t1, t0);
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
    p[m] = terms[j].data();
    c[m] = static_cast<S>(coef[j]) * scale;
    ++m;
  }
  if (m == 0) {
    out = base;
    return;
  }
  combine_dispatch<S>(m, out.data(), base.data(), p, c, base.size(),
                      std::make_integer_sequence<int, kMaxTerms>{});
}

template <Scalar S>
int rk_step(const ButcherTableau& tableau, Rhs<S> f, Time t0, Time dt, Time t1, const Matrix<S>& y0,
            RkWork<S>& work) {
  const int s = tableau.stages();
  const bool fsal = tableau.fsal();
  const S h = static_cast<S>(dt);
  for (int i = 1; i < s; ++i) {
    Matrix<S>& input = (fsal && i == s - 1) ? work.y1 : work.stage;
    linear_combination<S>(input, y0, &tableau.a[static_cast<std::size_t>(i * s)], work.k.data(), i, h);
    f(stage_time(t0, dt, t1, tableau.c[i]), input, work.k[static_cast<std::size_t>(i)]);
  }
  if (!fsal) linear_combination<S>(work.y1, y0, tableau.b.data(), work.k.data(), s, h);
  return s - 1;
}

template <Scalar S>
double error_ratio(const ButcherTableau& tableau, Time dt, const Matrix<S>& y0, const Matrix<S>& y1,
                   const std::vector<Matrix<S>>& k, const Options& options) {
  const ErrorTerms<S> e(tableau.b_error, dt, k), e3(tableau.b_error3, dt, k);
  const bool combined = !tableau.b_error3.empty();
  const Eigen::Index rows = y0.rows(), cols = y0.cols();
  const bool scalar_tol = options.rtol.is_scalar() && options.atol.is_scalar();
  const double rtol0 = options.rtol[0], atol0 = options.atol[0];
  double sum = 0.0, max = 0.0, sum3 = 0.0, max3 = 0.0;
  for (Eigen::Index col = 0; col < cols; ++col) {
    for (Eigen::Index row = 0; row < rows; ++row) {
      const Eigen::Index i = col * rows + row;
      const double scale = static_cast<double>(std::max(std::abs(y0.data()[i]), std::abs(y1.data()[i])));
      const double tol = scalar_tol ? atol0 + rtol0 * scale : options.atol[row] + options.rtol[row] * scale;
      const double r = static_cast<double>(e.at(i)) / tol;
      sum += r * r;
      max = std::max(max, std::abs(r));
      if (std::isnan(r)) return std::numeric_limits<double>::quiet_NaN();
      if (combined) {
        const double r3 = static_cast<double>(e3.at(i)) / tol;
        sum3 += r3 * r3;
        max3 = std::max(max3, std::abs(r3));
      }
    }
  }
  const double count = static_cast<double>(rows * cols);
  const double n = options.norm == Norm::kMax ? max : std::sqrt(sum / count);
  if (!combined || n == 0.0 || !std::isfinite(n)) return n;
  // DOP853: for small h this is ≈ 10·n²/n₃ = O(h^8) (n alone is O(h^6)), which
  // matches the controller's exponent 1/order of an 8th-order method.
  const double n3 = options.norm == Norm::kMax ? max3 : std::sqrt(sum3 / count);
  return n * n / std::sqrt(n * n + 0.01 * n3 * n3);
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
  template double error_ratio<S>(const ButcherTableau&, Time, const Matrix<S>&,                  \
                                 const Matrix<S>&, const std::vector<Matrix<S>>&,                \
                                 const Options&);                                                \
  template double scaled_norm<S>(const Matrix<S>&, const Matrix<S>&, const Options&);            \
  template double initial_step<S>(Rhs<S>, Time, const Matrix<S>&, const Matrix<S>&, int,         \
                                  const Options&, Matrix<S>&, Matrix<S>&);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow
