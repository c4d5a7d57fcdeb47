// Adams coefficients: the classical constant-step tables from exact rational
// arithmetic, and interpolatory quadrature weights on arbitrary nodes.
#include <odeflow/core/error.hpp>
#include <odeflow/solve/adams.hpp>

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <stdexcept>

namespace odeflow {
namespace {

constexpr int kTableSize = 14;  // γ_0..γ_13; formulas of order 1..13

// An exact fraction with overflow-checked arithmetic. Common denominators
// are least common multiples, so intermediates stay near |value|·denominator
// (< 1e16 for these tables).
struct Rational {
  std::int64_t num = 0;
  std::int64_t den = 1;

  static std::int64_t checked_mul(std::int64_t a, std::int64_t b) {
    std::int64_t out;
    if (__builtin_mul_overflow(a, b, &out)) throw std::overflow_error("Adams coefficient overflow");
    return out;
  }
  static std::int64_t checked_add(std::int64_t a, std::int64_t b) {
    std::int64_t out;
    if (__builtin_add_overflow(a, b, &out)) throw std::overflow_error("Adams coefficient overflow");
    return out;
  }
  Rational reduced() const {
    const std::int64_t g = std::gcd(num, den);
    return g == 0 ? Rational{0, 1} : Rational{num / g, den / g};
  }
  Rational operator+(Rational o) const {
    const std::int64_t l = std::lcm(den, o.den);
    return Rational{checked_add(checked_mul(num, l / den), checked_mul(o.num, l / o.den)), l}.reduced();
  }
  Rational operator-() const { return {-num, den}; }
  Rational times(std::int64_t m) const { return Rational{checked_mul(num, m), den}.reduced(); }
  Rational over(std::int64_t d) const { return Rational{num, checked_mul(den, d)}.reduced(); }
  double value() const { return static_cast<double>(num) / static_cast<double>(den); }
};

struct Tables {
  std::array<double, kTableSize> gamma{};
  std::array<double, kTableSize> gamma_star{};
  // bashforth[k] and moulton[k]: the k weights of order k (row 0 unused).
  std::array<std::array<double, kTableSize>, kTableSize> bashforth{};
  std::array<std::array<double, kTableSize>, kTableSize> moulton{};
};

std::int64_t binomial(int n, int k) {
  std::int64_t c = 1;
  for (int i = 1; i <= k; ++i) c = c * (n - k + i) / i;
  return c;
}

// Weights of order k from backward-difference coefficients c_j:
// Σ_{j<k} c_j ∇^j f_n = Σ_{m<k} w_m f_{n−m} with w_m = (−1)^m Σ_{j=m}^{k−1} C(j, m) c_j.
void lagrange_form(const std::array<Rational, kTableSize>& c, int k, std::array<double, kTableSize>& w) {
  for (int m = 0; m < k; ++m) {
    Rational sum;
    for (int j = m; j < k; ++j) sum = sum + c[static_cast<std::size_t>(j)].times(binomial(j, m));
    w[static_cast<std::size_t>(m)] = (m % 2 == 0 ? sum : -sum).value();
  }
}

Tables build_tables() {
  // Hairer, Nørsett & Wanner I, Sec. III.1: γ_j = 1 − Σ_{i<j} γ_i/(j+1−i),
  // γ*_j = −Σ_{i<j} γ*_i/(j+1−i), γ_0 = γ*_0 = 1.
  std::array<Rational, kTableSize> gamma, gamma_star;
  gamma[0] = gamma_star[0] = Rational{1, 1};
  for (int j = 1; j < kTableSize; ++j) {
    Rational sum, sum_star;
    for (int i = 0; i < j; ++i) {
      sum = sum + gamma[static_cast<std::size_t>(i)].over(j + 1 - i);
      sum_star = sum_star + gamma_star[static_cast<std::size_t>(i)].over(j + 1 - i);
    }
    gamma[static_cast<std::size_t>(j)] = Rational{1, 1} + -sum;
    gamma_star[static_cast<std::size_t>(j)] = -sum_star;
  }
  Tables t;
  for (int j = 0; j < kTableSize; ++j) {
    t.gamma[static_cast<std::size_t>(j)] = gamma[static_cast<std::size_t>(j)].value();
    t.gamma_star[static_cast<std::size_t>(j)] = gamma_star[static_cast<std::size_t>(j)].value();
  }
  for (int k = 1; k < kTableSize; ++k) {
    lagrange_form(gamma, k, t.bashforth[static_cast<std::size_t>(k)]);
    lagrange_form(gamma_star, k, t.moulton[static_cast<std::size_t>(k)]);
  }
  return t;
}

const Tables& tables() {
  static const Tables t = build_tables();
  return t;
}

// Gauss–Legendre rule on [0, 1] with 7 points: exact up to degree 13, enough
// for the Lagrange basis of 13 nodes. Nodes by Newton's method on P_7.
struct GaussLegendre {
  std::array<double, 7> x{};
  std::array<double, 7> w{};
};

GaussLegendre build_gauss_legendre() {
  GaussLegendre gl;
  const int n = static_cast<int>(gl.x.size());
  const double pi = std::acos(-1.0);
  for (int i = 0; i < n; ++i) {
    double x = std::cos(pi * (i + 0.75) / (n + 0.5));
    double dp = 1.0;
    for (int iter = 0; iter < 100; ++iter) {
      // P_n(x) and P_n'(x) by the three-term recurrence.
      double p0 = 1.0, p1 = x;
      for (int k = 2; k <= n; ++k) {
        const double p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      dp = n * (x * p1 - p0) / (x * x - 1.0);
      const double dx = p1 / dp;
      x -= dx;
      if (std::abs(dx) < 1e-16) break;
    }
    gl.x[static_cast<std::size_t>(i)] = 0.5 * (1.0 - x);
    gl.w[static_cast<std::size_t>(i)] = 1.0 / ((1.0 - x * x) * dp * dp);
  }
  return gl;
}

const GaussLegendre& gauss_legendre() {
  static const GaussLegendre gl = build_gauss_legendre();
  return gl;
}

void check_order(const char* what, int order) {
  if (order < 1 || order >= kTableSize)
    throw InvalidArgument(fmt::format("{} order = {} must lie in [1, {}]", what, order, kTableSize - 1));
}

}  // namespace

std::span<const double> adams_bashforth_coefficients(int order) {
  check_order("Adams–Bashforth", order);
  return {tables().bashforth[static_cast<std::size_t>(order)].data(), static_cast<std::size_t>(order)};
}

std::span<const double> adams_moulton_coefficients(int order) {
  check_order("Adams–Moulton", order);
  return {tables().moulton[static_cast<std::size_t>(order)].data(), static_cast<std::size_t>(order)};
}

double adams_bashforth_gamma(int j) {
  if (j < 0 || j >= kTableSize) throw InvalidArgument(fmt::format("gamma index j = {} must lie in [0, 13]", j));
  return tables().gamma[static_cast<std::size_t>(j)];
}

double adams_moulton_gamma(int j) {
  if (j < 0 || j >= kTableSize) throw InvalidArgument(fmt::format("gamma* index j = {} must lie in [0, 13]", j));
  return tables().gamma_star[static_cast<std::size_t>(j)];
}

void interpolatory_weights(std::span<const double> nodes, double a, double b, std::span<double> w) {
  const std::size_t n = nodes.size();
  if (n == 0 || n >= kTableSize || w.size() != n)
    throw InvalidArgument(fmt::format("interpolatory_weights: {} nodes and {} weights; need 1..13 of each",
                                      n, w.size()));
  // In u = (t − a)/(b − a) the interval is [0, 1]. Integrating the Lagrange
  // basis ℓ_i(u) = Π_{j≠i} (u − u_j)/(u_i − u_j) by Gauss–Legendre (exact for
  // these degrees) from its values, never from its monomial coefficients,
  // which cancel badly for equispaced nodes inside [0, 1].
  std::array<double, kTableSize> u{};
  for (std::size_t i = 0; i < n; ++i) u[i] = (nodes[i] - a) / (b - a);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (u[i] == u[j])
        throw InvalidArgument(
            fmt::format("interpolatory_weights: nodes {} and {} coincide at {}", j, i, nodes[i]));
  const GaussLegendre& gl = gauss_legendre();
  for (std::size_t i = 0; i < n; ++i) {
    double sum = 0.0;
    for (std::size_t q = 0; q < gl.x.size(); ++q) {
      double l = 1.0;
      for (std::size_t j = 0; j < n; ++j)
        if (j != i) l *= (gl.x[q] - u[j]) / (u[i] - u[j]);
      sum += gl.w[q] * l;
    }
    w[i] = sum;
  }
}

}  // namespace odeflow
