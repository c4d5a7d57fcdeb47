// odeflow_workloads: the peer workloads W1, W2 and W4 of
// ../shared/bench/WORKLOADS.md on odeflow, with torchdiffeq's figures beside
// them (see docs/benchmarks.md, "Workloads", and run_workloads.sh).
//
//   W1  spiral-small: training iterations (odeint + loss + backward, direct
//       and adjoint; 5 warm-up + 100 timed) and the 1000-point forward solve.
//   W2  mlp-batch: 64-256-256-64 MLP, batch 512, direct and adjoint, float32
//       and float64 (3 warm-up + 20 timed), and Eigen's GEMM rate on the same
//       three layer shapes measured in the same run.
//   W4  memory: rk4 (step 0.01) on [0, 25K], K in {1, 4, 16}, direct, adjoint
//       and checkpoint, each case in a fresh process (this program re-executed
//       with --w4-case MODE K).
//
// Output: one JSON object per line and configuration (nlohmann-json; the
// fields follow the peer scripts' JSONL: iter_s {median, min, max, n},
// nfe_fwd, nfe_bwd, peak_rss_kb, dtype, threads, ...), then Markdown tables
// with the ratios to torchdiffeq and a verdict per target. Every check value
// of WORKLOADS.md is compared; a mismatch is printed loudly on stderr and the
// program exits with status 2 after the summary. --summarize a.jsonl,b.jsonl
// prints the summary of earlier runs merged per configuration (run_workloads.sh).
//
// Threads: Eigen::setNbThreads(n) for each n of --threads. Without OpenMP
// Eigen runs on one thread whatever is asked, so the runner then measures one
// thread only and says so.
#include "workloads.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <Eigen/Core>
#include <algorithm>
#include <cstdio>
#include <exception>

namespace {

using odeflow::bench::Json;

Json environment(const odeflow::bench::Config& config, const std::vector<int>& requested_threads) {
  Json env{{"workload", "env"},
           {"eigen", fmt::format("{}.{}.{}", EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION)},
           {"compiler", __VERSION__},
           {"simd", Eigen::SimdInstructionSetsInUse()},
           {"openmp", odeflow::bench::has_openmp()},
           {"threads_requested", requested_threads},
           {"threads_measured", config.threads},
           {"peer", config.peer_folder.empty() ? "RESULTS.md" : config.peer_folder}};
  if (!odeflow::bench::has_openmp()) {
    env["note"] = "this build has no OpenMP: Eigen runs on one thread, so only threads = 1 is measured";
  }
  return env;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace odeflow::bench;
  Config config;
  CLI::App app{"odeflow_workloads: W1, W2 and W4 of ../shared/bench/WORKLOADS.md against torchdiffeq"};
  app.add_option("--workloads", config.workloads, "which of w1, w2, w4 to run")->delimiter(',');
  app.add_option("--threads", config.threads, "Eigen thread counts (comma-separated)")->delimiter(',');
  app.add_option("--w1-warmup", config.w1_warmup);
  app.add_option("--w1-iters", config.w1_iters);
  app.add_option("--w1-full-reps", config.w1_full_reps, "timed repetitions of the 1000-point forward solve");
  app.add_option("--w1-cases", config.w1_cases, "direct,adjoint (training iterations), forward (1000-point solve)")
      ->delimiter(',');
  app.add_option("--w2-warmup", config.w2_warmup);
  app.add_option("--w2-iters", config.w2_iters);
  app.add_option("--w2-dtypes", config.w2_dtypes, "float32,float64")->delimiter(',');
  app.add_option("--w2-modes", config.w2_modes, "direct,adjoint")->delimiter(',');
  app.add_option("--gemm-reps", config.gemm_reps, "timed calls per GEMM shape");
  app.add_option("--w4-ks", config.w4_ks, "K values (T = 25K)")->delimiter(',');
  app.add_option("--w4-modes", config.w4_modes, "direct,adjoint,checkpoint")->delimiter(',');
  app.add_option("--w4-checkpoint-every", config.w4_checkpoint_every,
                 "checkpoint mode: one case per value, every N-th step (0: the default, 8-16 checkpoints)")
      ->delimiter(',');
  app.add_option("--peer", config.peer_folder,
                 "folder with the peer scripts' w1/w2/w4.jsonl from this run (default: RESULTS.md's figures)");
  app.add_option("--json", config.json_path, "also append the JSON lines to this file");
  std::vector<std::string> w4_case;
  app.add_option("--w4-case", w4_case, "internal: run one W4 case (MODE K) and print its JSON line")->expected(2);
  std::vector<std::string> summarize;
  app.add_option("--summarize", summarize,
                 "print the summary of earlier runs' --json files, merged per configuration (runs nothing)")
      ->delimiter(',');
  CLI11_PARSE(app, argc, argv);

  try {
    if (!w4_case.empty()) {
      return run_w4_case(w4_case[0], std::stoi(w4_case[1]),
                         config.w4_checkpoint_every.empty() ? 0 : config.w4_checkpoint_every.front());
    }

    if (!summarize.empty()) {
      const Report merged = merge_runs(summarize);
      print_summary(merged, PeerTable(config.peer_folder));
      return merged.checks.mismatches() > 0 ? 2 : 0;
    }

    const std::vector<int> requested = config.threads;
    if (!has_openmp()) {
      config.threads.erase(std::remove_if(config.threads.begin(), config.threads.end(), [](int n) { return n != 1; }),
                           config.threads.end());
      if (config.threads.empty()) config.threads = {1};
      std::fprintf(stderr,
                   "odeflow_workloads: this build has no OpenMP (Eigen runs on one thread); measuring threads = 1 "
                   "only (asked for %s)\n",
                   fmt::format("{}", fmt::join(requested, ",")).c_str());
    }
    const PeerTable peer(config.peer_folder);
    Report report;
    report.emit(environment(config, requested), config.json_path);
    for (const std::string& w : config.workloads) {
      if (w == "w1")
        run_w1(config, peer, report);
      else if (w == "w2")
        run_w2(config, peer, report);
      else if (w == "w4")
        run_w4(config, peer, report);
      else
        throw std::invalid_argument(fmt::format("unknown workload '{}' (w1, w2 or w4)", w));
    }
    print_summary(report, peer);
    return report.checks.mismatches() > 0 ? 2 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "odeflow_workloads: %s\n", e.what());
    return 1;
  }
}
