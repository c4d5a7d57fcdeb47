// The classic demo: three classical problems solved with dopri5, each checked
// against a reference (the exact solution where one exists, otherwise a
// dopri5 solve at rtol = atol = 1e-13), plotted, and a comparison of every
// registered method on one Kepler orbit.
#include "demos.hpp"
#include "plot.hpp"
#include "problems.hpp"
#include "trajectory.hpp"

#include <odeflow/core/error.hpp>
#include <odeflow/solve/registry.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <numbers>
#include <string>
#include <vector>

namespace odeflow::cli {
namespace {

constexpr double kReferenceTol = 1e-13;

struct DemoCase {
  std::string problem;
  ParameterValues parameters;
  std::optional<Eigen::VectorXd> y0;  // default: the problem's
  double t1;
  int outputs;
  double tol;  // rtol = atol
  std::string title;
  std::string note = {};  // printed under the error
};

Options dopri5(double tol) {
  Options opt;
  opt.method = "dopri5";
  opt.rtol = tol;
  opt.atol = tol;
  return opt;
}

// Runs one case: solve, reference, plot. Returns its summary entry.
nlohmann::json run_case(const DemoContext& context, const DemoCase& c, int index, int count) {
  Problem problem = make_problem(c.problem, c.parameters);
  if (c.y0) {
    problem.y0 = *c.y0;
    problem.exact = nullptr;
  }
  const std::vector<Time> ts = linspace(problem.t0, c.t1, c.outputs);
  const Options options = dopri5(c.tol);
  const Trajectory run = solve_problem(problem, ts, options);

  std::string reference_name = "the exact solution";
  Eigen::MatrixXd reference;
  if (problem.exact) {
    reference = exact_states(problem, ts);
  } else {
    reference_name = fmt::format("a dopri5 solve at rtol = atol = {:g}", kReferenceTol);
    reference = solve_problem(problem, ts, dopri5(kReferenceTol)).states;
  }
  const double max_error = max_abs_error(run.states, reference);
  const double final_error = (run.states.col(run.states.cols() - 1) - reference.col(reference.cols() - 1))
                                 .cwiseAbs()
                                 .maxCoeff();

  const std::string png = c.problem + ".png";
  write_trajectory_png((context.out_dir / png).string(), make_plot(problem, run, c.title));

  const Stats& s = run.stats;
  fmt::print("[{}/{}] {:<7} dopri5, rtol = atol = {:g}, t in [{:g}, {:g}]\n", index, count, c.problem, c.tol,
             problem.t0, c.t1);
  fmt::print("      {} steps ({} accepted, {} rejected), {} f evaluations, {:.2f} ms\n", s.steps(), s.accepted,
             s.rejected, s.nfe, 1e3 * run.wall_seconds);
  fmt::print("      max |error| {:.2e} (at t1 {:.2e}) against {}\n", max_error, final_error, reference_name);
  if (!c.note.empty()) fmt::print("      ({})\n", c.note);
  fmt::print("      plot: {}\n", (context.out_dir / png).string());

  nlohmann::json parameters = nlohmann::json::object();
  for (const auto& [name, value] : problem.parameters) parameters[name] = value;
  return {{"problem", c.problem},
          {"parameters", parameters},
          {"y0", std::vector<double>(problem.y0.data(), problem.y0.data() + problem.y0.size())},
          {"t0", problem.t0},
          {"t1", c.t1},
          {"outputs", c.outputs},
          {"method", "dopri5"},
          {"rtol", c.tol},
          {"atol", c.tol},
          {"stats", stats_json(run)},
          {"reference", reference_name},
          {"max_abs_error", max_error},
          {"final_abs_error", final_error},
          {"plot", png}};
}

// Every registered method on one Kepler orbit: adaptive methods at
// rtol = atol = 1e-6, fixed-step methods with 1000 steps; error at t1
// against the exact solution.
nlohmann::json compare_methods() {
  const Problem problem = make_problem("kepler", {{"eccentricity", 0.5}});
  const double period = 2.0 * std::numbers::pi;
  const std::vector<Time> ts{0.0, period};
  const Eigen::VectorXd exact = problem.exact(period);
  fmt::print("\nEvery method on one Kepler orbit (eccentricity 0.5): error at t = 2 pi against the exact solution\n");
  fmt::print("  {:<15} {:<16} {:>7} {:>8} {:>10}\n", "method", "setting", "steps", "f evals", "max |error|");

  nlohmann::json rows = nlohmann::json::array();
  for (const MethodInfo& m : methods()) {
    Options opt;
    opt.method = std::string(m.name);
    std::string setting;
    if (m.adaptive) {
      opt.rtol = opt.atol = 1e-6;
      setting = "rtol 1e-6";
    } else {
      opt.step_size = period / 1000;
      setting = "1000 steps";
    }
    nlohmann::json row{{"method", m.name}, {"adaptive", m.adaptive}, {"setting", setting}};
    try {
      const Trajectory run = solve_problem(problem, ts, opt);
      const double error = (run.states.col(1) - exact).cwiseAbs().maxCoeff();
      fmt::print("  {:<15} {:<16} {:>7} {:>8} {:>10.2e}\n", m.name, setting, run.stats.steps(), run.stats.nfe, error);
      row["stats"] = stats_json(run);
      row["max_abs_error"] = error;
    } catch (const Error& e) {
      fmt::print("  {:<15} {:<16} failed: {}\n", m.name, setting, e.what());
      row["error"] = e.what();
    }
    rows.push_back(row);
  }
  return {{"problem", "kepler"}, {"eccentricity", 0.5}, {"t1", period}, {"rows", rows}};
}

}  // namespace

void run_classic_demo(const DemoContext& context) {
  const double orbit = 2.0 * std::numbers::pi;
  Eigen::VectorXd vdp_start(2);
  vdp_start << 0.1, 0.0;
  const std::vector<DemoCase> cases{
      {"lorenz", {}, std::nullopt, 20.0, 4001, 1e-8, "Lorenz (#gs = 10, #gr = 28, #gb = 8/3), dopri5",
       "chaotic: errors grow about e^(0.9 t), so late-time errors are large at any tolerance"},
      {"vdp", {{"mu", 1.0}}, vdp_start, 30.0, 3001, 1e-8, "Van der Pol (#gm = 1) from (0.1, 0): limit cycle"},
      {"kepler", {{"eccentricity", 0.6}}, std::nullopt, 3 * orbit, 3001, 1e-8, "Kepler orbit (e = 0.6), 3 periods"},
  };

  fmt::print("odeflow demo classic: writing to {}\n\n", context.out_dir.string());
  nlohmann::json summary{{"demo", "classic"}, {"cases", nlohmann::json::array()}};
  int index = 1;
  for (const DemoCase& c : cases)
    summary["cases"].push_back(run_case(context, c, index++, static_cast<int>(cases.size())));
  summary["method_comparison"] = compare_methods();

  const std::filesystem::path path = context.out_dir / "summary.json";
  std::ofstream file(path);
  file << summary.dump(2) << '\n';
  if (!file) throw InvalidArgument(fmt::format("cannot write '{}'", path.string()));
  fmt::print("\nsummary: {}\n", path.string());
}

}  // namespace odeflow::cli
