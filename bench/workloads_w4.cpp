// W4 memory (../shared/bench/WORKLOADS.md §6): W1's model and weights,
// y0 = [2, 0], rk4 (Kutta's 3/8 rule, torchdiffeq's "rk4") with step 0.01 on
// [0, 25K], loss Σ y(T)², one backward; direct, adjoint and checkpoint. Each
// case runs in a fresh process (this program re-executed with --w4-case) so
// that its peak RSS is its own.
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <odeflow/ad/ops.hpp>
#include <odeflow/ad/tape.hpp>
#include <odeflow/models/spiral.hpp>
#include <odeflow/sensitivity/odeint.hpp>
#include <span>
#include <stdexcept>

#include "workloads.hpp"

namespace odeflow::bench {
namespace {

// torchdiffeq's loss and |grad| (results/w4.jsonl, direct; its adjoint agrees to 1e-11).
const std::map<int, std::array<double, 2>> kPeerLossGrad = {
    {1, {455.9835031324058, 23673.05862261441}},
    {4, {16969.17442428641, 237442.9131884663}},
    {16, {320261.1916565937, 3330841.8469618508}},
};

std::string self_exe() {
  std::array<char, 4096> buf{};
  const ssize_t n = readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) throw std::runtime_error("cannot read /proc/self/exe to re-execute the W4 cases");
  return std::string(buf.data(), static_cast<std::size_t>(n));
}

// Runs one case in a child process and returns the JSON line it printed.
Json run_child(const std::string& mode, int k, int checkpoint_every) {
  const std::string cmd =
      fmt::format("'{}' --w4-case {} {} --w4-checkpoint-every {}", self_exe(), mode, k, checkpoint_every);
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error(fmt::format("cannot start '{}'", cmd));
  std::string out;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), pipe) != nullptr) out += buf.data();
  const int status = pclose(pipe);
  const std::size_t brace = out.rfind("\n{", out.size() >= 2 ? out.size() - 2 : 0);
  const std::string line = out.substr(brace == std::string::npos ? 0 : brace + 1);
  if (status != 0 || line.empty() || line[0] != '{') {
    throw std::runtime_error(fmt::format("W4 case {} K={} failed (status {}): {}", mode, k, status, out));
  }
  return Json::parse(line);
}

}  // namespace

int run_w4_case(const std::string& mode, int k, int checkpoint_every) {
  set_threads(1);
  models::SpiralOdeFunc<double> func(1);
  ad::Tape<double> tape;
  Options options;
  options.method = "rk4";
  options.step_size = 0.01;
  GradientOptions gradient;
  gradient.gradient = parse_gradient(mode);
  gradient.checkpoint_every = checkpoint_every;
  Matrix<double> y0m(2, 1);
  y0m << 2.0, 0.0;
  const double t_end = 25.0 * k;

  // A short solve first, so that one-off allocations are in the baseline (as the peer's).
  {
    tape.reset();
    ad::GradScope<double> scope(tape);
    const std::array<Time, 2> ts = {0.0, 0.1};
    const Trajectory<double> traj = odeint(func, tape.view(y0m), std::span<const Time>(ts), options, gradient);
    ad::sum(ad::square(traj[1])).backward();
  }
  func.zero_grad();
  tape.reset();
  tape.reset_peak();
  const std::int64_t rss0 = proc_status_kib("VmRSS");
  const std::int64_t hwm0 = proc_status_kib("VmHWM");

  ad::GradScope<double> scope(tape);
  const std::array<Time, 2> ts = {0.0, t_end};
  const double t0 = now_s();
  const Trajectory<double> traj = odeint(func, tape.view(y0m), std::span<const Time>(ts), options, gradient);
  const ad::Tensor<double> y_end = traj[1];
  const ad::Tensor<double> loss = ad::sum(ad::square(y_end));
  const double t1 = now_s();
  const std::int64_t rss_fwd = proc_status_kib("VmRSS");
  const std::size_t tape_fwd = tape.bytes_in_use();
  loss.backward();
  const double t2 = now_s();
  const std::int64_t hwm1 = proc_status_kib("VmHWM");
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);

  const BackwardStats& b = traj.backward_stats();
  Json r{{"workload", "W4"},
         {"mode", mode},
         {"K", k},
         {"T", t_end},
         {"threads", 1},
         {"dtype", "float64"},
         {"nfe_fwd", traj.stats().nfe},
         {"acc_steps_fwd", traj.stats().accepted},
         {"nfe_bwd", b.nfe},
         {"acc_steps_bwd", b.accepted},
         {"rej_steps_bwd", b.rejected},
         {"recomputed_nfe", b.recomputed_nfe},
         {"stored_bytes", b.stored_bytes},
         {"segment_bytes", b.segment_bytes},
         {"checkpoint_every", checkpoint_every},
         {"checkpoints", b.checkpoints},
         {"fwd_s", t1 - t0},
         {"bwd_s", t2 - t1},
         {"rss_before_kb", rss0},
         {"hwm_before_kb", hwm0},
         {"rss_after_fwd_kb", rss_fwd},
         {"peak_rss_kb", hwm1},
         {"ru_maxrss_kb", usage.ru_maxrss},
         {"peak_minus_baseline_kb", hwm1 - rss0},
         {"tape_bytes_after_fwd", tape_fwd},
         {"tape_peak_bytes", tape.peak_bytes()},
         {"loss", loss.item()},
         {"grad_norm", func.flat_gradients().norm()},
         {"y_T", {y_end.value()(0), y_end.value()(1)}}};
  std::printf("%s\n", r.dump().c_str());
  return 0;
}

namespace {

// Runs one case in a fresh process, checks it against torchdiffeq's figures
// and emits it.
void run_case(const std::string& mode, int k, int every, const Config& config, const PeerTable& peer, Report& report) {
  Json r = run_child(mode, k, every);
  Checks& c = report.checks;
  c.expect_count(r, "nfe_fwd", r["nfe_fwd"].get<std::int64_t>(), 10000LL * k);
  if (auto it = kPeerLossGrad.find(k); it != kPeerLossGrad.end()) {
    c.expect(r, "loss", r["loss"].get<double>(), it->second[0], 1e-10);
    // Fixed steps: direct and checkpoint are the discrete gradient, the adjoint
    // is within rk4's error of it; torchdiffeq's direct and adjoint agree to 1e-13.
    c.expect(r, "grad_norm vs torchdiffeq", r["grad_norm"].get<double>(), it->second[1], 1e-6);
  }
  for (const char* q : {"peak_rss_kb", "peak_minus_baseline_kb"}) {
    const PeerFigure p = peer.w4(mode, k, q);
    if (p.found) r["peer"][q] = Json{{"value_kb", p.median}, {"source", p.source}};
  }
  report.emit(r, config.json_path);
}

}  // namespace

void run_w4(const Config& config, const PeerTable& peer, Report& report) {
  for (int k : config.w4_ks) {
    for (const std::string& mode : config.w4_modes) {
      for (int every : mode == "checkpoint" ? config.w4_checkpoint_every : std::vector<int>{0}) {
        run_case(mode, k, every, config, peer, report);
      }
    }
  }
}

}  // namespace odeflow::bench
