// Shared by the benchmark programs: Google Benchmark's console output as
// usual, plus each case's repetition times (and counters) kept so that the
// program can print a summary table of medians, min–max and same-run ratios.
#pragma once

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace odeflow::bench {

inline double min_of(const std::vector<double>& v) { return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end()); }
inline double max_of(const std::vector<double>& v) { return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()); }

// A time with three significant digits or so: "0.56", "10.7", "2214"; "n/a" for NaN.
inline std::string format_time(double t) {
  if (std::isnan(t)) return "n/a";
  if (t >= 100.0) return fmt::format("{:.0f}", t);
  if (t >= 10.0) return fmt::format("{:.1f}", t);
  return fmt::format("{:.2f}", t);
}

class FigureReporter : public benchmark::ConsoleReporter {
 public:
  struct Figures {
    std::vector<double> samples;          // CPU time of each repetition (when reported), in the case's unit
    std::map<std::string, double> stats;  // aggregate name -> CPU time
    benchmark::UserCounters counters;
    double median() const { return stat("median"); }
    // An aggregate Google Benchmark reported, or else one computed from the samples.
    double stat(const std::string& name) const {
      if (auto it = stats.find(name); it != stats.end()) return it->second;
      if (samples.empty()) return std::nan("");
      std::vector<double> v = samples;
      std::sort(v.begin(), v.end());
      if (name == "min") return v.front();
      if (name == "max") return v.back();
      const std::size_t n = v.size();
      return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    }
  };

  FigureReporter() : ConsoleReporter(OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) record(run);
    ConsoleReporter::ReportRuns(runs);
  }

  bool empty() const { return figures_.empty(); }
  const Figures* find(const std::string& name) const {
    auto it = figures_.find(name);
    return it == figures_.end() ? nullptr : &it->second;
  }

 private:
  void record(const Run& run) {
    if (run.error_occurred) return;
    Figures& fig = figures_[run.run_name.function_name];
    if (run.run_type == Run::RT_Iteration) {
      fig.samples.push_back(run.GetAdjustedCPUTime());
      fig.counters = run.counters;
    } else if (run.aggregate_unit == benchmark::kTime) {
      fig.stats[run.aggregate_name] = run.GetAdjustedCPUTime();
      if (run.aggregate_name == "median") fig.counters = run.counters;
    }
  }

  std::map<std::string, Figures> figures_;
};

}  // namespace odeflow::bench
