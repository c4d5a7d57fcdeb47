// How parameters reach an optimizer: a non-owning view of one parameter's
// values and gradient, so that any owner (an nn module, plain Eigen arrays in
// user code) hands its storage over without copies.
//
// Contract: `value` and `grad` point at `size()` contiguous elements each,
// stay valid and do not move for the optimizer's lifetime, and do not
// overlap. `name` is the PyTorch state_dict name ("0.weight"); it keys the
// exported optimizer state. `shape` is the PyTorch shape whose row-major
// layout has these bytes ([out, in] for a Linear weight stored as a
// column-major in × out matrix); empty means one dimension of `size()`.
#pragma once

#include <odeflow/core/types.hpp>

#include <Eigen/Core>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace odeflow::optim {

template <Scalar S>
struct ParamView {
  std::string name;
  std::span<S> value;
  std::span<S> grad;
  std::vector<std::int64_t> shape;

  std::size_t size() const { return value.size(); }
  // `shape`, or {size()} when it is empty.
  std::vector<std::int64_t> resolved_shape() const;
};

// A view of a contiguous Eigen object (matrix, vector or array) and its
// gradient of the same size. The shape defaults to one dimension.
template <Scalar S, class Value, class Grad>
ParamView<S> view_of(std::string name, Eigen::PlainObjectBase<Value>& value, Eigen::PlainObjectBase<Grad>& grad,
                     std::vector<std::int64_t> shape = {}) {
  return ParamView<S>{std::move(name), std::span<S>(value.data(), static_cast<std::size_t>(value.size())),
                      std::span<S>(grad.data(), static_cast<std::size_t>(grad.size())), std::move(shape)};
}

// Throws InvalidArgument for an empty or repeated name, and ShapeError for a
// gradient whose size differs from the value's or a shape whose product is
// not the size.
template <Scalar S>
void validate_params(std::span<const ParamView<S>> params);

extern template struct ParamView<float>;
extern template struct ParamView<double>;
extern template void validate_params<float>(std::span<const ParamView<float>>);
extern template void validate_params<double>(std::span<const ParamView<double>>);

}  // namespace odeflow::optim
