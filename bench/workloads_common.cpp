// Timing summaries, process memory, check values, records and the peer
// figures of the workload runner (see workloads.hpp).
#include <fmt/format.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>

#include "workloads.hpp"

namespace odeflow::bench {

Summary summarize(std::vector<double> samples) {
  Summary s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  const std::size_t n = samples.size();
  s.median = n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
  s.min = samples.front();
  s.max = samples.back();
  s.n = static_cast<int>(n);
  return s;
}

Json to_json(const Summary& s) { return Json{{"median", s.median}, {"min", s.min}, {"max", s.max}, {"n", s.n}}; }

void IterationLog::write(Json& record) const {
  record["iter_s"] = to_json(summarize(iter_s));
  record["iter_cpu_s"] = to_json(summarize(iter_cpu_s));
  if (!fwd_s.empty()) {
    record["fwd_s"] = to_json(summarize(fwd_s));
    record["bwd_s"] = to_json(summarize(bwd_s));
  }
  const std::pair<const char*, const std::vector<double>*> counts[] = {{"nfe_fwd", &nfe_fwd},
                                                                       {"nfe_bwd", &nfe_bwd},
                                                                       {"acc_steps_fwd", &acc_fwd},
                                                                       {"rej_steps_fwd", &rej_fwd},
                                                                       {"acc_steps_bwd", &acc_bwd},
                                                                       {"rej_steps_bwd", &rej_bwd},
                                                                       {"recomputed_nfe", &recomputed_nfe},
                                                                       {"stored_bytes", &stored_bytes}};
  for (const auto& [name, values] : counts) record[name] = to_json(summarize(*values));
}

Gradient parse_gradient(const std::string& mode) {
  if (mode == "direct") return Gradient::kDirect;
  if (mode == "adjoint") return Gradient::kAdjoint;
  if (mode == "checkpoint") return Gradient::kCheckpoint;
  throw std::invalid_argument(fmt::format("unknown gradient mode '{}' (direct, adjoint or checkpoint)", mode));
}

std::int64_t proc_status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::size_t len = std::strlen(key);
  while (std::getline(in, line)) {
    if (line.compare(0, len, key) == 0 && line.size() > len && line[len] == ':') {
      return std::stoll(line.substr(len + 1));
    }
  }
  return -1;
}

bool has_openmp() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

int set_threads(int n) {
  Eigen::setNbThreads(n);
  return Eigen::nbThreads();
}

bool Checks::expect(Json& record, const std::string& name, double got, double expected, double rel_tol) {
  const double rel = std::abs(got - expected) / std::max(std::abs(expected), 1e-300);
  const bool ok = rel <= rel_tol;
  record["checks"][name] = Json{{"got", got}, {"expected", expected}, {"rel_err", rel}, {"tol", rel_tol}, {"ok", ok}};
  if (!ok) {
    ++mismatches_;
    std::fprintf(stderr, "\n*** CHECK MISMATCH: %s = %.17g, expected %.17g (relative error %.3g > %.3g) ***\n\n",
                 name.c_str(), got, expected, rel, rel_tol);
  }
  return ok;
}

bool Checks::expect_count(Json& record, const std::string& name, std::int64_t got, std::int64_t expected) {
  const bool ok = got == expected;
  record["checks"][name] = Json{{"got", got}, {"expected", expected}, {"ok", ok}};
  if (!ok) {
    ++mismatches_;
    std::fprintf(stderr, "\n*** CHECK MISMATCH: %s = %lld, expected %lld ***\n\n", name.c_str(),
                 static_cast<long long>(got), static_cast<long long>(expected));
  }
  return ok;
}

void Checks::count_failure(const std::string& name) {
  ++mismatches_;
  std::fprintf(stderr, "\n*** CHECK MISMATCH in a merged run: %s ***\n\n", name.c_str());
}

void Report::emit(const Json& record, const std::string& json_path) {
  const std::string line = record.dump();
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  if (!json_path.empty()) {
    std::ofstream out(json_path, std::ios::app);
    if (!out) throw std::runtime_error(fmt::format("cannot append to --json file '{}'", json_path));
    out << line << '\n';
  }
  records.push_back(record);
}

// ---- Merging runs -------------------------------------------------------------

namespace {

// What identifies a configuration across runs.
std::string configuration_key(const Json& r) {
  std::string key;
  for (const char* field : {"workload", "case", "mode", "dtype", "threads", "path", "K", "checkpoint_every", "N"}) {
    if (r.contains(field)) key += std::string(field) + "=" + r[field].dump() + ";";
  }
  return key;
}

Json merge_records(const std::vector<const Json*>& runs) {
  Json out = *runs.front();
  for (auto it = out.begin(); it != out.end(); ++it) {
    const std::string& name = it.key();
    Json& value = it.value();
    if (value.is_object() && value.contains("median") && value.contains("min")) {
      std::vector<double> medians;
      double lo = INFINITY, hi = -INFINITY;
      int n = 0;
      for (const Json* r : runs) {
        const Json& v = (*r)[name];
        medians.push_back(v["median"].get<double>());
        lo = std::min(lo, v["min"].get<double>());
        hi = std::max(hi, v["max"].get<double>());
        n += v.value("n", 0);
      }
      value = Json{{"median", summarize(medians).median}, {"min", lo}, {"max", hi}, {"n", n}, {"runs", runs.size()}};
    } else if (value.is_number() && name != "threads" && name != "K" && name != "checkpoint_every") {
      std::vector<double> values;
      for (const Json* r : runs) values.push_back((*r)[name].get<double>());
      value = summarize(values).median;
    }
  }
  // Ratios from the merged medians, not the median of per-run ratios.
  if (out.contains("speedup_vs_peer")) {
    const bool train = out.contains("iter_s");
    const double peer = out["peer"]["median_s"].get<double>();
    out["speedup_vs_peer"] = peer / out[train ? "iter_s" : "solve_s"]["median"].get<double>();
    out["speedup_vs_peer_cpu"] = peer / out[train ? "iter_cpu_s" : "solve_cpu_s"]["median"].get<double>();
  }
  if (out.contains("gflops") && out.contains("time_s")) {
    const double flops = 2.0 * out["M"].get<double>() * out["N"].get<double>() * out["K"].get<double>();
    const Json& t = out["time_s"];
    out["gflops"] = Json{{"median", flops / t["median"].get<double>() * 1e-9},
                         {"best", flops / t["min"].get<double>() * 1e-9},
                         {"worst", flops / t["max"].get<double>() * 1e-9}};
  }
  if (out.contains("gemm_fraction")) {
    const double evals = out["gemm_flops"].get<double>() / (2.0 * 512 * (64 * 256 + 256 * 256 + 256 * 64));
    out["gemm_fraction"] = evals * out["gemm_time_per_eval_s"].get<double>() / out["iter_s"]["median"].get<double>();
    out["gemm_fraction_cpu"] =
        evals * out["gemm_time_per_eval_s"].get<double>() / out["iter_cpu_s"]["median"].get<double>();
    out["achieved_gflops"] = out["gemm_flops"].get<double>() / out["iter_s"]["median"].get<double>() * 1e-9;
  }
  return out;
}

}  // namespace

Report merge_runs(const std::vector<std::string>& json_paths) {
  std::vector<Json> all;
  for (const std::string& path : json_paths) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("cannot read --summarize file '{}'", path));
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line[0] == '{') all.push_back(Json::parse(line));
    }
  }
  std::vector<std::string> order;
  std::map<std::string, std::vector<const Json*>> groups;
  for (const Json& r : all) {
    const std::string key = configuration_key(r);
    if (!groups.count(key)) order.push_back(key);
    groups[key].push_back(&r);
  }
  Report report;
  for (const std::string& key : order) {
    Json merged = merge_records(groups[key]);
    // A check that failed in any run counts once.
    if (merged.contains("checks")) {
      for (const Json* r : groups[key]) {
        for (const auto& [name, c] : (*r)["checks"].items()) {
          if (!c.value("ok", true)) merged["checks"][name] = c;
        }
      }
      for (const auto& [name, c] : merged["checks"].items()) {
        if (!c.value("ok", true)) report.checks.count_failure(name);
      }
    }
    merged["runs"] = groups[key].size();
    report.records.push_back(std::move(merged));
  }
  return report;
}

// ---- Peer figures -------------------------------------------------------------

namespace {

constexpr const char* kResultsMd = "RESULTS.md (not same run)";

PeerFigure ms(double median, double min, double max) {
  return PeerFigure{true, median * 1e-3, min * 1e-3, max * 1e-3, kResultsMd};
}
PeerFigure mib(double value) { return PeerFigure{true, value * 1024.0, value * 1024.0, value * 1024.0, kResultsMd}; }

// ../shared/bench/RESULTS.md, "Key table" and the W4 table (1 thread unless noted).
PeerFigure results_md_w1(const std::string& case_name, const std::string& mode, int threads) {
  if (case_name == "full_forward") return threads == 1 ? ms(48.9, 45.3, 70.6) : ms(47.6, 45.1, 56.3);
  if (mode == "direct") return threads == 1 ? ms(4.33, 3.64, 11.7) : ms(4.36, 3.61, 11.5);
  if (mode == "adjoint") return threads == 1 ? ms(44.7, 37.7, 72.1) : ms(42.2, 37.8, 77.2);
  return {};
}

PeerFigure results_md_w2(const std::string& mode, const std::string& dtype, int threads) {
  const bool f64 = dtype == "float64";
  PeerFigure p;
  if (threads == 1) {
    if (mode == "direct") p = f64 ? ms(166, 124, 277) : ms(81.6, 63.9, 150);
    if (mode == "adjoint") p = f64 ? ms(481, 363, 674) : ms(343, 219, 552);
  } else {
    // The best two-core configurations of RESULTS.md (torch's naive 2 + 2 threads is 2-9x slower).
    if (mode == "direct") p = f64 ? ms(111, 108, 173) : ms(59.1, 58.2, 79.7);
    if (mode == "adjoint") p = f64 ? ms(317, 313, 324) : ms(230, 222, 272);
    p.source += ", best 2-core pool configuration";
  }
  return p;
}

PeerFigure results_md_w4(const std::string& mode, int k, const std::string& quantity) {
  static const std::map<std::pair<std::string, int>, std::pair<double, double>> kTable = {
      {{"direct", 1}, {382, 119.2}}, {{"direct", 4}, {742, 479.2}}, {{"direct", 16}, {2179, 1915.8}},
      {{"adjoint", 1}, {266, 2.8}},  {{"adjoint", 4}, {276, 12.1}}, {{"adjoint", 16}, {313, 49.0}},
  };
  auto it = kTable.find({mode, k});
  if (it == kTable.end()) return {};
  return mib(quantity == "peak_rss_kb" ? it->second.first : it->second.second);
}

// Median of per-run medians (RESULTS.md's rule) and the overall min and max.
PeerFigure combine(const std::vector<const Json*>& hits, const char* field) {
  PeerFigure p;
  if (hits.empty()) return p;
  std::vector<double> medians;
  p.min = INFINITY;
  p.max = -INFINITY;
  for (const Json* h : hits) {
    const Json& v = (*h)[field];
    const double median = v.is_object() ? v["median"].get<double>() : v.get<double>();
    medians.push_back(median);
    p.min = std::min(p.min, v.is_object() ? v["min"].get<double>() : median);
    p.max = std::max(p.max, v.is_object() ? v["max"].get<double>() : median);
  }
  p.found = true;
  p.median = summarize(medians).median;
  p.source = "same run";
  return p;
}

// Cores a peer run used: torch's intra-op pool or OpenBLAS's, whichever is larger
// (run_workloads.sh runs W2 on two cores as torch 1 + OpenBLAS 2, RESULTS.md's best).
int pool_threads(const Json& r) {
  const Json& blas = r.contains("openblas_threads") ? r["openblas_threads"] : Json();
  return std::max(r.value("torch_threads", 0), blas.is_number() ? blas.get<int>() : 0);
}

}  // namespace

PeerTable::PeerTable(const std::string& folder) {
  if (folder.empty()) return;
  for (const char* name : {"w1.jsonl", "w2.jsonl", "w4.jsonl"}) {
    std::ifstream in(folder + "/" + name);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] != '{') continue;
      records_.push_back(Json::parse(line));
    }
  }
}

PeerFigure PeerTable::w1(const std::string& case_name, const std::string& mode, int threads) const {
  std::vector<const Json*> hits;
  for (const Json& r : records_) {
    if (r.value("workload", "") != "W1" || pool_threads(r) != threads) continue;
    if (case_name == "full_forward" && r.value("case", "") == "full_forward_nograd") hits.push_back(&r);
    if (case_name == "train_iter" && r.value("case", "") == "train_iter" && r.value("mode", "") == mode)
      hits.push_back(&r);
  }
  if (hits.empty()) return results_md_w1(case_name, mode, threads);
  return combine(hits, case_name == "full_forward" ? "solve_s" : "iter_s");
}

PeerFigure PeerTable::w2(const std::string& mode, const std::string& dtype, int threads) const {
  std::vector<const Json*> hits;
  for (const Json& r : records_) {
    if (r.value("workload", "") == "W2" && r.value("case", "") == "train_iter" && r.value("mode", "") == mode &&
        r.value("dtype", "") == dtype && pool_threads(r) == threads) {
      hits.push_back(&r);
    }
  }
  if (hits.empty()) return results_md_w2(mode, dtype, threads);
  return combine(hits, "iter_s");
}

PeerFigure PeerTable::w4(const std::string& mode, int k, const std::string& quantity) const {
  std::vector<const Json*> hits;
  for (const Json& r : records_) {
    if (r.value("workload", "") == "W4" && r.value("mode", "") == mode && r.value("K", 0) == k) hits.push_back(&r);
  }
  if (hits.empty()) return results_md_w4(mode, k, quantity);
  return combine(hits, quantity.c_str());
}

}  // namespace odeflow::bench
