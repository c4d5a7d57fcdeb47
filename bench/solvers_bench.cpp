// Solver benchmarks: odeflow's adaptive Runge–Kutta methods against
// Boost.Odeint's controlled dopri5 and SUNDIALS CVODE (Adams, fixed point) on
// the problems of problems.hpp at several tolerances (rtol = atol).
// odeflow_<method> uses odeint's static path (fixed-size state);
// odeflow_dopri5_dynamic the run-time path (Matrix<double> state).
//
// One benchmark = one solve of [0, T] requesting only the end state. Counters:
// nfe, acc, rej (the solver's own statistics) and err (max-abs error of the end
// state against reference_end_state()). After the run a Markdown table is
// printed with the CPU time per solve (median and min–max over repetitions)
// and the ratios of each solver's median to boost's and CVODE's medians on the
// same problem and tolerance, all from this one run. See docs/benchmarks.md
// and run_solvers.sh.
#include "baselines.hpp"
#include "problems.hpp"

#include <odeflow/odeflow.hpp>

#include <benchmark/benchmark.h>

#include "figure_reporter.hpp"
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <span>
#include <type_traits>
#include <string>
#include <vector>

namespace odeflow::bench {
namespace {

constexpr double kTolerances[] = {1e-6, 1e-8, 1e-10};
constexpr std::string_view kOdeflowMethods[] = {"dopri5", "tsit5", "dopri8"};
constexpr std::string_view kBoost = "boost_dopri5";
constexpr std::string_view kCvode = "cvode_adams";

// One registered benchmark.
struct Case {
  std::string name;  // Google Benchmark's name: "<problem>/tol:<tol>/<solver>"
  std::string_view problem;
  double tol;
  std::string solver;  // "odeflow_<method>", kBoost or kCvode
};

std::string case_name(std::string_view problem, double tol, std::string_view solver) {
  return fmt::format("{}/tol:{:.0e}/{}", problem, tol, solver);
}

// One odeint solve of P. Static: y0 an Eigen::Matrix<double, kDim, 1> and an
// in-place f on that type (odeint's static path: compile-time tableau and
// state size, f inlined); otherwise y0 a Matrix<double> and f on Matrix<double>
// (the compiled run-time path). Not inlined, so that count_instructions.sh can
// count exactly this call.
template <class P, bool kStatic>
[[gnu::noinline]] SolveResult odeflow_solve(const Options& options) {
  using State = std::conditional_t<kStatic, Eigen::Matrix<double, P::kDim, 1>, Matrix<double>>;
  const State y0 = Eigen::Map<const Eigen::Matrix<double, P::kDim, 1>>(P::kY0.data());
  const std::array<Time, 2> ts{0.0, P::kT1};
  auto f = [](Time, const State& y, State& dy) { P::rhs(y.data(), dy.data()); };
  const Solution<double> sol = odeint(f, y0, std::span<const Time>(ts), options);
  SolveResult r;
  std::copy_n(sol.ys.back().data(), P::kDim, r.y.begin());
  r.nfe = sol.stats.nfe;
  r.accepted = sol.stats.accepted;
  r.rejected = sol.stats.rejected;
  return r;
}

// Times `solve` (one solve per iteration), then reports its statistics and
// end-state error as counters (outside the timed loop).
template <class P>
void run_case(benchmark::State& state, const std::function<SolveResult()>& solve) {
  const std::array<double, kMaxDim>& reference = reference_end_state<P>();
  SolveResult r;
  for (auto _ : state) {
    r = solve();
    benchmark::DoNotOptimize(r);
  }
  double err = 0.0;
  for (int i = 0; i < P::kDim; ++i) {
    const auto k = static_cast<std::size_t>(i);
    err = std::max(err, std::abs(r.y[k] - reference[k]));
  }
  state.counters["nfe"] = static_cast<double>(r.nfe);
  state.counters["acc"] = static_cast<double>(r.accepted);
  state.counters["rej"] = static_cast<double>(r.rejected);
  state.counters["err"] = err;
}

bool is_registered(std::string_view method) {
  const auto all = methods();
  return std::any_of(all.begin(), all.end(), [&](const MethodInfo& m) { return m.name == method && m.adaptive; });
}

template <class P>
void register_problem(std::vector<Case>& cases) {
  for (double tol : kTolerances) {
    auto add = [&](std::string solver, std::function<SolveResult()> solve) {
      Case c{case_name(P::kName, tol, solver), P::kName, tol, std::move(solver)};
      benchmark::RegisterBenchmark(c.name.c_str(),
                                   [solve = std::move(solve)](benchmark::State& s) { run_case<P>(s, solve); })
          ->Unit(benchmark::kMicrosecond)
          ->ComputeStatistics("min", min_of)
          ->ComputeStatistics("max", max_of);
      cases.push_back(std::move(c));
    };
    for (std::string_view method : kOdeflowMethods) {
      if (!is_registered(method)) continue;
      Options options;
      options.method = std::string(method);
      options.rtol = tol;
      options.atol = tol;
      add(fmt::format("odeflow_{}", method), [options] { return odeflow_solve<P, true>(options); });
      if (method == "dopri5")
        add(fmt::format("odeflow_{}_dynamic", method), [options] { return odeflow_solve<P, false>(options); });
    }
    add(std::string(kBoost), [tol] { return boost_dopri5<P>(tol, tol); });
    add(std::string(kCvode), [tol] { return cvode_adams<P>(tol, tol); });
  }
}

void print_summary(const FigureReporter& reporter, const std::vector<Case>& cases) {
  if (reporter.empty()) return;  // nothing ran (e.g. --benchmark_list_tests)
  std::string out;
  out += "\n## Summary (ratios of medians from this run)\n\n";
  out += "| problem | tol | method | CPU µs/solve, median (min–max) | NFE | steps acc/rej | err y(T) | ÷ boost "
         "| ÷ CVODE |\n";
  out += "|---|---|---|---|---:|---|---|---:|---:|\n";
  for (const Case& c : cases) {
    const FigureReporter::Figures* found = reporter.find(c.name);
    if (found == nullptr) continue;  // filtered out
    const FigureReporter::Figures& fig = *found;
    auto median_of = [&](std::string_view solver) {
      const FigureReporter::Figures* other = reporter.find(case_name(c.problem, c.tol, solver));
      return other == nullptr ? std::nan("") : other->median();
    };
    auto counter = [&](const char* key) {
      auto jt = fig.counters.find(key);
      return jt == fig.counters.end() ? std::nan("") : static_cast<double>(jt->second);
    };
    auto ratio = [&](double base) {
      return std::isnan(base) ? std::string("–") : fmt::format("{:.2f}", fig.median() / base);
    };
    out += fmt::format("| {} | {:.0e} | {} | {} ({}–{}) | {:.0f} | {:.0f}/{:.0f} | {:.1e} | {} | {} |\n", c.problem,
                       c.tol, c.solver, format_time(fig.median()), format_time(fig.stat("min")),
                       format_time(fig.stat("max")), counter("nfe"), counter("acc"), counter("rej"), counter("err"),
                       ratio(median_of(kBoost)), ratio(median_of(kCvode)));
  }
  for (std::string_view method : kOdeflowMethods)
    if (!is_registered(method)) out += fmt::format("\nodeflow method '{}' is not registered: skipped.\n", method);
  out += "\nerr = max |y(T) − reference|; reference: exact (kepler, 3 periods) or Boost's runge_kutta_fehlberg78 "
         "in long double at rtol = atol = 1e-17.\n";
  fmt::print("{}", out);
}

}  // namespace
}  // namespace odeflow::bench

int main(int argc, char** argv) {
  using namespace odeflow::bench;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::vector<Case> cases;
  std::apply([&](auto... problem) { (register_problem<decltype(problem)>(cases), ...); }, Problems{});
  FigureReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_summary(reporter, cases);
  benchmark::Shutdown();
  return 0;
}
