// Autodiff benchmarks: what the tape costs over hand-written Eigen.
//
// op/<op>/<recorded|plain>: one op on tiny tensors (4x1), so that the time is
//   the engine's per-op overhead. "recorded": inside a GradScope with a
//   variable input, node included; "plain": recording off. The tape is reset
//   every kOpsPerReset ops, that reset (and re-creating the input) amortized
//   into the figure. linear4 is nn::Linear(4, 4) (parameter leaves included).
// mlp/<sizes>/batch:<n>/<scalar>/<odeflow|eigen>: forward + backward of a tanh
//   MLP (no final activation) for loss = sum(y * g) with g fixed, gradients
//   of every weight and bias. odeflow: make_mlp + tape (reset, GradScope,
//   forward, backward; gradients added into Parameter::grad). eigen: the same
//   network written by hand as the practical limit (preallocated matrices,
//   noalias products, the tanh derivative fused into the backward product, the
//   seed g used as dy directly). Both start from the same parameters and the
//   program checks at start-up that their gradients agree.
//
// After the run a Markdown summary prints medians and min–max over the
// repetitions and the odeflow ÷ eigen ratio of medians from this one run. See
// docs/benchmarks.md and run_ad.sh.
#include <odeflow/ad/ops.hpp>
#include <odeflow/ad/tape.hpp>
#include <odeflow/core/random.hpp>
#include <odeflow/nn/linear.hpp>
#include <odeflow/nn/mlp.hpp>

#include <benchmark/benchmark.h>

#include "figure_reporter.hpp"
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace odeflow::bench {
namespace {

constexpr int kOpsPerReset = 256;

template <Scalar S>
Matrix<S> random_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  SplitMix64 rng(seed);
  return uniform_matrix<S>(rows, cols, rng);
}

// ---- Per-op overhead --------------------------------------------------------

enum class TinyOp { kAdd, kTanh, kLinear };

template <Scalar S>
void run_op(benchmark::State& state, TinyOp op, bool recorded) {
  SplitMix64 rng(3);
  nn::Linear<S> layer(4, 4, rng);
  const Matrix<S> m = random_matrix<S>(4, 1, 1);
  ad::Tape<S> tape;
  ad::GradScope<S> scope(tape, recorded);
  ad::Tensor<S> x;
  int n = kOpsPerReset;
  for (auto _ : state) {
    if (n == kOpsPerReset) {
      tape.reset();
      x = recorded ? tape.variable(m) : tape.constant(m);
      n = 0;
    }
    ++n;
    ad::Tensor<S> y;
    switch (op) {
      case TinyOp::kAdd: y = ad::add(x, x); break;
      case TinyOp::kTanh: y = ad::tanh(x); break;
      case TinyOp::kLinear: y = layer(x); break;
    }
    benchmark::DoNotOptimize(y.data());
  }
}

// ---- MLP forward + backward -------------------------------------------------

// The network of make_mlp({sizes}) written by hand. Weights are stored as
// odeflow's parameters (in x out, W^T), so the same numbers feed both.
template <Scalar S>
class HandMlp {
 public:
  HandMlp(nn::Sequential<S>& net, const std::vector<Eigen::Index>& sizes, Eigen::Index batch) {
    const std::vector<ad::Parameter<S>*> params = net.parameters();
    const std::size_t layers = sizes.size() - 1;
    for (std::size_t l = 0; l < layers; ++l) {
      wt_.push_back(params[2 * l]->value);
      b_.push_back(params[2 * l + 1]->value);
      wt_bar_.push_back(Matrix<S>::Zero(sizes[l], sizes[l + 1]));
      b_bar_.push_back(Matrix<S>::Zero(sizes[l + 1], 1));
      h_.push_back(Matrix<S>::Zero(sizes[l + 1], batch));
      delta_.push_back(Matrix<S>::Zero(sizes[l + 1], batch));  // the last one stays unused: g is dy
    }
  }

  // Gradients of sum(y * g) for input x: forward, then backward from dy = g.
  [[gnu::noinline]] void run(const Matrix<S>& x, const Matrix<S>& g) {
    const std::size_t layers = wt_.size();
    for (std::size_t l = 0; l < layers; ++l) {
      const Matrix<S>& in = l == 0 ? x : h_[l - 1];
      h_[l].noalias() = wt_[l].transpose() * in;
      h_[l].colwise() += b_[l].col(0);
      if (l + 1 < layers) h_[l] = h_[l].array().tanh();
    }
    for (std::size_t l = layers; l-- > 0;) {
      const Matrix<S>& in = l == 0 ? x : h_[l - 1];
      const Matrix<S>& delta = l + 1 == layers ? g : delta_[l];
      wt_bar_[l].noalias() = in * delta.transpose();
      b_bar_[l] = delta.rowwise().sum();
      if (l == 0) break;
      delta_[l - 1].noalias() = wt_[l] * delta;
      delta_[l - 1].array() *= S(1) - h_[l - 1].array().square();
    }
  }

  const Matrix<S>& weight_grad(std::size_t l) const { return wt_bar_[l]; }
  const Matrix<S>& bias_grad(std::size_t l) const { return b_bar_[l]; }

 private:
  std::vector<Matrix<S>> wt_, b_, wt_bar_, b_bar_, h_, delta_;
};

template <Scalar S>
struct MlpCase {
  std::vector<Eigen::Index> sizes;
  Eigen::Index batch;
  std::unique_ptr<nn::Sequential<S>> net;
  Matrix<S> x, g;

  MlpCase(std::vector<Eigen::Index> s, Eigen::Index b) : sizes(std::move(s)), batch(b) {
    SplitMix64 rng(5);
    net = nn::make_mlp<S>({.sizes = sizes}, rng);
    x = random_matrix<S>(sizes.front(), batch, 6);
    g = random_matrix<S>(sizes.back(), batch, 7);
  }
};

template <Scalar S>
[[gnu::noinline]] void odeflow_pass(ad::Tape<S>& tape, MlpCase<S>& c) {
  tape.reset();
  ad::GradScope<S> scope(tape);
  const ad::Tensor<S> y = (*c.net)(tape.view(c.x));
  tape.backward(ad::sum(ad::mul(y, tape.view(c.g))));
}

// Aborts unless odeflow's and the hand-written gradients agree: both
// benchmarks must compute the same thing.
template <Scalar S>
void check_same_gradients(MlpCase<S>& c) {
  ad::Tape<S> tape;
  c.net->zero_grad();
  odeflow_pass(tape, c);
  HandMlp<S> hand(*c.net, c.sizes, c.batch);
  hand.run(c.x, c.g);
  const std::vector<ad::Parameter<S>*> params = c.net->parameters();
  double err = 0;
  double scale = 0;
  for (std::size_t l = 0; l + 1 < c.sizes.size(); ++l) {
    err = std::max(err, double((params[2 * l]->grad - hand.weight_grad(l)).cwiseAbs().maxCoeff()));
    err = std::max(err, double((params[2 * l + 1]->grad - hand.bias_grad(l)).cwiseAbs().maxCoeff()));
    scale = std::max(scale, double(hand.weight_grad(l).cwiseAbs().maxCoeff()));
  }
  const double tol = (std::is_same_v<S, float> ? 1e-4 : 1e-11) * std::max(scale, 1.0);
  if (!(err <= tol)) {
    fmt::print(stderr, "ad_bench: odeflow and hand-written gradients differ by {:.3e} (tolerance {:.1e})\n", err, tol);
    std::abort();
  }
}

template <Scalar S>
void run_mlp(benchmark::State& state, const std::vector<Eigen::Index>& sizes, Eigen::Index batch, bool hand_written) {
  MlpCase<S> c(sizes, batch);
  check_same_gradients(c);
  if (hand_written) {
    HandMlp<S> hand(*c.net, c.sizes, c.batch);
    hand.run(c.x, c.g);  // warm-up: first touch of the buffers
    for (auto _ : state) {
      hand.run(c.x, c.g);
      benchmark::DoNotOptimize(hand.weight_grad(0).data());
      benchmark::ClobberMemory();
    }
  } else {
    ad::Tape<S> tape;
    odeflow_pass(tape, c);  // warm-up: the arena reserves its blocks
    for (auto _ : state) {
      odeflow_pass(tape, c);
      benchmark::ClobberMemory();
    }
  }
}

// ---- Registration and summary -------------------------------------------------

struct Row {
  std::string label;  // "add", or "2-50-2 | 1 | double" (three table cells)
  std::string left;   // benchmark names compared: recorded / odeflow
  std::string right;  // plain / eigen
  double target = 0;  // the ratio target (0: none)
};

void add_benchmark(const std::string& name, std::function<void(benchmark::State&)> fn, benchmark::TimeUnit unit) {
  benchmark::RegisterBenchmark(name.c_str(), std::move(fn))
      ->Unit(unit)
      ->ComputeStatistics("min", min_of)
      ->ComputeStatistics("max", max_of);
}

void register_ops(std::vector<Row>& rows) {
  const std::pair<const char*, TinyOp> ops[] = {{"add", TinyOp::kAdd}, {"tanh", TinyOp::kTanh}, {"linear4", TinyOp::kLinear}};
  for (const auto& [name, op] : ops) {
    Row row{name, fmt::format("op/{}/recorded", name), fmt::format("op/{}/plain", name)};
    add_benchmark(row.left, [op](benchmark::State& s) { run_op<double>(s, op, true); }, benchmark::kNanosecond);
    add_benchmark(row.right, [op](benchmark::State& s) { run_op<double>(s, op, false); }, benchmark::kNanosecond);
    rows.push_back(std::move(row));
  }
}

template <Scalar S>
void register_mlp(std::vector<Row>& rows, const std::vector<Eigen::Index>& sizes, Eigen::Index batch) {
  std::string net;
  for (Eigen::Index n : sizes) {
    if (!net.empty()) net += '-';
    net += std::to_string(n);
  }
  const char* scalar = std::is_same_v<S, float> ? "float" : "double";
  const std::string base = fmt::format("mlp/{}/batch:{}/{}", net, batch, scalar);
  Row row{fmt::format("{} | {} | {}", net, batch, scalar), base + "/odeflow", base + "/eigen", batch >= 20 ? 1.2 : 1.5};
  add_benchmark(row.left, [=](benchmark::State& s) { run_mlp<S>(s, sizes, batch, false); }, benchmark::kMicrosecond);
  add_benchmark(row.right, [=](benchmark::State& s) { run_mlp<S>(s, sizes, batch, true); }, benchmark::kMicrosecond);
  rows.push_back(std::move(row));
}

void print_summary(const FigureReporter& reporter, const std::vector<Row>& ops, const std::vector<Row>& mlps) {
  if (reporter.empty()) return;  // nothing ran (e.g. --benchmark_list_tests)
  using Figures = FigureReporter::Figures;
  auto find = [&](const std::string& name) { return reporter.find(name); };
  auto cell = [](const Figures* f) {
    if (!f) return std::string("–");
    return fmt::format("{} ({}–{})", format_time(f->stat("median")), format_time(f->stat("min")),
                       format_time(f->stat("max")));
  };
  auto ratio = [](const Figures* a, const Figures* b) {
    return a && b ? fmt::format("{:.2f}", a->stat("median") / b->stat("median")) : std::string("–");
  };
  std::string out = "\n## Summary (medians and min–max over repetitions; ratios of medians from this run)\n\n";
  out += "| op (4x1, double) | ns/op recorded | ns/op not recorded | recorded ÷ not |\n|---|---|---|---:|\n";
  for (const Row& r : ops) {
    const Figures* a = find(r.left);
    const Figures* b = find(r.right);
    if (a || b) out += fmt::format("| {} | {} | {} | {} |\n", r.label, cell(a), cell(b), ratio(a, b));
  }
  out += "\n| MLP (tanh) | batch | scalar | odeflow µs | hand-written Eigen µs | odeflow ÷ Eigen | target |\n";
  out += "|---|---:|---|---|---|---:|---:|\n";
  for (const Row& r : mlps) {
    const Figures* a = find(r.left);
    const Figures* b = find(r.right);
    if (a || b) out += fmt::format("| {} | {} | {} | {} | ≤ {} |\n", r.label, cell(a), cell(b), ratio(a, b), r.target);
  }
  fmt::print("{}", out);
}

}  // namespace
}  // namespace odeflow::bench

int main(int argc, char** argv) {
  using namespace odeflow::bench;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::vector<Row> ops;
  std::vector<Row> mlps;
  register_ops(ops);
  register_mlp<float>(mlps, {2, 50, 2}, 1);
  register_mlp<double>(mlps, {2, 50, 2}, 1);
  register_mlp<float>(mlps, {2, 50, 2}, 20);
  register_mlp<double>(mlps, {2, 50, 2}, 20);
  register_mlp<float>(mlps, {64, 256, 256, 64}, 512);
  register_mlp<double>(mlps, {64, 256, 256, 64}, 512);
  FigureReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_summary(reporter, ops, mlps);
  benchmark::Shutdown();
  return 0;
}
