// `odeflow demo spiral`: torchdiffeq's examples/ode_demo.py in odeflow
// (models/spiral.hpp): learn dy/dt = (y∘y∘y)·A from one trajectory with an
// MLP, RMSprop on random windows; a progress bar, then plots, a JSON summary
// and a checkpoint that `--resume` continues from bit-identically.
#include "demos.hpp"
#include "progress.hpp"
#include "spiral_plot.hpp"

#include <odeflow/core/error.hpp>
#include <odeflow/models/spiral.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace odeflow::cli {
namespace {

using models::SpiralData;
using models::SpiralSettings;
using models::SpiralTrainer;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kDataSize = 1000;  // ode_demo's data_size and t = linspace(0, 25, 1000)
constexpr double kTEnd = 25.0;
constexpr const char* kCheckpoint = "checkpoint.safetensors";

struct SpiralArgs {
  std::string method = "dopri5";
  double rtol = 1e-7;
  double atol = 1e-9;
  std::string gradient = "direct";
  std::int64_t iterations = 2000;
  std::optional<std::uint64_t> seed;
  double lr = 1e-3;
  std::int64_t batch_time = 10;
  std::int64_t batch_size = 20;
  std::int64_t test_freq = 20;
  bool single = false;  // --float
  bool dbl = false;     // --double, the default (the flag documents it)
  std::string out = "spiral_out";
  bool resume = false;
  bool quiet = false;
};

Gradient gradient_from_name(const std::string& name) {
  if (name == "direct") return Gradient::kDirect;
  if (name == "adjoint") return Gradient::kAdjoint;
  if (name == "checkpoint") return Gradient::kCheckpoint;
  throw InvalidArgument(fmt::format("--gradient '{}' is not a gradient method; choose direct, adjoint or checkpoint", name));
}

// Option checks with the options' own names; SpiralSettings::validate backs them up.
SpiralSettings settings_from(const SpiralArgs& a) {
  if (a.iterations < 1) throw InvalidArgument(fmt::format("--iterations must be at least 1, got {}", a.iterations));
  if (a.test_freq < 1) throw InvalidArgument(fmt::format("--test-freq must be at least 1, got {}", a.test_freq));
  if (a.batch_time < 2 || a.batch_time >= kDataSize)
    throw InvalidArgument(fmt::format("--batch-time must be in [2, {}), got {}", kDataSize, a.batch_time));
  if (a.batch_size < 1 || a.batch_size > kDataSize - a.batch_time)
    throw InvalidArgument(fmt::format("--batch-size must be in [1, {}] (window starts for --batch-time {}), got {}",
                                      kDataSize - a.batch_time, a.batch_time, a.batch_size));
  if (!(a.lr > 0.0) || !std::isfinite(a.lr))
    throw InvalidArgument(fmt::format("--lr must be positive and finite, got {}", a.lr));
  SpiralSettings s;
  s.batch_time = a.batch_time;
  s.batch_size = a.batch_size;
  s.lr = a.lr;
  if (a.seed) {
    s.model_seed = *a.seed;
    s.batch_seed = *a.seed + 1;  // --seed 1 is the reference pair (1, 2)
  }
  s.options.method = a.method;
  s.options.rtol = a.rtol;
  s.options.atol = a.atol;
  s.gradient.gradient = gradient_from_name(a.gradient);
  s.validate(kDataSize);
  return s;
}

nlohmann::json stats_json(const Stats& s) {
  return {{"nfe", s.nfe}, {"accepted", s.accepted}, {"rejected", s.rejected}};
}

struct HistoryPoint {
  std::int64_t iteration;
  double batch_loss;  // mean training loss since the previous point (NaN at iteration 0)
  double total_loss;  // full trajectory
};

nlohmann::json history_json(const std::vector<HistoryPoint>& history) {
  nlohmann::json out = nlohmann::json::array();
  for (const HistoryPoint& p : history) {
    nlohmann::json batch = std::isnan(p.batch_loss) ? nlohmann::json(nullptr) : nlohmann::json(p.batch_loss);
    out.push_back({{"iteration", p.iteration}, {"batch_loss", batch}, {"full_trajectory_loss", p.total_loss}});
  }
  return out;
}

std::vector<HistoryPoint> history_from(const std::string& text, const std::filesystem::path& source) {
  std::vector<HistoryPoint> history;
  try {
    for (const auto& p : nlohmann::json::parse(text)) {
      const auto& batch = p.at("batch_loss");
      history.push_back({p.at("iteration").get<std::int64_t>(), batch.is_null() ? std::nan("") : batch.get<double>(),
                         p.at("full_trajectory_loss").get<double>()});
    }
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(fmt::format("{}: malformed loss history: {}", source.string(), e.what()), source.string(), "");
  }
  return history;
}

// CPU time of the process: on a shared machine wall-clock iteration times
// include waiting for a core, CPU time does not.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  if (v.size() % 2 == 1) return *mid;
  return 0.5 * (*mid + *std::max_element(v.begin(), mid));
}

// The full-trajectory loss swings from one evaluation to the next; a mean over
// the last few is the steadier figure to compare runs by.
double tail_mean(const std::vector<HistoryPoint>& history, std::size_t count) {
  const std::size_t n = std::min(count, history.size());
  double sum = 0.0;
  for (std::size_t i = history.size() - n; i < history.size(); ++i) sum += history[i].total_loss;
  return sum / static_cast<double>(n);
}

// What the training loop measured.
struct RunRecord {
  std::int64_t first = 0;  // the iteration the run started from
  std::vector<double> seconds, cpu;  // per iteration: wall clock, process CPU
  std::int64_t nfe_forward = 0, nfe_backward = 0;
  double training_seconds = 0.0;
  models::SpiralLoss last;
  models::SpiralEvaluation latest;  // of the last evaluation
  std::vector<HistoryPoint> history;
};

// Iterations first+1 .. args.iterations: progress, an evaluation and a
// checkpoint every test_freq iterations and at the end.
template <Scalar S>
void train_loop(SpiralTrainer<S>& trainer, const SpiralArgs& args, const std::filesystem::path& checkpoint,
                RunRecord& r) {
  ProgressBar bar(args.iterations, !args.quiet);
  double loss_since = 0.0;
  std::int64_t count_since = 0;
  for (std::int64_t it = r.first + 1; it <= args.iterations; ++it) {
    const auto t0 = Clock::now();
    const double c0 = cpu_seconds();
    r.last = trainer.step();
    r.cpu.push_back(cpu_seconds() - c0);
    r.seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    r.training_seconds += r.seconds.back();
    r.nfe_forward += r.last.forward.nfe;
    r.nfe_backward += r.last.backward.nfe;
    loss_since += r.last.loss;
    ++count_since;
    const ProgressStatus status{it, r.last.loss, r.last.forward.nfe, r.last.backward.nfe,
                                static_cast<double>(r.seconds.size()) / r.training_seconds};
    if (it % args.test_freq != 0 && it != args.iterations) {
      bar.update(status);
      continue;
    }
    r.latest = trainer.evaluate();
    r.history.push_back({it, loss_since / static_cast<double>(count_since), r.latest.loss});
    loss_since = 0.0;
    count_since = 0;
    trainer.save(checkpoint, {{"history", history_json(r.history).dump()}});
    bar.milestone(status, fmt::format("total loss {:.6f}", r.latest.loss));
  }
}

template <Scalar S>
nlohmann::json summary_json(const SpiralArgs& args, const SpiralSettings& settings, const SpiralData& data,
                            const RunRecord& r, const std::vector<std::string>& plots, double wall_seconds) {
  const auto n = static_cast<double>(r.seconds.size());
  return {{"demo", "spiral"},
          {"settings",
           {{"method", settings.options.method},
            {"rtol", args.rtol},
            {"atol", args.atol},
            {"gradient", args.gradient},
            {"scalar", std::is_same_v<S, float> ? "float" : "double"},
            {"iterations", args.iterations},
            {"lr", settings.lr},
            {"optimizer", "RMSprop"},
            {"batch_time", settings.batch_time},
            {"batch_size", settings.batch_size},
            {"test_freq", args.test_freq},
            {"model_seed", settings.model_seed},
            {"batch_seed", settings.batch_seed},
            {"data_size", kDataSize},
            {"t_end", kTEnd}}},
          {"resumed_from", r.first},
          {"iterations_run", r.seconds.size()},
          {"final",
           {{"iteration", r.history.back().iteration},
            {"full_trajectory_loss", r.latest.loss},
            {"full_trajectory_loss_mean_of_last_10_evaluations", tail_mean(r.history, 10)},
            {"last_batch_loss", r.last.loss},
            {"evaluation_stats", stats_json(r.latest.stats)}}},
          {"timing",
           {{"iteration_median_seconds", median(r.seconds)},
            {"iteration_min_seconds", *std::min_element(r.seconds.begin(), r.seconds.end())},
            {"iteration_max_seconds", *std::max_element(r.seconds.begin(), r.seconds.end())},
            {"iteration_median_cpu_seconds", median(r.cpu)},
            {"training_seconds", r.training_seconds},
            {"wall_seconds", wall_seconds}}},
          {"nfe",
           {{"forward_mean", static_cast<double>(r.nfe_forward) / n},
            {"backward_mean", static_cast<double>(r.nfe_backward) / n},
            {"forward_total", r.nfe_forward},
            {"backward_total", r.nfe_backward},
            {"last_forward", r.last.forward.nfe},
            {"last_backward", r.last.backward.nfe}}},
          {"data_solve", stats_json(data.stats)},
          {"history", history_json(r.history)},
          {"files", {{"plots", plots}, {"checkpoint", kCheckpoint}}}};
}

template <Scalar S>
void train(const SpiralArgs& args, const SpiralSettings& settings, const std::filesystem::path& out) {
  const auto wall_start = Clock::now();
  const std::filesystem::path checkpoint = out / kCheckpoint, summary_path = out / "summary.json";
  const SpiralData data = models::make_spiral_data(kDataSize, kTEnd);
  SpiralTrainer<S> trainer(data, settings);
  RunRecord record;
  if (args.resume) {
    if (!std::filesystem::exists(checkpoint))
      throw InvalidArgument(fmt::format("--resume: no checkpoint at '{}'", checkpoint.string()));
    const auto extra = trainer.load(checkpoint);
    if (const auto it = extra.find("history"); it != extra.end()) record.history = history_from(it->second, checkpoint);
    if (trainer.iteration() >= args.iterations)
      throw InvalidArgument(fmt::format("--resume: the checkpoint is at iteration {}, --iterations is {}; ask for more "
                                        "to continue",
                                        trainer.iteration(), args.iterations));
  }
  // A summary is written last and describes a finished run: drop an older one.
  std::filesystem::remove(summary_path);
  record.first = trainer.iteration();
  if (!args.quiet) {
    fmt::print("odeflow demo spiral: {} in {}, gradient {}, {} iterations{}, writing to {}\n", settings.options.method,
               std::is_same_v<S, float> ? "float" : "double", args.gradient, args.iterations,
               record.first > 0 ? fmt::format(" (resuming at {})", record.first) : "", out.string());
    std::fflush(stdout);
  }
  if (record.first == 0) record.history.push_back({0, std::nan(""), trainer.evaluate().loss});
  train_loop(trainer, args, checkpoint, record);

  SpiralFigures figures;
  figures.ts = data.t;
  figures.true_y = data.y;
  figures.learned_y = record.latest.y;
  figures.field = [&trainer](const Eigen::MatrixXd& points) -> Eigen::MatrixXd {
    return models::evaluate_field<S>(trainer.func(), points.cast<S>()).template cast<double>();
  };
  for (const HistoryPoint& p : record.history) {
    figures.iterations.push_back(static_cast<double>(p.iteration));
    figures.batch_loss.push_back(p.batch_loss);
    figures.total_loss.push_back(p.total_loss);
  }
  figures.title = fmt::format("iteration {}, {}, {}", trainer.iteration(), settings.options.method, args.gradient);
  const std::vector<std::string> plots = write_spiral_figures(out, figures);

  const double wall = std::chrono::duration<double>(Clock::now() - wall_start).count();
  std::ofstream file(summary_path);
  file << summary_json<S>(args, settings, data, record, plots, wall).dump(2) << '\n';
  if (!file) throw InvalidArgument(fmt::format("cannot write '{}'", summary_path.string()));

  if (!args.quiet) {
    const auto n = static_cast<double>(record.seconds.size());
    fmt::print("final full-trajectory loss {:.6f} at iteration {}\n", record.latest.loss, trainer.iteration());
    fmt::print("{} iterations in {:.2f} s: median {:.3f} ms per iteration ({:.3f} ms CPU), NFE {:.1f} forward + {:.1f} "
               "backward\n",
               record.seconds.size(), record.training_seconds, 1e3 * median(record.seconds), 1e3 * median(record.cpu),
               static_cast<double>(record.nfe_forward) / n, static_cast<double>(record.nfe_backward) / n);
    for (const std::string& p : plots) fmt::print("plot: {}\n", (out / p).string());
    fmt::print("summary: {}\ncheckpoint: {}\n", summary_path.string(), checkpoint.string());
  }
}

void run_spiral(const SpiralArgs& args) {
  const SpiralSettings settings = settings_from(args);
  const std::filesystem::path out = make_out_dir(args.out);
  if (args.single)
    train<float>(args, settings, out);
  else
    train<double>(args, settings, out);
}

}  // namespace

void add_spiral_demo(CLI::App& demo) {
  auto args = std::make_shared<SpiralArgs>();
  CLI::App* cmd = demo.add_subcommand(
      "spiral", "torchdiffeq's ode_demo: learn dy/dt = (y^3)A from a trajectory with an MLP (RMSprop, random windows)");
  cmd->add_option("--method", args->method, "solver of the training and evaluation solves (odeflow methods)")
      ->capture_default_str();
  cmd->add_option("--rtol", args->rtol, "relative tolerance")->capture_default_str();
  cmd->add_option("--atol", args->atol, "absolute tolerance")->capture_default_str();
  cmd->add_option("--gradient", args->gradient, "gradient method: direct, adjoint or checkpoint")->capture_default_str();
  cmd->add_option("-n,--iterations", args->iterations, "training iterations (in all, when resuming)")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "model seed s (batches use s + 1); default: the reference seeds 1 and 2");
  cmd->add_option("--lr", args->lr, "RMSprop learning rate")->capture_default_str();
  cmd->add_option("--batch-time", args->batch_time, "data times per training window")->capture_default_str();
  cmd->add_option("--batch-size", args->batch_size, "windows per iteration")->capture_default_str();
  cmd->add_option("--test-freq", args->test_freq, "iterations between full-trajectory evaluations and checkpoints")
      ->capture_default_str();
  CLI::Option* single = cmd->add_flag("--float", args->single, "train in float32");
  cmd->add_flag("--double", args->dbl, "train in float64 (default)")->excludes(single);
  cmd->add_option("-o,--out", args->out, "output folder: plots, summary.json, checkpoint")->capture_default_str();
  cmd->add_flag("--resume", args->resume, "continue from the checkpoint in the output folder");
  cmd->add_flag("-q,--quiet", args->quiet, "no progress or messages (errors still go to stderr)");
  cmd->callback([args] { run_spiral(*args); });
}

}  // namespace odeflow::cli
