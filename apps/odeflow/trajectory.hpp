// Solving a built-in problem and presenting the result: a trajectory (states
// at the output times, statistics, wall time), its CSV and JSON forms, and
// its plot.
#pragma once

#include "plot.hpp"
#include "problems.hpp"

#include <odeflow/core/stats.hpp>
#include <odeflow/solve/options.hpp>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include <ostream>
#include <span>
#include <string>
#include <vector>

namespace odeflow::cli {

struct Trajectory {
  std::vector<Time> ts;
  Eigen::MatrixXd states;  // components × ts.size(): column k is y(ts[k])
  Stats stats;
  double wall_seconds = 0.0;
};

// n equally spaced times from t0 to t1 inclusive (n >= 2).
std::vector<Time> linspace(Time t0, Time t1, int n);

// Solves `problem` from problem.y0 at ts.front() with odeint; throws what
// odeint throws.
Trajectory solve_problem(const Problem& problem, std::span<const Time> ts, const Options& options);

// Largest |a - b| over all components and times (same shapes).
double max_abs_error(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b);

// problem.exact at every output time (problem.exact must be set).
Eigen::MatrixXd exact_states(const Problem& problem, std::span<const Time> ts);

// A header line `t,<components>` then one row per output time, written with
// round-trip precision.
void write_csv(std::ostream& out, const Problem& problem, const Trajectory& trajectory);

nlohmann::json stats_json(const Trajectory& trajectory);
nlohmann::json tolerance_json(const Tolerance& tolerance);

// Everything about one solve: problem, parameters, method, tolerances,
// components, times, states (one array per time) and statistics.
nlohmann::json trajectory_json(const Problem& problem, const Options& options, const Trajectory& trajectory);

TrajectoryPlot make_plot(const Problem& problem, const Trajectory& trajectory, std::string title);

}  // namespace odeflow::cli
