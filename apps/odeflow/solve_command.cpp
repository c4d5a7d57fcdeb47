// `odeflow solve PROBLEM`: solve a built-in problem and write the trajectory
// as CSV or JSON (stdout or -o FILE), optionally with statistics and a plot.
#include "commands.hpp"
#include "plot.hpp"
#include "problems.hpp"
#include "trajectory.hpp"

#include <odeflow/core/error.hpp>
#include <odeflow/solve/options.hpp>
#include <odeflow/solve/registry.hpp>

#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace odeflow::cli {
namespace {

struct SolveArgs {
  std::string problem;
  std::vector<std::string> params;  // name=value
  std::optional<double> mu, eccentricity;
  std::string method = "dopri5";
  std::vector<double> rtol{1e-7}, atol{1e-9};
  std::optional<double> t0, t1;
  int n = 1001;
  std::vector<double> times;
  std::vector<double> y0;
  double step_size = 0.0;
  double first_step = 0.0;
  std::int64_t max_steps = 0;
  int max_order = 0;
  std::string controller = "i";
  std::string format = "csv";
  std::string output;
  std::string plot;
  bool stats = false;
};

Tolerance to_tolerance(const std::vector<double>& values) {
  if (values.size() == 1) return values[0];
  return Eigen::VectorXd(Eigen::Map<const Eigen::VectorXd>(values.data(), static_cast<Eigen::Index>(values.size())));
}

ParameterValues parse_parameters(const SolveArgs& args) {
  ParameterValues out;
  for (const std::string& p : args.params) {
    const auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0)
      throw InvalidArgument(fmt::format("--param '{}' is not of the form name=value", p));
    const std::string value = p.substr(eq + 1);
    std::size_t used = 0;
    double v = 0.0;
    try {
      v = std::stod(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != value.size())
      throw InvalidArgument(fmt::format("--param '{}': '{}' is not a number", p, value));
    out[p.substr(0, eq)] = v;
  }
  if (args.mu) out["mu"] = *args.mu;
  if (args.eccentricity) out["eccentricity"] = *args.eccentricity;
  return out;
}

Options to_options(const SolveArgs& args) {
  Options opt;
  opt.method = args.method;
  opt.rtol = to_tolerance(args.rtol);
  opt.atol = to_tolerance(args.atol);
  opt.controller = args.controller == "pi" ? Controller::kPI : Controller::kI;
  opt.step_size = args.step_size;
  opt.first_step = args.first_step;
  if (args.max_steps != 0) opt.max_num_steps = args.max_steps;
  opt.max_order = args.max_order;
  opt.validate();
  return opt;
}

// The problem with --y0, --t0, --t1 applied. Overriding y0 or t0 drops the
// exact solution, which holds only for the built-in initial condition.
Problem setup_problem(const SolveArgs& args) {
  Problem problem = make_problem(args.problem, parse_parameters(args));
  if (!args.y0.empty()) {
    if (args.y0.size() != static_cast<std::size_t>(problem.y0.size()))
      throw InvalidArgument(fmt::format("--y0 has {} values but problem '{}' has {} components ({})", args.y0.size(),
                                        problem.name, problem.y0.size(), fmt::join(problem.components, ", ")));
    problem.y0 = Eigen::Map<const Eigen::VectorXd>(args.y0.data(), problem.y0.size());
    problem.exact = nullptr;
  }
  if (args.t0) {
    problem.t0 = *args.t0;
    problem.exact = nullptr;
  }
  if (args.t1) problem.t1 = *args.t1;
  return problem;
}

std::vector<Time> output_times(const SolveArgs& args, const Problem& problem) {
  if (args.times.empty()) return linspace(problem.t0, problem.t1, args.n);
  if (args.t0 || args.t1)
    throw InvalidArgument("--times gives every output time; do not combine it with --t0/--t1");
  return args.times;  // times[0] is the initial time; odeint checks monotonicity
}

void report_stats(const Problem& problem, const Options& options, const Trajectory& trajectory) {
  const Stats& s = trajectory.stats;
  fmt::print(stderr, "{} with {}: {} steps ({} accepted, {} rejected), {} f evaluations, {:.3f} ms\n", problem.name,
             options.method, s.steps(), s.accepted, s.rejected, s.nfe, 1e3 * trajectory.wall_seconds);
  if (problem.exact) {
    const double err = max_abs_error(trajectory.states, exact_states(problem, trajectory.ts));
    fmt::print(stderr, "max |error| against the exact solution: {:.3e}\n", err);
  }
}

void run_solve(const SolveArgs& args) {
  const Options options = to_options(args);
  Problem problem = setup_problem(args);
  const std::vector<Time> ts = output_times(args, problem);
  if (ts.front() != problem.t0) problem.exact = nullptr;
  problem.t0 = ts.front();

  std::ofstream file;
  if (!args.output.empty()) {
    file.open(args.output);
    if (!file) throw InvalidArgument(fmt::format("cannot write output file '{}'", args.output));
  }
  std::ostream& out = args.output.empty() ? std::cout : file;
  if (!args.plot.empty() && !std::ofstream(args.plot))  // fail before solving, not after the output
    throw InvalidArgument(fmt::format("cannot write plot file '{}'", args.plot));

  const Trajectory trajectory = solve_problem(problem, ts, options);
  if (args.format == "json")
    out << trajectory_json(problem, options, trajectory).dump() << '\n';
  else
    write_csv(out, problem, trajectory);
  out.flush();
  if (!out) throw InvalidArgument(fmt::format("writing the {} output failed", args.format));

  if (args.stats) report_stats(problem, options, trajectory);
  if (!args.plot.empty()) {
    const std::string title = fmt::format("{} ({}, rtol {})", problem.name, options.method, args.rtol.front());
    write_trajectory_png(args.plot, make_plot(problem, trajectory, title));
  }
}

std::string method_help() {
  std::string names;
  for (const MethodInfo& m : methods()) names += fmt::format("{}{}", names.empty() ? "" : ", ", m.name);
  return fmt::format("solver (default dopri5): {}", names);
}

std::string problem_help() {
  std::string text = "Problems (parameters with defaults; set them with --param name=value):\n";
  for (const ProblemInfo& p : problems()) {
    text += fmt::format("  {:<15} {}\n", p.name, p.description);
    for (const Parameter& q : p.parameters)
      text += fmt::format("  {:<15}   {} = {:g}: {}\n", "", q.name, q.value, q.description);
  }
  return text;
}

}  // namespace

void add_solve_command(CLI::App& app) {
  auto args = std::make_shared<SolveArgs>();
  CLI::App* cmd = app.add_subcommand("solve", "Solve a built-in initial value problem");
  cmd->footer(problem_help());
  cmd->add_option("problem", args->problem, "problem name (see below)")->required();
  cmd->add_option("-p,--param", args->params, "problem parameter, name=value (repeatable)");
  cmd->add_option("--mu", args->mu, "vdp: damping parameter mu (same as --param mu=...)");
  cmd->add_option("--eccentricity", args->eccentricity,
                  "kepler: orbit eccentricity (same as --param eccentricity=...)");
  cmd->add_option("-m,--method", args->method, method_help());
  cmd->add_option("--rtol", args->rtol, "relative tolerance; one value or one per component (comma-separated)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--atol", args->atol, "absolute tolerance; one value or one per component (comma-separated)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--t0", args->t0, "initial time (default: the problem's)");
  cmd->add_option("--t1", args->t1, "final time (default: the problem's)");
  auto* n = cmd->add_option("-n,--n", args->n, "number of equally spaced output times from t0 to t1")
                ->capture_default_str();
  cmd->add_option("--times", args->times, "explicit output times, comma-separated; the first is the initial time")
      ->delimiter(',')
      ->excludes(n);
  cmd->add_option("--y0", args->y0, "initial state, comma-separated (default: the problem's)")->delimiter(',');
  cmd->add_option("--step-size", args->step_size, "fixed step size (fixed-step methods; makes adaptive ones fixed)");
  cmd->add_option("--first-step", args->first_step, "first step size of adaptive methods (default: automatic)");
  cmd->add_option("--max-steps", args->max_steps, "maximum number of steps (default: unlimited)");
  cmd->add_option("--max-order", args->max_order, "Adams methods: highest order (default: the method's)");
  cmd->add_option("--controller", args->controller, "step-size controller: i (torchdiffeq) or pi")
      ->check(CLI::IsMember({"i", "pi"}))
      ->capture_default_str();
  cmd->add_option("-f,--format", args->format, "output format: csv or json")
      ->check(CLI::IsMember({"csv", "json"}))
      ->capture_default_str();
  cmd->add_option("-o,--output", args->output, "output file (default: stdout)");
  cmd->add_flag("--stats", args->stats, "print step counts, f evaluations and wall time to stderr");
  cmd->add_option("--plot", args->plot, "write a PNG plot (components against time, and a phase portrait)");
  cmd->callback([args] { run_solve(*args); });
}

}  // namespace odeflow::cli
