#include "problems.hpp"

#include <odeflow/core/error.hpp>

#include <fmt/format.h>

#include <cmath>
#include <numbers>

namespace odeflow::cli {
namespace {

using M = Matrix<double>;

Eigen::VectorXd vec(std::initializer_list<double> values) {
  Eigen::VectorXd v(static_cast<Eigen::Index>(values.size()));
  Eigen::Index i = 0;
  for (double x : values) v[i++] = x;
  return v;
}

Problem make_exp_decay(const ParameterValues& p) {
  const double lambda = p.at("lambda");
  Problem out{"exp_decay", {"y"}, vec({1.0}), 0.0, 5.0, {}, {}, {}, false, p};
  out.rhs = [lambda](Time, const M& y, M& dy) { dy = -lambda * y; };
  out.exact = [lambda](Time t) { return vec({std::exp(-lambda * t)}); };
  return out;
}

Problem make_rotation(const ParameterValues& p) {
  const double omega = p.at("omega");
  Problem out{"rotation", {"x", "y"}, vec({1.0, 0.0}), 0.0, 10.0, {}, {}, std::array{0, 1}, true, p};
  out.rhs = [omega](Time, const M& y, M& dy) {
    dy(0) = -omega * y(1);
    dy(1) = omega * y(0);
  };
  out.exact = [omega](Time t) { return vec({std::cos(omega * t), std::sin(omega * t)}); };
  return out;
}

Problem make_lorenz(const ParameterValues& p) {
  const double sigma = p.at("sigma"), rho = p.at("rho"), beta = p.at("beta");
  Problem out{"lorenz", {"x", "y", "z"}, vec({1.0, 1.0, 1.0}), 0.0, 20.0, {}, {}, std::array{0, 2}, false, p};
  out.rhs = [sigma, rho, beta](Time, const M& y, M& dy) {
    dy(0) = sigma * (y(1) - y(0));
    dy(1) = y(0) * (rho - y(2)) - y(1);
    dy(2) = y(0) * y(1) - beta * y(2);
  };
  return out;
}

Problem make_vdp(const ParameterValues& p) {
  const double mu = p.at("mu");
  Problem out{"vdp", {"x", "v"}, vec({2.0, 0.0}), 0.0, 20.0, {}, {}, std::array{0, 1}, false, p};
  out.rhs = [mu](Time, const M& y, M& dy) {
    dy(0) = y(1);
    dy(1) = mu * (1.0 - y(0) * y(0)) * y(1) - y(0);
  };
  return out;
}

Problem make_lotka_volterra(const ParameterValues& p) {
  const double a = p.at("alpha"), b = p.at("beta"), c = p.at("gamma"), d = p.at("delta");
  Problem out{"lotka_volterra", {"prey", "predator"}, vec({1.0, 1.0}), 0.0, 10.0, {}, {}, std::array{0, 1}, false, p};
  out.rhs = [a, b, c, d](Time, const M& y, M& dy) {
    dy(0) = a * y(0) - b * y(0) * y(1);
    dy(1) = d * y(0) * y(1) - c * y(1);
  };
  return out;
}

// Eccentric anomaly E of mean anomaly m: E − e·sin E = m (Newton from E = m
// or π, which converges monotonically for 0 ≤ e < 1).
double eccentric_anomaly(double m, double e) {
  double big_e = e < 0.8 ? m : std::numbers::pi * (m < 0 ? -1.0 : 1.0);
  for (int i = 0; i < 50; ++i) {
    const double step = (big_e - e * std::sin(big_e) - m) / (1.0 - e * std::cos(big_e));
    big_e -= step;
    if (std::abs(step) < 1e-15 * (1.0 + std::abs(big_e))) break;
  }
  return big_e;
}

// Two-body orbit with GM = 1 and semi-major axis 1 (period 2π), starting at
// pericentre on the x axis.
Problem make_kepler(const ParameterValues& p) {
  const double e = p.at("eccentricity");
  if (!(e >= 0.0 && e < 1.0))
    throw InvalidArgument(fmt::format("kepler: eccentricity = {} must lie in [0, 1)", e));
  const double vy0 = std::sqrt((1.0 + e) / (1.0 - e));
  Problem out{"kepler", {"x", "y", "vx", "vy"}, vec({1.0 - e, 0.0, 0.0, vy0}), 0.0, 2.0 * std::numbers::pi,
              {}, {}, std::array{0, 1}, true, p};
  out.rhs = [](Time, const M& y, M& dy) {
    const double r2 = y(0) * y(0) + y(1) * y(1);
    const double r3 = r2 * std::sqrt(r2);
    dy(0) = y(2);
    dy(1) = y(3);
    dy(2) = -y(0) / r3;
    dy(3) = -y(1) / r3;
  };
  out.exact = [e](Time t) {
    const double m = std::remainder(t, 2.0 * std::numbers::pi);
    const double big_e = eccentric_anomaly(m, e);
    const double s = std::sin(big_e), c = std::cos(big_e), w = std::sqrt(1.0 - e * e);
    const double denom = 1.0 - e * c;
    return vec({c - e, w * s, -s / denom, w * c / denom});
  };
  return out;
}

const std::vector<ProblemInfo>& registry() {
  static const std::vector<ProblemInfo> kProblems{
      {"lorenz", "Lorenz system, chaotic (x, y, z); y0 = (1, 1, 1), t in [0, 20]",
       {{"sigma", 10.0, "Prandtl number"}, {"rho", 28.0, "Rayleigh number"}, {"beta", 8.0 / 3.0, "geometry"}},
       make_lorenz},
      {"vdp", "Van der Pol oscillator x'' = mu (1 - x^2) x' - x; y0 = (2, 0), t in [0, 20]",
       {{"mu", 1.0, "damping (stiff for mu >> 10)"}}, make_vdp},
      {"kepler", "two-body orbit (x, y, vx, vy), GM = 1, period 2 pi; exact solution by Kepler's equation",
       {{"eccentricity", 0.5, "orbit eccentricity in [0, 1)"}}, make_kepler},
      {"lotka_volterra", "predator-prey model; y0 = (1, 1), t in [0, 10]",
       {{"alpha", 1.5, "prey growth"}, {"beta", 1.0, "predation"}, {"gamma", 3.0, "predator death"},
        {"delta", 1.0, "predator growth"}},
       make_lotka_volterra},
      {"exp_decay", "y' = -lambda y; y0 = 1, t in [0, 5]; exact solution", {{"lambda", 1.0, "decay rate"}},
       make_exp_decay},
      {"rotation", "harmonic rotation x' = -omega y, y' = omega x; y0 = (1, 0), t in [0, 10]; exact solution",
       {{"omega", 1.0, "angular frequency"}}, make_rotation},
  };
  return kProblems;
}

}  // namespace

std::span<const ProblemInfo> problems() { return registry(); }

Problem make_problem(std::string_view name, const ParameterValues& overrides) {
  const ProblemInfo* info = nullptr;
  for (const ProblemInfo& p : registry())
    if (p.name == name) info = &p;
  if (info == nullptr) {
    std::string names;
    for (const ProblemInfo& p : registry()) names += fmt::format("{}{}", names.empty() ? "" : ", ", p.name);
    throw InvalidArgument(fmt::format("unknown problem '{}'; known problems: {}", name, names));
  }
  ParameterValues values;
  for (const Parameter& p : info->parameters) values.emplace(std::string(p.name), p.value);
  for (const auto& [key, value] : overrides) {
    auto it = values.find(key);
    if (it == values.end()) {
      std::string names;
      for (const Parameter& p : info->parameters) names += fmt::format("{}{}", names.empty() ? "" : ", ", p.name);
      throw InvalidArgument(fmt::format("problem '{}' has no parameter '{}'; its parameters: {}", name, key, names));
    }
    if (!std::isfinite(value))
      throw InvalidArgument(fmt::format("parameter {} = {} is not finite", key, value));
    it->second = value;
  }
  return info->make(values);
}

}  // namespace odeflow::cli
