// GroupNorm and BatchNorm composed from differentiable ops, so gradients of
// any order flow through the statistics.
#include <odeflow/ad/ops.hpp>
#include <odeflow/core/error.hpp>
#include <odeflow/nn/conv.hpp>
#include <odeflow/nn/norm.hpp>

#include <fmt/format.h>

namespace odeflow::nn {
namespace {

// A per-channel column v (C x 1) repeated over each channel's `plane` rows:
// (C*plane) x 1, matching a channel-major image column.
template <Scalar S>
Tensor<S> expand_channels(const Tensor<S>& v, Eigen::Index plane) {
  if (plane == 1) return v;
  const Eigen::Index c = v.rows();
  return ad::reshape(ad::broadcast_to(ad::transpose(v), plane, c), c * plane, 1);
}

// Per-channel mean over the batch and the plane: C x 1. Viewing x as
// plane x (C*N) puts one (channel, sample) per column.
template <Scalar S>
Tensor<S> channel_mean(const Tensor<S>& x, Eigen::Index channels, Eigen::Index plane) {
  if (plane == 1) return ad::mean(x, ad::Axis::kCols);
  const Eigen::Index n = x.cols();
  const Tensor<S> per_sample = ad::mean(ad::reshape(x, plane, channels * n), ad::Axis::kRows);
  return ad::mean(ad::reshape(per_sample, channels, n), ad::Axis::kCols);
}

template <Scalar S>
Tensor<S> apply_affine(const Tensor<S>& y, ad::Parameter<S>* weight, ad::Parameter<S>* bias, Eigen::Index plane) {
  if (weight == nullptr) return y;
  ad::Tape<S>& tape = y.tape();
  return ad::add(ad::mul(y, expand_channels(tape.param(*weight), plane)), expand_channels(tape.param(*bias), plane));
}

void check_eps(const char* layer, double eps) {
  if (!(eps > 0)) throw InvalidArgument(fmt::format("{}: eps must be positive, got {}", layer, eps));
}

}  // namespace

// ---- GroupNorm ---------------------------------------------------------------

template <Scalar S>
GroupNorm<S>::GroupNorm(int groups, int channels, double eps, bool affine)
    : groups_(groups), channels_(channels), eps_(eps) {
  if (groups < 1 || channels < 1 || channels % groups != 0) {
    throw InvalidArgument(
        fmt::format("GroupNorm({}, {}): {} channels cannot be split into {} equal groups", groups, channels, channels,
                    groups));
  }
  check_eps("GroupNorm", eps);
  if (affine) {
    weight_ = &this->register_parameter("weight", {channels});
    weight_->value.setOnes();
    bias_ = &this->register_parameter("bias", {channels});
  }
}

template <Scalar S>
Tensor<S> GroupNorm<S>::forward(const Tensor<S>& x) {
  check_image(fmt::format("GroupNorm({}, {})", groups_, channels_), x, channels_);
  const Eigen::Index plane = Eigen::Index{x.shape().height} * x.shape().width;
  // One (group, sample) per column: a group's channels are contiguous rows.
  const Eigen::Index group_rows = x.rows() / groups_;
  const Tensor<S> xg = ad::reshape(x, group_rows, groups_ * x.cols());
  const Tensor<S> xc = ad::sub(xg, ad::mean(xg, ad::Axis::kRows));
  const Tensor<S> var = ad::mean(ad::square(xc), ad::Axis::kRows);
  const Tensor<S> yg = ad::div(xc, ad::sqrt(ad::affine(var, 1.0, eps_)));
  return apply_affine(ad::reshape(yg, x.rows(), x.cols(), x.shape()), weight_, bias_, plane);
}

// ---- BatchNorm ---------------------------------------------------------------

void BatchNormOptions::validate() const {
  check_eps("BatchNorm", eps);
  if (!(momentum >= 0 && momentum <= 1)) {
    throw InvalidArgument(fmt::format("BatchNorm: momentum must be in [0, 1], got {}", momentum));
  }
}

template <Scalar S>
BatchNorm<S>::BatchNorm(int features, const BatchNormOptions& options, bool images)
    : features_(features), options_(options), images_(images) {
  if (features < 1) throw InvalidArgument(fmt::format("BatchNorm: {} features (must be at least 1)", features));
  options.validate();
  if (options.affine) {
    weight_ = &this->register_parameter("weight", {features});
    weight_->value.setOnes();
    bias_ = &this->register_parameter("bias", {features});
  }
  running_mean_ = &this->register_buffer("running_mean", {features});
  running_var_ = &this->register_buffer("running_var", {features});
  running_var_->value.setOnes();
}

template <Scalar S>
Tensor<S> BatchNorm<S>::forward(const Tensor<S>& x) {
  const std::string name = fmt::format("{}({})", this->type_name(), features_);
  if (images_) {
    check_image(name, x, features_);
  } else if (!x.defined() || x.rows() != features_) {
    if (!x.defined()) throw InvalidArgument(fmt::format("{}: input is an undefined tensor", name));
    throw ShapeError(fmt::format("{}: input is {}, expected {}xN (features x batch)", name, x.shape_string(), features_));
  }
  const Eigen::Index plane = x.rows() / features_;
  ad::Tape<S>& tape = x.tape();
  Tensor<S> y;
  if (this->training()) {
    const Eigen::Index count = plane * x.cols();
    if (count < 2) {
      throw ShapeError(fmt::format("{}: training needs more than one value per channel, input is {}", name,
                                   x.shape_string()));
    }
    const Tensor<S> mu = channel_mean(x, features_, plane);
    const Tensor<S> xc = ad::sub(x, expand_channels(mu, plane));
    const Tensor<S> var = channel_mean(ad::square(xc), features_, plane);
    y = ad::div(xc, expand_channels(ad::sqrt(ad::affine(var, 1.0, options_.eps)), plane));
    update_running_stats(mu.value(), var.value(), count);
  } else {
    const Matrix<S> inv_std = (running_var_->value.array() + static_cast<S>(options_.eps)).rsqrt().matrix();
    const Tensor<S> shift = expand_channels(tape.constant(running_mean_->value), plane);
    y = ad::mul(ad::sub(x, shift), expand_channels(tape.constant(inv_std), plane));
  }
  return apply_affine(y, weight_, bias_, plane);
}

template <Scalar S>
void BatchNorm<S>::update_running_stats(const Matrix<S>& mean, const Matrix<S>& biased_var, Eigen::Index count) {
  const S m = static_cast<S>(options_.momentum);
  const S unbias = static_cast<S>(static_cast<double>(count) / static_cast<double>(count - 1));
  running_mean_->value = (S(1) - m) * running_mean_->value + m * mean;
  running_var_->value = (S(1) - m) * running_var_->value + (m * unbias) * biased_var;
  ++num_batches_tracked_;
}

template class GroupNorm<float>;
template class GroupNorm<double>;
template class BatchNorm<float>;
template class BatchNorm<double>;

}  // namespace odeflow::nn
