#include <odeflow/ad/ops.hpp>
#include <odeflow/core/error.hpp>
#include <odeflow/nn/dropout.hpp>

#include <fmt/format.h>

namespace odeflow::nn {

template <Scalar S>
Dropout<S>::Dropout(double p, std::uint64_t seed) : p_(p), rng_(seed) {
  if (!(p >= 0 && p < 1)) throw InvalidArgument(fmt::format("Dropout: p must be in [0, 1), got {}", p));
}

template <Scalar S>
Tensor<S> Dropout<S>::forward(const Tensor<S>& x) {
  if (!x.defined()) throw InvalidArgument("Dropout: input is an undefined tensor");
  if (!this->training() || p_ == 0) return x;
  const S scale = static_cast<S>(1.0 / (1.0 - p_));
  mask_.resize(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < mask_.size(); ++i) mask_.data()[i] = rng_.uniform() >= p_ ? scale : S(0);
  return ad::mul(x, x.tape().constant(mask_, x.shape()));
}

template class Dropout<float>;
template class Dropout<double>;

}  // namespace odeflow::nn
