// Normalization layers, PyTorch-compatible (names, shapes, defaults).
//
//   GroupNorm(groups, channels):  per sample and group of channels/groups
//       channels, y = (x - mean) / sqrt(var + eps) over the group's C/G*H*W
//       values (biased variance), then y * weight[c] + bias[c] (affine).
//   BatchNorm1d(features):  per feature over the batch; input features x batch.
//   BatchNorm2d(channels):  per channel over the batch and the H*W positions;
//       input images Shape{channels, H, W}.
//
// Parameters "weight" [C] = 1 and "bias" [C] = 0 (when affine). BatchNorm
// also has the buffers "running_mean" [C] = 0 and "running_var" [C] = 1 (in
// state_dicts, as PyTorch's). Train mode (Module::training(), the default)
// normalizes with the batch mean and biased variance and, on every forward,
// updates running = (1 - momentum) running + momentum batch_stat with the
// UNBIASED batch variance; it needs more than one value per channel. Eval
// mode normalizes with the running statistics and changes nothing.
//
// PyTorch's integer buffer num_batches_tracked is kept as a plain counter
// (num_batches_tracked()), not as a buffer: state_dicts hold F32/F64 only, so
// it is neither saved nor loaded. It only matters to PyTorch when momentum is
// None (a cumulative average), which odeflow does not offer.
//
// GroupNorm accepts images Shape{C, H, W} or plain C x batch features; a
// wrong channel count throws ShapeError naming the layer and both shapes.
#pragma once

#include <odeflow/nn/module.hpp>

#include <cstdint>

namespace odeflow::nn {

template <Scalar S>
class GroupNorm : public Module<S> {
 public:
  // Throws InvalidArgument unless groups >= 1 divides channels >= 1 and eps > 0.
  GroupNorm(int groups, int channels, double eps = 1e-5, bool affine = true);
  std::string type_name() const override { return "GroupNorm"; }
  using Module<S>::forward;
  Tensor<S> forward(const Tensor<S>& x) override;

 private:
  int groups_;
  int channels_;
  double eps_;
  ad::Parameter<S>* weight_ = nullptr;
  ad::Parameter<S>* bias_ = nullptr;
};

struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;  // weight of the new batch in the running statistics, in [0, 1]
  bool affine = true;
  // Throws InvalidArgument for eps <= 0 or momentum outside [0, 1].
  void validate() const;
};

// The shared implementation; use BatchNorm1d or BatchNorm2d.
template <Scalar S>
class BatchNorm : public Module<S> {
 public:
  using Module<S>::forward;
  Tensor<S> forward(const Tensor<S>& x) override;

  int num_features() const { return features_; }
  ad::Parameter<S>& running_mean() { return *running_mean_; }
  ad::Parameter<S>& running_var() { return *running_var_; }
  std::int64_t num_batches_tracked() const { return num_batches_tracked_; }
  void set_num_batches_tracked(std::int64_t n) { num_batches_tracked_ = n; }

 protected:
  BatchNorm(int features, const BatchNormOptions& options, bool images);

 private:
  void update_running_stats(const Matrix<S>& mean, const Matrix<S>& biased_var, Eigen::Index count);

  int features_;
  BatchNormOptions options_;
  bool images_;
  ad::Parameter<S>* weight_ = nullptr;
  ad::Parameter<S>* bias_ = nullptr;
  ad::Parameter<S>* running_mean_;
  ad::Parameter<S>* running_var_;
  std::int64_t num_batches_tracked_ = 0;
};

template <Scalar S>
class BatchNorm1d final : public BatchNorm<S> {
 public:
  explicit BatchNorm1d(int features, const BatchNormOptions& options = {}) : BatchNorm<S>(features, options, false) {}
  std::string type_name() const override { return "BatchNorm1d"; }
};

template <Scalar S>
class BatchNorm2d final : public BatchNorm<S> {
 public:
  explicit BatchNorm2d(int channels, const BatchNormOptions& options = {}) : BatchNorm<S>(channels, options, true) {}
  std::string type_name() const override { return "BatchNorm2d"; }
};

extern template class GroupNorm<float>;
extern template class GroupNorm<double>;
extern template class BatchNorm<float>;
extern template class BatchNorm<double>;

}  // namespace odeflow::nn
