#include <odeflow/ad/ops.hpp>
#include <odeflow/core/error.hpp>
#include <odeflow/io/checkpoint.hpp>
#include <odeflow/models/spiral.hpp>
#include <odeflow/nn/mlp.hpp>
#include <odeflow/optim/module_params.hpp>
#include <odeflow/solve/odeint.hpp>

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <unordered_set>

namespace odeflow::models {
namespace {

constexpr std::string_view kPrefix = "spiral.";

std::string exact(double v) {
  char buf[64];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  return std::string(buf, end);
}

std::string tolerance_string(const Tolerance& tol) {
  std::string s;
  for (Eigen::Index i = 0; i < tol.values().size(); ++i) s += (i == 0 ? "" : ",") + exact(tol.values()[i]);
  return s;
}

std::string gradient_name(Gradient g) {
  switch (g) {
    case Gradient::kDirect: return "direct";
    case Gradient::kAdjoint: return "adjoint";
    case Gradient::kCheckpoint: return "checkpoint";
  }
  return "unknown";
}

// Everything that decides a run's numbers, as checkpoint metadata: resuming
// under other settings would silently continue a different run.
template <Scalar S>
std::map<std::string, std::string> fingerprint(const SpiralSettings& s, const SpiralData& data) {
  std::map<std::string, std::string> f{
      {"scalar", std::is_same_v<S, float> ? "float" : "double"},
      {"data_size", std::to_string(data.size())},
      {"t_end", exact(data.t.back())},
      {"batch_time", std::to_string(s.batch_time)},
      {"batch_size", std::to_string(s.batch_size)},
      {"lr", exact(s.lr)},
      {"model_seed", std::to_string(s.model_seed)},
      {"batch_seed", std::to_string(s.batch_seed)},
      {"method", s.options.method},
      {"rtol", tolerance_string(s.options.rtol)},
      {"atol", tolerance_string(s.options.atol)},
      {"gradient", gradient_name(s.gradient.gradient)},
  };
  if (s.gradient.gradient == Gradient::kAdjoint) {
    const AdjointOptions& a = s.gradient.adjoint;
    f["adjoint_method"] = a.method;
    f["adjoint_rtol"] = a.rtol ? tolerance_string(*a.rtol) : "";
    f["adjoint_atol"] = a.atol ? tolerance_string(*a.atol) : "";
    f["adjoint_seminorm"] = a.seminorm ? "1" : "0";
  }
  if (s.gradient.gradient == Gradient::kCheckpoint) f["checkpoint_every"] = std::to_string(s.gradient.checkpoint_every);
  return f;
}

// Rewinds a tape when a scope ends, also when the solve throws.
template <Scalar S>
class TapeRewind {
 public:
  explicit TapeRewind(ad::Tape<S>& tape) : tape_(tape), mark_(tape.mark()) {}
  ~TapeRewind() { tape_.rewind(mark_); }
  TapeRewind(const TapeRewind&) = delete;
  TapeRewind& operator=(const TapeRewind&) = delete;

 private:
  ad::Tape<S>& tape_;
  typename ad::Tape<S>::Mark mark_;
};

SpiralSettings validated(SpiralSettings settings, std::int64_t data_size) {
  settings.validate(data_size);
  return settings;
}

}  // namespace

// ---- Data ------------------------------------------------------------------

void spiral_true_rhs(const Matrix<double>& y, Matrix<double>& dy) {
  // ode_demo: y³ @ A with y a row; here columns, so Aᵀ y³.
  const Matrix<double> y3 = y.array().cube().matrix();
  dy.row(0) = -0.1 * y3.row(0) - 2.0 * y3.row(1);
  dy.row(1) = 2.0 * y3.row(0) - 0.1 * y3.row(1);
}

SpiralData make_spiral_data(std::int64_t size, double t_end) {
  if (size < 2) throw InvalidArgument(fmt::format("spiral data: size must be at least 2, got {}", size));
  if (!(std::isfinite(t_end) && t_end > 0.0))
    throw InvalidArgument(fmt::format("spiral data: t_end must be finite and positive, got {}", t_end));
  SpiralData data;
  data.t.resize(static_cast<std::size_t>(size));
  for (std::int64_t i = 0; i < size; ++i)
    data.t[static_cast<std::size_t>(i)] = t_end * static_cast<double>(i) / static_cast<double>(size - 1);
  Matrix<double> y0(2, 1);
  y0 << 2.0, 0.0;
  const Solution<double> sol =
      odeint([](Time, const Matrix<double>& y, Matrix<double>& dy) { spiral_true_rhs(y, dy); }, y0, data.t);
  data.y.resize(2, size);
  for (std::int64_t i = 0; i < size; ++i) data.y.col(i) = sol.ys[static_cast<std::size_t>(i)];
  data.stats = sol.stats;
  return data;
}

// ---- Model -----------------------------------------------------------------

template <Scalar S>
SpiralOdeFunc<S>::SpiralOdeFunc(std::uint64_t seed) {
  // make_mlp draws PyTorch's default init; ode_demo then overwrites it, as we do.
  SplitMix64 default_init(0);
  net_ = &this->register_module("net", nn::make_mlp<S>({.sizes = {2, kHidden, 2}}, default_init));
  SplitMix64 rng(seed);
  for (const nn::NamedParameter<S>& p : net_->named_parameters()) {
    Matrix<S>& value = p.param->value;
    if (p.name.ends_with("bias")) {
      value.setZero();
      continue;
    }
    // Rounded through float32: the reference layers are float32 when the draws are copied in.
    for (Eigen::Index i = 0; i < value.size(); ++i)
      value.data()[i] = static_cast<S>(static_cast<float>(0.1 * rng.normal()));
  }
}

template <Scalar S>
nn::Tensor<S> SpiralOdeFunc<S>::forward(const nn::Tensor<S>& y) {
  // (y·y)·y, as PyTorch evaluates y**3.
  return net_->forward(ad::mul(ad::square(y), y));
}

template <Scalar S>
Matrix<S> evaluate_field(nn::Module<S>& func, const Matrix<S>& y) {
  ad::Tape<S> tape;
  return func.forward(tape.view(y)).value();
}

template <Scalar S>
Solution<S> solve_learned(nn::Module<S>& func, const Matrix<S>& y0, std::span<const Time> ts, const Options& options) {
  ad::Tape<S> scratch;
  const auto mark = scratch.mark();
  auto rhs = [&](Time, const Matrix<S>& y, Matrix<S>& dy) {
    scratch.rewind(mark);  // each evaluation reuses the tape's memory
    dy = func.forward(scratch.view(y)).value();
  };
  return odeint(rhs, y0, ts, options);
}

// ---- Batches ---------------------------------------------------------------

SpiralBatchSampler::SpiralBatchSampler(std::int64_t count, std::int64_t batch_size, std::uint64_t seed)
    : count_(count), batch_size_(batch_size), rng_(seed) {
  if (batch_size < 1 || batch_size > count)
    throw InvalidArgument(fmt::format("spiral batches: batch_size must be in [1, {}] (the number of window starts), "
                                      "got {}",
                                      count, batch_size));
}

std::vector<std::int64_t> SpiralBatchSampler::next() {
  std::vector<std::int64_t> starts;
  starts.reserve(static_cast<std::size_t>(batch_size_));
  std::unordered_set<std::int64_t> seen;
  while (static_cast<std::int64_t>(starts.size()) < batch_size_) {
    const auto s = static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>(count_)));
    if (seen.insert(s).second) starts.push_back(s);
  }
  return starts;
}

template <Scalar S>
SpiralBatch<S> make_spiral_batch(const Matrix<S>& true_y, std::span<const Time> t,
                                 std::span<const std::int64_t> starts, std::int64_t batch_time) {
  const auto n = true_y.cols();
  if (static_cast<std::size_t>(n) != t.size() || true_y.rows() != 2)
    throw ShapeError(fmt::format("spiral batch: data are {}x{} for {} times, expected 2 x {}", true_y.rows(), n,
                                 t.size(), t.size()));
  if (batch_time < 2 || batch_time > n)
    throw InvalidArgument(fmt::format("spiral batch: batch_time must be in [2, {}], got {}", n, batch_time));
  const auto batch = static_cast<Eigen::Index>(starts.size());
  SpiralBatch<S> out;
  out.y0.resize(2, batch);
  out.y.resize(2, batch_time * batch);
  out.t.assign(t.begin(), t.begin() + batch_time);
  for (Eigen::Index j = 0; j < batch; ++j) {
    const std::int64_t s = starts[static_cast<std::size_t>(j)];
    if (s < 0 || s + batch_time > n)
      throw InvalidArgument(
          fmt::format("spiral batch: window start {} with batch_time {} runs past the {} data times", s, batch_time, n));
    out.y0.col(j) = true_y.col(s);
    for (std::int64_t k = 0; k < batch_time; ++k) out.y.col(k * batch + j) = true_y.col(s + k);
  }
  return out;
}

// ---- One iteration ---------------------------------------------------------

template <Scalar S>
SpiralLoss spiral_loss_backward(nn::Module<S>& func, ad::Tape<S>& tape, const SpiralBatch<S>& batch,
                                const Options& options, const GradientOptions& gradient) {
  const TapeRewind<S> rewind(tape);
  const ad::GradScope<S> scope(tape);
  const ad::Tensor<S> y0 = tape.constant(batch.y0);
  const Trajectory<S> pred = odeint(func, y0, std::span<const Time>(batch.t), options, gradient);
  const ad::Tensor<S> loss = ad::mean(ad::abs(ad::sub(pred.ys, tape.view(batch.y))));
  loss.backward();
  return {static_cast<double>(loss.item()), pred.stats(), pred.backward_stats()};
}

// ---- Training --------------------------------------------------------------

void SpiralSettings::validate(std::int64_t data_size) const {
  if (batch_time < 2 || batch_time >= data_size)
    throw InvalidArgument(fmt::format("batch_time must be in [2, {}) (the data have {} times), got {}", data_size,
                                      data_size, batch_time));
  if (batch_size < 1 || batch_size > data_size - batch_time)
    throw InvalidArgument(fmt::format("batch_size must be in [1, {}] (data size − batch_time window starts), got {}",
                                      data_size - batch_time, batch_size));
  optim::RmsPropOptions{.lr = lr}.validate();
  options.validate();
  if (gradient.checkpoint_every < 0)
    throw InvalidArgument(fmt::format("checkpoint_every must be ≥ 0, got {}", gradient.checkpoint_every));
}

template <Scalar S>
SpiralTrainer<S>::SpiralTrainer(const SpiralData& data, SpiralSettings settings)
    : data_(data),
      settings_(validated(std::move(settings), data.size())),
      true_y_(data.y.cast<S>()),
      func_(settings_.model_seed),
      optimizer_(std::make_unique<optim::RmsProp<S>>(optim::params_of(func_), optim::RmsPropOptions{.lr = settings_.lr})),
      sampler_(data.size() - settings_.batch_time, settings_.batch_size, settings_.batch_seed) {}

template <Scalar S>
SpiralLoss SpiralTrainer<S>::step() {
  optimizer_->zero_grad();
  const std::vector<std::int64_t> starts = sampler_.next();
  const SpiralBatch<S> batch = make_spiral_batch<S>(true_y_, data_.t, starts, settings_.batch_time);
  const SpiralLoss loss = spiral_loss_backward<S>(func_, tape_, batch, settings_.options, settings_.gradient);
  optimizer_->step();
  ++iteration_;
  return loss;
}

template <Scalar S>
SpiralEvaluation SpiralTrainer<S>::evaluate() {
  const Matrix<S> y0 = true_y_.col(0);
  const Solution<S> sol = solve_learned<S>(func_, y0, data_.t, settings_.options);
  SpiralEvaluation out;
  out.y.resize(2, data_.size());
  for (std::int64_t i = 0; i < data_.size(); ++i) out.y.col(i) = sol.ys[static_cast<std::size_t>(i)].template cast<double>();
  out.loss = (out.y - data_.y).cwiseAbs().mean();
  out.stats = sol.stats;
  return out;
}

template <Scalar S>
void SpiralTrainer<S>::save(const std::filesystem::path& path, const std::map<std::string, std::string>& extra) {
  io::CheckpointInfo info{.step = iteration_, .extra = extra};
  for (const auto& [key, value] : extra)
    if (key.starts_with(kPrefix))
      throw InvalidArgument(fmt::format("checkpoint extra key '{}': the prefix '{}' is the trainer's", key, kPrefix));
  for (const auto& [key, value] : fingerprint<S>(settings_, data_)) info.extra[std::string(kPrefix) + key] = value;
  info.extra[std::string(kPrefix) + "sampler_state"] = std::to_string(sampler_.state());
  io::save_checkpoint(path, func_, optimizer_.get(), info);
}

template <Scalar S>
std::map<std::string, std::string> SpiralTrainer<S>::load(const std::filesystem::path& path) {
  // Load into a scratch model and optimizer, so that a mismatch leaves this trainer unchanged.
  SpiralOdeFunc<S> func(settings_.model_seed);
  optim::RmsProp<S> optimizer(optim::params_of(func), optim::RmsPropOptions{.lr = settings_.lr});
  io::CheckpointInfo info = io::load_checkpoint(path, func, &optimizer);

  const auto saved = [&](const std::string& key) -> const std::string* {
    const auto it = info.extra.find(std::string(kPrefix) + key);
    return it == info.extra.end() ? nullptr : &it->second;
  };
  for (const auto& [key, value] : fingerprint<S>(settings_, data_)) {
    const std::string* other = saved(key);
    if (other == nullptr)
      throw FormatError(fmt::format("{}: not a spiral checkpoint (no '{}{}' entry)", path.string(), kPrefix, key),
                        path.string(), "");
    if (*other != value)
      throw InvalidArgument(fmt::format("{}: the checkpoint was made with {} = {}, this run has {} = {}",
                                        path.string(), key, other->empty() ? "(default)" : *other, key,
                                        value.empty() ? "(default)" : value));
  }
  const std::string* state = saved("sampler_state");
  std::uint64_t sampler_state = 0;
  if (state == nullptr ||
      std::from_chars(state->data(), state->data() + state->size(), sampler_state).ptr != state->data() + state->size())
    throw FormatError(fmt::format("{}: bad or missing '{}sampler_state'", path.string(), kPrefix), path.string(), "");
  if (info.step < 0) throw FormatError(fmt::format("{}: negative step {}", path.string(), info.step), path.string(), "");

  func_.set_flat_parameters(func.flat_parameters());
  optimizer_->import_state(optimizer.export_state());
  sampler_.set_state(sampler_state);
  iteration_ = info.step;

  std::map<std::string, std::string> extra;
  for (auto& [key, value] : info.extra)
    if (!key.starts_with(kPrefix)) extra.emplace(key, std::move(value));
  return extra;
}

#define ODEFLOW_INSTANTIATE(S)                                                                                   \
  template class SpiralOdeFunc<S>;                                                                               \
  template class SpiralTrainer<S>;                                                                               \
  template Matrix<S> evaluate_field<S>(nn::Module<S>&, const Matrix<S>&);                                        \
  template Solution<S> solve_learned<S>(nn::Module<S>&, const Matrix<S>&, std::span<const Time>, const Options&); \
  template SpiralBatch<S> make_spiral_batch<S>(const Matrix<S>&, std::span<const Time>,                          \
                                               std::span<const std::int64_t>, std::int64_t);                     \
  template SpiralLoss spiral_loss_backward<S>(nn::Module<S>&, ad::Tape<S>&, const SpiralBatch<S>&, const Options&, \
                                              const GradientOptions&);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::models
