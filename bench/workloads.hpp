// Shared by the workload runner (odeflow_workloads): timing summaries, check
// values, process memory, the peer (torchdiffeq) figures and the records the
// runner prints. See workloads.cpp for what the program does.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <nlohmann/json.hpp>
#include <odeflow/core/types.hpp>
#include <odeflow/sensitivity/odeint.hpp>
#include <string>
#include <vector>

namespace odeflow::bench {

using Json = nlohmann::json;

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU time of the calling thread: on a shared machine a timed iteration that
// is preempted grows in wall time but not here, so the runner reports both.
inline double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Median, min and max of timed repetitions (seconds), as the peer scripts' stats().
struct Summary {
  double median = 0.0;
  double min = 0.0;
  double max = 0.0;
  int n = 0;
};
Summary summarize(std::vector<double> samples);
Json to_json(const Summary& s);

// Per-iteration figures of a training workload (W1, W2): times in seconds,
// forward/backward NFE and steps, summarized like the peer's JSON.
struct IterationLog {
  std::vector<double> iter_s, iter_cpu_s, fwd_s, bwd_s;
  std::vector<double> nfe_fwd, nfe_bwd, acc_fwd, rej_fwd, acc_bwd, rej_bwd, recomputed_nfe, stored_bytes;
  // Into `record`: iter_s, iter_cpu_s, (fwd_s, bwd_s,) nfe_fwd, ... as {median, min, max, n}.
  void write(Json& record) const;
  // One timed iteration (odeint + loss + backward: wall and thread CPU
  // seconds) and its solver statistics.
  void add(const Stats& forward, const BackwardStats& backward, double seconds, double cpu_seconds) {
    iter_s.push_back(seconds);
    iter_cpu_s.push_back(cpu_seconds);
    nfe_fwd.push_back(static_cast<double>(forward.nfe));
    acc_fwd.push_back(static_cast<double>(forward.accepted));
    rej_fwd.push_back(static_cast<double>(forward.rejected));
    nfe_bwd.push_back(static_cast<double>(backward.nfe));
    acc_bwd.push_back(static_cast<double>(backward.accepted));
    rej_bwd.push_back(static_cast<double>(backward.rejected));
    recomputed_nfe.push_back(static_cast<double>(backward.recomputed_nfe));
    stored_bytes.push_back(static_cast<double>(backward.stored_bytes));
  }
  // Its split: odeint + loss, and backward (where the caller times them apart).
  void add_split(double forward_s, double backward_s) {
    fwd_s.push_back(forward_s);
    bwd_s.push_back(backward_s);
  }
};

// "direct", "adjoint", "checkpoint" -> Gradient; throws std::invalid_argument otherwise.
Gradient parse_gradient(const std::string& mode);

// A /proc/self/status field in KiB ("VmRSS", "VmHWM"); -1 when absent.
std::int64_t proc_status_kib(const char* key);

// Whether this build's Eigen can use more than one thread (OpenMP).
bool has_openmp();

// Sets Eigen's thread count; returns the count Eigen reports afterwards.
int set_threads(int n);

// Counts mismatches of the workload check values (WORKLOADS.md) and prints
// each one loudly to stderr; a summary at the end repeats the count.
class Checks {
 public:
  // |got - expected| <= rel_tol * |expected|; records {got, expected, rel_err, ok} under `name`.
  bool expect(Json& record, const std::string& name, double got, double expected, double rel_tol);
  // Equality of counts (NFE, steps).
  bool expect_count(Json& record, const std::string& name, std::int64_t got, std::int64_t expected);
  int mismatches() const { return mismatches_; }
  // A mismatch found elsewhere (merged runs): counted and printed.
  void count_failure(const std::string& name);

 private:
  int mismatches_ = 0;
};

// torchdiffeq's figures for one configuration, in seconds (W1, W2) or KiB (W4).
struct PeerFigure {
  bool found = false;
  double median = 0.0;
  double min = 0.0;
  double max = 0.0;
  std::string source;  // "same run" or "RESULTS.md (not same run)"
};

// Where the peer figures come from: JSONL files written by the shared peer
// scripts in this run (w1.jsonl, w2.jsonl, w4.jsonl in one folder), or else
// the figures of ../shared/bench/RESULTS.md built into the program.
class PeerTable {
 public:
  // Empty folder: RESULTS.md's figures only.
  explicit PeerTable(const std::string& folder);
  // W1: case "train_iter" (mode direct/adjoint) or "full_forward".
  PeerFigure w1(const std::string& case_name, const std::string& mode, int threads) const;
  // W2 train_iter (mode, dtype "float32"/"float64").
  PeerFigure w2(const std::string& mode, const std::string& dtype, int threads) const;
  // W4: quantity "peak_rss_kb" or "peak_minus_baseline_kb" (direct or adjoint).
  PeerFigure w4(const std::string& mode, int k, const std::string& quantity) const;
  bool same_run() const { return !records_.empty(); }

 private:
  std::vector<Json> records_;
};

// The runner's settings (command-line options).
struct Config {
  std::vector<std::string> workloads = {"w1", "w2", "w4"};
  std::vector<int> threads = {1, 2};
  int w1_warmup = 5;
  int w1_iters = 100;
  int w1_full_reps = 100;
  std::vector<std::string> w1_cases = {"direct", "adjoint", "forward"};
  int w2_warmup = 3;
  int w2_iters = 20;
  std::vector<std::string> w2_dtypes = {"float32", "float64"};
  std::vector<std::string> w2_modes = {"direct", "adjoint"};
  int gemm_reps = 200;
  std::vector<int> w4_ks = {1, 4, 16};
  std::vector<std::string> w4_modes = {"direct", "adjoint", "checkpoint"};
  // checkpoint mode, one case per value: 0 = the default (at most
  // GradientOptions::checkpoints = 16 kept, 8 to 16), N > 0 = every N-th step
  // (checkpoints grow with the steps).
  std::vector<int> w4_checkpoint_every = {0, 100};
  std::string peer_folder;
  std::string json_path;
};

// Every record the workloads print, kept for the summary table.
struct Report {
  std::vector<Json> records;
  Checks checks;
  void emit(const Json& record, const std::string& json_path);
};

void run_w1(const Config& config, const PeerTable& peer, Report& report);
void run_w2(const Config& config, const PeerTable& peer, Report& report);
void run_w4(const Config& config, const PeerTable& peer, Report& report);
// The child process of one W4 case: prints one JSON line.
int run_w4_case(const std::string& mode, int k, int checkpoint_every);

// The human-readable tables and the target verdicts.
void print_summary(const Report& report, const PeerTable& peer);

// Several runs' JSON lines (--json files) merged per configuration: timing
// summaries as the median of the run medians with the overall min and max
// (RESULTS.md's rule), other numbers as their median over the runs; the
// ratios to torchdiffeq recomputed from the merged medians.
Report merge_runs(const std::vector<std::string>& json_paths);

}  // namespace odeflow::bench
