// W2 mlp-batch (../shared/bench/WORKLOADS.md §4): a 64-256-256-64 tanh MLP
// on a batch of 512, t in [0, 1], dopri5 at rtol 1e-3 / atol 1e-4, loss
// Σ y(1)², direct and adjoint, float32 and float64. Beside it, in the same
// run, the GEMM rate Eigen reaches on the three layer shapes
// (Y(512×N) = X(512×K)·W(N×K)ᵀ row-major, as the shared roofline program),
// and the fraction of that rate a training iteration achieves.
#include <fmt/format.h>

#include <Eigen/Core>
#include <array>
#include <odeflow/ad/ops.hpp>
#include <odeflow/ad/tape.hpp>
#include <odeflow/core/random.hpp>
#include <odeflow/nn/mlp.hpp>
#include <odeflow/sensitivity/odeint.hpp>
#include <span>
#include <type_traits>

#include "workloads.hpp"

namespace odeflow::bench {
namespace {

constexpr int kBatch = 512;
constexpr int kDim = 64;
// (N, K) of L1, L2, L3 as nn.Linear(K, N).
constexpr std::array<std::array<int, 2>, 3> kShapes = {{{256, 64}, {256, 256}, {64, 256}}};
// GEMM FLOPs of one f evaluation: 2·512·(64·256 + 256·256 + 256·64) = 100.7 MFLOP.
constexpr double kFlopsPerEval = 2.0 * kBatch * (64 * 256 + 256 * 256 + 256 * 64);

// Seconds for one f evaluation's three GEMMs at the rate Eigen reaches (sum of per-shape medians).
template <Scalar S>
double measure_gemm(int threads, const Config& config, Report& report) {
  using RowMajor = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const char* dtype = std::is_same_v<S, float> ? "float32" : "float64";
  double per_eval = 0.0;
  for (const auto& [n, k] : kShapes) {
    const RowMajor x = RowMajor::Random(kBatch, k);
    const RowMajor w = RowMajor::Random(n, k);
    RowMajor y(kBatch, n);
    std::vector<double> times;
    for (int r = 0; r < 10 + config.gemm_reps; ++r) {
      const double t0 = now_s();
      y.noalias() = x * w.transpose();
      const double t1 = now_s();
      if (r >= 10) times.push_back(t1 - t0);
    }
    const Summary s = summarize(times);
    const double flops = 2.0 * kBatch * n * k;
    per_eval += s.median;
    Json record{
        {"workload", "W2"},
        {"case", "gemm"},
        {"dtype", dtype},
        {"threads", threads},
        {"M", kBatch},
        {"N", n},
        {"K", k},
        {"time_s", to_json(s)},
        {"gflops",
         Json{{"median", flops / s.median * 1e-9}, {"best", flops / s.min * 1e-9}, {"worst", flops / s.max * 1e-9}}},
        {"checksum", static_cast<double>(y.sum())}};
    report.emit(record, config.json_path);
  }
  return per_eval;
}

// WORKLOADS.md §4: U(±1/√in) draws from SplitMix64(3) (make_mlp's PyTorch
// default, layer by layer, weight then bias), rounded to float32 as the peer's.
template <Scalar S>
std::unique_ptr<nn::Sequential<S>> make_network() {
  SplitMix64 rng(3);
  auto net = nn::make_mlp<S>(nn::MlpSpec{.sizes = {kDim, 256, 256, kDim}}, rng);
  for (ad::Parameter<S>* p : net->parameters()) p->value = p->value.template cast<float>().template cast<S>();
  return net;
}

// y0 (512 x 64 row-major = our 64 x 512) from SplitMix64(4), rounded to S.
template <Scalar S>
Matrix<S> make_y0() {
  SplitMix64 rng(4);
  Matrix<S> y0(kDim, kBatch);
  for (Eigen::Index i = 0; i < y0.size(); ++i) y0.data()[i] = static_cast<S>(rng.normal());
  return y0;
}

// One f(y) and one f(y) + VJP on the batch, to separate the network's cost from the solver's.
template <Scalar S>
void time_single_eval(nn::Sequential<S>& net, const Matrix<S>& y0, Json& record) {
  ad::Tape<S> tape;
  const Matrix<S> ones = Matrix<S>::Ones(kDim, kBatch);
  std::vector<double> f_times, vjp_times;
  for (int r = 0; r < 35; ++r) {
    const double t0 = now_s();
    {
      tape.reset();
      ad::NoGradScope<S> no_grad(tape);
      (void)net.forward(tape.view(y0));
    }
    const double t1 = now_s();
    {
      tape.reset();
      ad::GradScope<S> grad(tape);
      const ad::Tensor<S> y = tape.variable(y0);
      const ad::Tensor<S> out = net.forward(y);
      tape.backward(out, tape.view(ones));
    }
    const double t2 = now_s();
    if (r >= 5) {
      f_times.push_back(t1 - t0);
      vjp_times.push_back(t2 - t1);
    }
  }
  net.zero_grad();
  record["f_eval_s"] = to_json(summarize(f_times));
  record["f_eval_plus_vjp_s"] = to_json(summarize(vjp_times));
}

template <Scalar S>
void run_dtype(int threads, const Config& config, const PeerTable& peer, Report& report) {
  const std::string dtype = std::is_same_v<S, float> ? "float32" : "float64";
  const double gemm_per_eval = measure_gemm<S>(threads, config, report);
  auto net = make_network<S>();
  const Matrix<S> y0m = make_y0<S>();
  {
    Json r{{"workload", "W2"}, {"case", "check_values"}, {"dtype", dtype}};
    report.checks.expect(r, "y0[0,0]", y0m(0, 0), static_cast<S>(0.8289821350136992), 0.0);
    report.checks.expect(r, "y0[0,1]", y0m(1, 0), static_cast<S>(-1.9771677307257216), 0.0);
    report.checks.expect(r, "L1.weight[0,0] (float32-rounded)", net->parameters()[0]->value.data()[0],
                         static_cast<float>(-0.09663741448571136), 0.0);
    time_single_eval(*net, y0m, r);
    r["threads"] = threads;
    report.emit(r, config.json_path);
  }
  Options options;
  options.rtol = 1e-3;
  options.atol = 1e-4;
  const std::array<Time, 2> ts = {0.0, 1.0};
  ad::Tape<S> tape;
  for (const std::string& mode : config.w2_modes) {
    GradientOptions gradient;
    gradient.gradient = parse_gradient(mode);
    IterationLog log;
    Json record{{"workload", "W2"}, {"case", "train_iter"}, {"mode", mode}, {"dtype", dtype}, {"threads", threads}};
    for (int it = 0; it < config.w2_warmup + config.w2_iters; ++it) {
      net->zero_grad();
      const double c0 = thread_cpu_s();
      const double t0 = now_s();
      tape.reset();
      ad::GradScope<S> scope(tape);
      const Trajectory<S> traj = odeint(*net, tape.view(y0m), std::span<const Time>(ts), options, gradient);
      const ad::Tensor<S> loss = ad::sum(ad::square(traj[1]));
      const double t1 = now_s();
      loss.backward();
      const double t2 = now_s();
      const double c2 = thread_cpu_s();
      if (it == 0) {
        // results/w2.jsonl: torchdiffeq's loss and gradient norms.
        const bool f64 = std::is_same_v<S, double>;
        report.checks.expect(record, "loss", loss.item(), f64 ? 33954.63332432678 : 33954.6328125, f64 ? 1e-10 : 1e-6);
        const double norm = net->flat_gradients().template cast<double>().norm();
        record["grad_norm"] = norm;
        const double peer_norm = mode == "adjoint" ? (f64 ? 6775.47237859517 : 6775.473566517745)
                                                   : (f64 ? 6775.4723919584285 : 6775.472404731937);
        report.checks.expect(record, "grad_norm vs torchdiffeq", norm, peer_norm, f64 ? 1e-6 : 1e-5);
      }
      if (it >= config.w2_warmup) {
        log.add(traj.stats(), traj.backward_stats(), t2 - t0, c2 - c0);
        log.add_split(t1 - t0, t2 - t1);
      }
    }
    log.write(record);
    record["peak_rss_kb"] = proc_status_kib("VmHWM");
    // GEMM work counted as RESULTS.md: direct 3·NFE_fwd evaluations' worth
    // (forward + two backward products per layer), adjoint NFE_fwd + 3·NFE_bwd.
    const double nfe_f = record["nfe_fwd"]["median"].get<double>();
    const double nfe_b = record["nfe_bwd"]["median"].get<double>();
    const double evals = mode == "adjoint" ? nfe_f + 3.0 * nfe_b : 3.0 * nfe_f;
    const double median = record["iter_s"]["median"].get<double>();
    record["gemm_flops"] = evals * kFlopsPerEval;
    record["achieved_gflops"] = evals * kFlopsPerEval / median * 1e-9;
    record["gemm_time_per_eval_s"] = gemm_per_eval;
    record["gemm_fraction"] = evals * gemm_per_eval / median;
    record["gemm_fraction_cpu"] = evals * gemm_per_eval / record["iter_cpu_s"]["median"].get<double>();
    const PeerFigure p = peer.w2(mode, dtype, threads);
    record["peer"] = Json{{"median_s", p.median}, {"min_s", p.min}, {"max_s", p.max}, {"source", p.source}};
    record["speedup_vs_peer"] = p.found ? p.median / median : 0.0;
    record["speedup_vs_peer_cpu"] = p.found ? p.median / record["iter_cpu_s"]["median"].get<double>() : 0.0;
    record["target_speedup"] = 2.0;
    record["target_gemm_fraction"] = 0.7;
    report.emit(record, config.json_path);
  }
}

}  // namespace

void run_w2(const Config& config, const PeerTable& peer, Report& report) {
  for (int threads : config.threads) {
    set_threads(threads);
    for (const std::string& dtype : config.w2_dtypes) {
      if (dtype == "float32") run_dtype<float>(threads, config, peer, report);
      if (dtype == "float64") run_dtype<double>(threads, config, peer, report);
    }
  }
  set_threads(1);
}

}  // namespace odeflow::bench
