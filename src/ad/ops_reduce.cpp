// Sums and means (all elements, per column, per row).
#include "op_support.hpp"

namespace odeflow::ad {

template <Scalar S>
Tensor<S> sum(const Tensor<S>& x) {
  detail::require_defined(x, "sum", "operand");
  return detail::sum_to(x, 1, 1);
}

template <Scalar S>
Tensor<S> sum(const Tensor<S>& x, Axis axis) {
  detail::require_defined(x, "sum", "operand");
  return axis == Axis::kRows ? detail::sum_to(x, 1, x.cols()) : detail::sum_to(x, x.rows(), 1);
}

template <Scalar S>
Tensor<S> mean(const Tensor<S>& x) {
  detail::require_defined(x, "mean", "operand");
  if (x.size() == 0) throw ShapeError(fmt::format("mean: tensor {} is empty", x.shape_string()));
  return affine(sum(x), 1.0 / static_cast<double>(x.size()), 0.0);
}

template <Scalar S>
Tensor<S> mean(const Tensor<S>& x, Axis axis) {
  detail::require_defined(x, "mean", "operand");
  const Eigen::Index n = axis == Axis::kRows ? x.rows() : x.cols();
  if (n == 0) throw ShapeError(fmt::format("mean: tensor {} is empty along the reduced axis", x.shape_string()));
  return affine(sum(x, axis), 1.0 / static_cast<double>(n), 0.0);
}

#define ODEFLOW_INSTANTIATE(S)                      \
  template Tensor<S> sum(const Tensor<S>&);         \
  template Tensor<S> sum(const Tensor<S>&, Axis);   \
  template Tensor<S> mean(const Tensor<S>&);        \
  template Tensor<S> mean(const Tensor<S>&, Axis);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::ad
