// The spiral of torchdiffeq's examples/ode_demo.py (Chen et al. 2018), as
// pinned in ../shared/bench/WORKLOADS.md §3 (W1): learn dy/dt = (y∘y∘y)·A,
// A = [[-0.1, 2], [-2, -0.1]], from one trajectory y(t), t in [0, 25], with
// the network f(t, y) = Linear(50,2)(tanh(Linear(2,50)(y∘y∘y))), trained on
// random windows of the trajectory: each iteration solves from batch_size
// window starts over the first batch_time data times and takes the mean
// absolute error against the data, then one RMSprop step.
//
// The pieces are separate so that the demo (`odeflow demo spiral`), the
// workload runner and the tests share them:
//   SpiralData data = make_spiral_data();                     // the true trajectory
//   SpiralOdeFunc<double> func(1);                            // reference init
//   SpiralBatchSampler sampler(data.size() - 10, 20, 2);      // window starts
//   auto batch = make_spiral_batch<double>(data.y, data.t, sampler.next(), 10);
//   ad::Tape<double> tape;
//   SpiralLoss l = spiral_loss_backward(func, tape, batch, {}, {});  // adds to the grads
// or the whole training state at once: SpiralTrainer.
//
// Layout: states are columns (2 x n), the row-form y·A of ode_demo is Aᵀy here.
#pragma once

#include <odeflow/ad/tape.hpp>
#include <odeflow/core/random.hpp>
#include <odeflow/core/stats.hpp>
#include <odeflow/core/types.hpp>
#include <odeflow/nn/module.hpp>
#include <odeflow/nn/sequential.hpp>
#include <odeflow/optim/rmsprop.hpp>
#include <odeflow/sensitivity/odeint.hpp>
#include <odeflow/solve/options.hpp>
#include <odeflow/solve/solution.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace odeflow::models {

// ---- Data ------------------------------------------------------------------

// The true trajectory: y(t_i) for t_i = t_end·i/(size−1), from y0 = (2, 0),
// solved by dopri5 at rtol 1e-7, atol 1e-9 (ode_demo's true_y).
struct SpiralData {
  std::vector<Time> t;  // size() times
  Matrix<double> y;     // 2 x size(): column i is y(t[i])
  Stats stats;          // of the solve that made it

  std::int64_t size() const { return static_cast<std::int64_t>(t.size()); }
};

// The true dynamics at a batch of states (2 x batch): dy = Aᵀ(y∘y∘y).
void spiral_true_rhs(const Matrix<double>& y, Matrix<double>& dy);

// Throws InvalidArgument unless size ≥ 2 and t_end is finite and positive.
SpiralData make_spiral_data(std::int64_t size = 1000, double t_end = 25.0);

// ---- Model -----------------------------------------------------------------

// ode_demo's ODEFunc: net = Sequential(Linear(2, 50), Tanh, Linear(50, 2))
// applied to y∘y∘y; t is unused. State_dict names "net.0.weight", ...
// Initialization (WORKLOADS.md): from SplitMix64(seed), every weight
// 0.1·normal() in row-major [out, in] order, layer by layer, biases zero;
// each draw rounded to float32 (the reference scripts build the layers in
// float32 before casting), so seed 1 gives the reference weights exactly.
template <Scalar S>
class SpiralOdeFunc : public nn::Module<S> {
 public:
  static constexpr Eigen::Index kHidden = 50;

  explicit SpiralOdeFunc(std::uint64_t seed = 1);
  std::string type_name() const override { return "ODEFunc"; }
  using nn::Module<S>::forward;
  nn::Tensor<S> forward(const nn::Tensor<S>& y) override;
  nn::Sequential<S>& net() { return *net_; }

 private:
  nn::Sequential<S>* net_;
};

// The learned field at a batch of points (2 x n), evaluated on a scratch tape
// without recording (plots, and the right-hand side of evaluation solves).
template <Scalar S>
Matrix<S> evaluate_field(nn::Module<S>& func, const Matrix<S>& y);

// odeint of the learned field from y0 (2 x batch) over ts, without gradient:
// the plain solver with evaluate_field's evaluation as the right-hand side
// (ode_demo's evaluation solve; W1's full forward solve).
template <Scalar S>
Solution<S> solve_learned(nn::Module<S>& func, const Matrix<S>& y0, std::span<const Time> ts,
                          const Options& options = {});

// ---- Batches ---------------------------------------------------------------

// Window starts: each batch draws batch_size distinct starts in [0, count),
// one `below(count)` each, redrawing duplicates; batches follow one another
// on one SplitMix64 stream (WORKLOADS.md §3; seed 2 is the reference).
class SpiralBatchSampler {
 public:
  // Throws InvalidArgument unless 1 ≤ batch_size ≤ count.
  SpiralBatchSampler(std::int64_t count, std::int64_t batch_size, std::uint64_t seed);
  // The next batch's starts, in draw order.
  std::vector<std::int64_t> next();

  // The generator's state: set_state(state()) later continues the stream.
  std::uint64_t state() const { return rng_.state(); }
  void set_state(std::uint64_t state) { rng_ = SplitMix64(state); }

 private:
  std::int64_t count_;
  std::int64_t batch_size_;
  SplitMix64 rng_;
};

template <Scalar S>
struct SpiralBatch {
  Matrix<S> y0;          // 2 x batch: column j is y(t[start_j])
  std::vector<Time> t;   // the first batch_time data times
  Matrix<S> y;           // 2 x (batch_time·batch): block k holds y(t[start_j + k]), j = 0..batch−1
};

// Throws InvalidArgument when a window runs past the data.
template <Scalar S>
SpiralBatch<S> make_spiral_batch(const Matrix<S>& true_y, std::span<const Time> t,
                                 std::span<const std::int64_t> starts, std::int64_t batch_time);

// ---- One iteration ---------------------------------------------------------

struct SpiralLoss {
  double loss = 0.0;        // mean |pred − batch.y| over every entry
  Stats forward;            // of the training solve
  BackwardStats backward;   // of its backward pass
};

// pred = odeint(func, batch.y0, batch.t), loss = mean|pred − batch.y|, then
// loss.backward(): adds the gradient into func's parameters' grad (the
// caller zeroes them). Records on `tape` and rewinds it to its state on
// entry, so a repeated call reuses the tape's memory.
template <Scalar S>
SpiralLoss spiral_loss_backward(nn::Module<S>& func, ad::Tape<S>& tape, const SpiralBatch<S>& batch,
                                const Options& options, const GradientOptions& gradient);

// ---- Training --------------------------------------------------------------

// ode_demo's settings; the defaults are the reference run.
struct SpiralSettings {
  std::int64_t batch_time = 10;
  std::int64_t batch_size = 20;
  double lr = 1e-3;              // RMSprop, PyTorch's other defaults
  std::uint64_t model_seed = 1;  // SpiralOdeFunc
  std::uint64_t batch_seed = 2;  // SpiralBatchSampler
  Options options;               // training and evaluation solves (dopri5, rtol 1e-7, atol 1e-9)
  GradientOptions gradient;      // direct by default

  // Throws InvalidArgument naming the first bad field (options included);
  // data_size is the number of data times.
  void validate(std::int64_t data_size) const;
};

struct SpiralEvaluation {
  double loss = 0.0;  // mean |pred − true y| over the whole trajectory
  Matrix<double> y;   // 2 x data size: the learned trajectory from the true y0
  Stats stats;
};

// The state of a training run: model, RMSprop, sampler, iteration count.
// Checkpoints hold all of it, so load + step() continues bit-identically.
template <Scalar S>
class SpiralTrainer {
 public:
  // `data` must outlive the trainer. Throws InvalidArgument (settings).
  SpiralTrainer(const SpiralData& data, SpiralSettings settings);

  // One iteration: zero the gradients, draw a batch, loss and backward, one
  // RMSprop step.
  SpiralLoss step();
  // The learned trajectory over every data time from the true y0 (no
  // gradient) and its loss against the data.
  SpiralEvaluation evaluate();

  std::int64_t iteration() const { return iteration_; }
  SpiralOdeFunc<S>& func() { return func_; }
  const SpiralSettings& settings() const { return settings_; }

  // Atomic write (io/checkpoint.hpp) of the model, the optimizer, the
  // iteration, the sampler state and the settings; `extra` entries are the
  // caller's (keys must not start with "spiral.").
  void save(const std::filesystem::path& path, const std::map<std::string, std::string>& extra = {});
  // Restores a save()d state and returns the caller's extra entries. Throws
  // InvalidArgument when the checkpoint was made with other settings (naming
  // the setting and both values) and FormatError for a malformed file; the
  // trainer is then unchanged.
  std::map<std::string, std::string> load(const std::filesystem::path& path);

 private:
  const SpiralData& data_;
  SpiralSettings settings_;
  Matrix<S> true_y_;  // data_.y in S
  SpiralOdeFunc<S> func_;
  std::unique_ptr<optim::RmsProp<S>> optimizer_;
  SpiralBatchSampler sampler_;
  ad::Tape<S> tape_;
  std::int64_t iteration_ = 0;
};

extern template class SpiralOdeFunc<float>;
extern template class SpiralOdeFunc<double>;
extern template class SpiralTrainer<float>;
extern template class SpiralTrainer<double>;

}  // namespace odeflow::models
