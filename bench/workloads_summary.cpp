// The workload runner's human-readable summary: one Markdown table per
// workload with the ratios to torchdiffeq and a verdict per target.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

#include "workloads.hpp"

namespace odeflow::bench {
namespace {

// Three significant digits or so: "0.56", "10.7", "2214".
std::string format_time(double t) {
  if (t >= 100.0) return fmt::format("{:.0f}", t);
  if (t >= 10.0) return fmt::format("{:.1f}", t);
  return fmt::format("{:.2f}", t);
}

const Json* find(const Report& report, const std::function<bool(const Json&)>& match) {
  for (const Json& r : report.records) {
    if (match(r)) return &r;
  }
  return nullptr;
}

// "1.23 (1.20–1.40)" in milliseconds or microseconds.
std::string time_range(const Json& s, double scale) {
  return fmt::format("{} ({}–{})", format_time(s["median"].get<double>() * scale),
                     format_time(s["min"].get<double>() * scale), format_time(s["max"].get<double>() * scale));
}

std::string verdict(bool met) { return met ? "met" : "**missed**"; }

// Whether the run measured `workload` (beyond its check values).
bool has(const Report& report, const char* workload) {
  return find(report, [&](const Json& r) {
           return r.value("workload", "") == workload && r.value("case", "") != "check_values";
         }) != nullptr;
}

void print_w1(const Report& report) {
  std::printf("\n### W1 spiral-small (float64), µs per iteration / solve\n\n");
  std::printf(
      "| case | threads | odeflow µs median (min–max) | NFE fwd / bwd | torchdiffeq ms | speedup | target | |\n");
  std::printf("|---|---|---|---|---:|---:|---:|---|\n");
  for (const Json& r : report.records) {
    if (r.value("workload", "") != "W1" || !r.contains("speedup_vs_peer")) continue;
    const bool train = r["case"] == "train_iter";
    const Json& t = train ? r["iter_s"] : r["solve_s"];
    const std::string nfe = train ? fmt::format("{:.0f} / {:.0f}", r["nfe_fwd"]["median"].get<double>(),
                                                r["nfe_bwd"]["median"].get<double>())
                                  : fmt::format("{} / –", r["nfe"].get<std::int64_t>());
    const double speedup = r["speedup_vs_peer"].get<double>();
    const double target = r["target_speedup"].get<double>();
    std::printf("| %s | %d | %s | %s | %s | %.0f× | ≥ %.0f× | %s |\n",
                train ? fmt::format("train iter, {}", r["mode"].get<std::string>()).c_str()
                      : fmt::format("full forward, 1000 outputs ({})", r["path"].get<std::string>()).c_str(),
                r["threads"].get<int>(), time_range(t, 1e6).c_str(), nfe.c_str(),
                format_time(r["peer"]["median_s"].get<double>() * 1e3).c_str(), speedup, target,
                verdict(speedup >= target).c_str());
  }
}

void print_w2(const Report& report) {
  std::printf("\n### W2 mlp-batch (64-256-256-64, batch 512), ms per iteration\n\n");
  std::printf(
      "| dtype | mode | threads | odeflow ms median (min–max) | NFE fwd / bwd | GFLOP/s | of GEMM rate | "
      "torchdiffeq ms | speedup | ≥ 2× | ≥ 70 %% of GEMM |\n");
  std::printf("|---|---|---|---|---|---:|---:|---:|---:|---|---|\n");
  for (const Json& r : report.records) {
    if (r.value("workload", "") != "W2" || r.value("case", "") != "train_iter") continue;
    const double speedup = r["speedup_vs_peer"].get<double>();
    const double fraction = r["gemm_fraction"].get<double>();
    std::printf("| %s | %s | %d | %s | %.0f / %.0f | %.1f | %.0f %% | %s | %.2f× | %s | %s |\n",
                r["dtype"].get<std::string>().c_str(), r["mode"].get<std::string>().c_str(), r["threads"].get<int>(),
                time_range(r["iter_s"], 1e3).c_str(), r["nfe_fwd"]["median"].get<double>(),
                r["nfe_bwd"]["median"].get<double>(), r["achieved_gflops"].get<double>(), 100.0 * fraction,
                format_time(r["peer"]["median_s"].get<double>() * 1e3).c_str(), speedup,
                verdict(speedup >= 2.0).c_str(), verdict(fraction >= 0.7).c_str());
  }
  std::printf("\n| GEMM Y(512×N) = X(512×K)·Wᵀ, Eigen, same run | dtype | threads | GFLOP/s median (worst–best) |\n");
  std::printf("|---|---|---|---|\n");
  for (const Json& r : report.records) {
    if (r.value("workload", "") != "W2" || r.value("case", "") != "gemm") continue;
    std::printf("| %d×%d×%d | %s | %d | %.1f (%.1f–%.1f) |\n", r["M"].get<int>(), r["N"].get<int>(), r["K"].get<int>(),
                r["dtype"].get<std::string>().c_str(), r["threads"].get<int>(), r["gflops"]["median"].get<double>(),
                r["gflops"]["worst"].get<double>(), r["gflops"]["best"].get<double>());
  }
}

// "checkpoint, every 100" or "checkpoint, default" for checkpoint cases.
std::string mode_label(const Json& r) {
  const std::string mode = r["mode"].get<std::string>();
  if (mode != "checkpoint") return mode;
  const int every = r["checkpoint_every"].get<int>();
  return every > 0 ? fmt::format("checkpoint, every {}", every) : "checkpoint, default";
}

void print_w4(const Report& report) {
  std::printf("\n### W4 memory (rk4 step 0.01 on [0, 25K], float64, 1 thread), fresh process per case\n\n");
  std::printf(
      "| K | mode | steps | checkpoints | peak RSS MiB | peak − pre-solve RSS MiB | tape peak KiB | stored KiB | "
      "segment KiB | fwd s | bwd s | torchdiffeq peak / growth MiB |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
  for (const Json& r : report.records) {
    if (r.value("workload", "") != "W4") continue;
    std::string peer = "–";
    if (r.contains("peer")) {
      peer = fmt::format("{:.0f} / {:.1f}", r["peer"]["peak_rss_kb"]["value_kb"].get<double>() / 1024.0,
                         r["peer"]["peak_minus_baseline_kb"]["value_kb"].get<double>() / 1024.0);
    }
    std::printf("| %d | %s | %lld | %lld | %.1f | %.2f | %.0f | %.0f | %.0f | %.3f | %.3f | %s |\n", r["K"].get<int>(),
                mode_label(r).c_str(), static_cast<long long>(r["acc_steps_fwd"].get<std::int64_t>()),
                static_cast<long long>(r["checkpoints"].get<std::int64_t>()), r["peak_rss_kb"].get<double>() / 1024.0,
                r["peak_minus_baseline_kb"].get<double>() / 1024.0, r["tape_peak_bytes"].get<double>() / 1024.0,
                r["stored_bytes"].get<double>() / 1024.0, r.value("segment_bytes", 0.0) / 1024.0,
                r["fwd_s"].get<double>(), r["bwd_s"].get<double>(), peer.c_str());
  }
  auto at = [&](const std::string& label, int k) {
    return find(report, [&](const Json& r) {
      return r.value("workload", "") == "W4" && mode_label(r) == label && r["K"].get<int>() == k;
    });
  };
  std::vector<int> ks;
  std::vector<std::string> labels;
  for (const Json& r : report.records) {
    if (r.value("workload", "") != "W4") continue;
    ks.push_back(r["K"].get<int>());
    if (std::find(labels.begin(), labels.end(), mode_label(r)) == labels.end()) labels.push_back(mode_label(r));
  }
  if (ks.empty()) return;
  const int k_lo = *std::min_element(ks.begin(), ks.end());
  const int k_hi = *std::max_element(ks.begin(), ks.end());
  if (k_lo == k_hi) return;
  std::printf("\nK=%d → K=%d (steps ×%d):\n\n", k_lo, k_hi, k_hi / k_lo);
  for (const std::string& label : labels) {
    const Json* lo = at(label, k_lo);
    const Json* hi = at(label, k_hi);
    if (lo == nullptr || hi == nullptr) continue;
    auto ratio = [&](const char* field) {
      return hi->at(field).get<double>() / std::max(1.0, lo->at(field).get<double>());
    };
    std::string target;
    if (label == "adjoint") {
      target = fmt::format("target peak RSS ≤ ×1.10: {}", verdict(ratio("peak_rss_kb") <= 1.10));
    } else if (label.starts_with("checkpoint")) {
      const double count = ratio("checkpoints");
      target = fmt::format("target ≤ checkpoints ×{:.2f}: {}", count,
                           verdict(std::max(ratio("stored_bytes"), ratio("peak_minus_baseline_kb")) <= count));
    }
    std::printf("- %s: peak RSS ×%.3f, peak − pre-solve RSS ×%.2f, tape peak ×%.2f, stored bytes ×%.2f. %s\n",
                label.c_str(), ratio("peak_rss_kb"), ratio("peak_minus_baseline_kb"), ratio("tape_peak_bytes"),
                ratio("stored_bytes"), target.c_str());
  }
}

}  // namespace

void print_summary(const Report& report, const PeerTable& peer) {
  std::printf("\n## Summary (peer figures: %s)\n", peer.same_run() ? "measured in this run where available"
                                                                   : "../shared/bench/RESULTS.md, not the same run");
  if (has(report, "W1")) print_w1(report);
  if (has(report, "W2")) print_w2(report);
  if (has(report, "W4")) print_w4(report);
  // Where each torchdiffeq figure comes from.
  std::vector<std::string> sources;
  for (const Json& r : report.records) {
    const Json* src = nullptr;
    if (r.contains("peer") && r["peer"].contains("source")) src = &r["peer"]["source"];
    if (src && std::find(sources.begin(), sources.end(), src->get<std::string>()) == sources.end())
      sources.push_back(src->get<std::string>());
  }
  for (const std::string& s : sources) std::printf("\ntorchdiffeq figures: %s", s.c_str());
  if (!sources.empty()) std::printf("\n");
  if (report.checks.mismatches() > 0) {
    std::printf("\n*** %d CHECK VALUE MISMATCH(ES): see the messages on stderr and \"checks\" in the JSON ***\n",
                report.checks.mismatches());
  } else {
    std::printf("\nAll check values matched (WORKLOADS.md and torchdiffeq's figures).\n");
  }
}

}  // namespace odeflow::bench
