#include <odeflow/ad/parameter.hpp>
#include <odeflow/core/error.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace odeflow::ad {

Eigen::Index storage_cols(const std::vector<std::int64_t>& torch_shape) {
  if (torch_shape.empty()) return 1;
  return torch_shape.size() == 1 ? 1 : static_cast<Eigen::Index>(torch_shape[0]);
}

Eigen::Index storage_rows(const std::vector<std::int64_t>& torch_shape) {
  if (torch_shape.empty()) return 1;
  if (torch_shape.size() == 1) return static_cast<Eigen::Index>(torch_shape[0]);
  Eigen::Index rows = 1;
  for (std::size_t i = 1; i < torch_shape.size(); ++i) rows *= static_cast<Eigen::Index>(torch_shape[i]);
  return rows;
}

template <Scalar S>
Parameter<S> Parameter<S>::zeros(std::vector<std::int64_t> torch_shape) {
  for (std::int64_t d : torch_shape) {
    if (d < 0) throw ShapeError(fmt::format("parameter shape [{}] has a negative dimension", fmt::join(torch_shape, ", ")));
  }
  Parameter<S> p;
  p.value.setZero(storage_rows(torch_shape), storage_cols(torch_shape));
  p.grad.setZero(p.value.rows(), p.value.cols());
  p.shape = std::move(torch_shape);
  return p;
}

template struct Parameter<float>;
template struct Parameter<double>;

}  // namespace odeflow::ad
