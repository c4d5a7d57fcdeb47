#include "trajectory.hpp"

#include <odeflow/core/error.hpp>
#include <odeflow/solve/odeint.hpp>

#include <fmt/format.h>

#include <chrono>

namespace odeflow::cli {

std::vector<Time> linspace(Time t0, Time t1, int n) {
  if (n < 2) throw InvalidArgument(fmt::format("n = {} output times; at least 2 are needed", n));
  std::vector<Time> ts(static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k) ts[static_cast<std::size_t>(k)] = t0 + (t1 - t0) * k / (n - 1);
  ts.back() = t1;
  return ts;
}

Trajectory solve_problem(const Problem& problem, std::span<const Time> ts, const Options& options) {
  const Matrix<double> y0 = problem.y0;
  const auto start = std::chrono::steady_clock::now();
  const Solution<double> sol = odeint(problem.rhs, y0, ts, options);
  const auto stop = std::chrono::steady_clock::now();

  Trajectory out;
  out.ts.assign(ts.begin(), ts.end());
  out.states.resize(y0.rows(), static_cast<Eigen::Index>(ts.size()));
  for (std::size_t k = 0; k < sol.ys.size(); ++k) out.states.col(static_cast<Eigen::Index>(k)) = sol.ys[k].col(0);
  out.stats = sol.stats;
  out.wall_seconds = std::chrono::duration<double>(stop - start).count();
  return out;
}

double max_abs_error(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) { return (a - b).cwiseAbs().maxCoeff(); }

Eigen::MatrixXd exact_states(const Problem& problem, std::span<const Time> ts) {
  Eigen::MatrixXd out(problem.y0.size(), static_cast<Eigen::Index>(ts.size()));
  for (std::size_t k = 0; k < ts.size(); ++k) out.col(static_cast<Eigen::Index>(k)) = problem.exact(ts[k]);
  return out;
}

void write_csv(std::ostream& out, const Problem& problem, const Trajectory& trajectory) {
  std::string line = "t";
  for (const std::string& c : problem.components) line += "," + c;
  out << line << '\n';
  for (std::size_t k = 0; k < trajectory.ts.size(); ++k) {
    line = fmt::format("{}", trajectory.ts[k]);
    for (Eigen::Index r = 0; r < trajectory.states.rows(); ++r)
      fmt::format_to(std::back_inserter(line), ",{}", trajectory.states(r, static_cast<Eigen::Index>(k)));
    out << line << '\n';
  }
}

nlohmann::json stats_json(const Trajectory& trajectory) {
  const Stats& s = trajectory.stats;
  return {{"nfe", s.nfe},
          {"accepted", s.accepted},
          {"rejected", s.rejected},
          {"steps", s.steps()},
          {"first_step", s.first_step},
          {"last_step", s.last_step},
          {"wall_time_s", trajectory.wall_seconds}};
}

nlohmann::json tolerance_json(const Tolerance& tolerance) {
  if (tolerance.is_scalar()) return tolerance[0];
  const Eigen::VectorXd& v = tolerance.values();
  return std::vector<double>(v.data(), v.data() + v.size());
}

nlohmann::json trajectory_json(const Problem& problem, const Options& options, const Trajectory& trajectory) {
  nlohmann::json states = nlohmann::json::array();
  for (Eigen::Index k = 0; k < trajectory.states.cols(); ++k) {
    const Eigen::VectorXd y = trajectory.states.col(k);
    states.push_back(std::vector<double>(y.data(), y.data() + y.size()));
  }
  nlohmann::json parameters = nlohmann::json::object();
  for (const auto& [name, value] : problem.parameters) parameters[name] = value;
  return {{"problem", problem.name},
          {"parameters", parameters},
          {"method", options.method},
          {"rtol", tolerance_json(options.rtol)},
          {"atol", tolerance_json(options.atol)},
          {"components", problem.components},
          {"times", trajectory.ts},
          {"states", states},
          {"stats", stats_json(trajectory)}};
}

TrajectoryPlot make_plot(const Problem& problem, const Trajectory& trajectory, std::string title) {
  return {std::move(title), problem.components, trajectory.ts, trajectory.states, problem.phase,
          problem.phase_equal_aspect};
}

}  // namespace odeflow::cli
