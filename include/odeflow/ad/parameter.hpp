// A trainable array owned by a module (or by user code): its value, its
// accumulated gradient and its PyTorch shape.
//
// Storage convention (shared with io/ and optim/): a PyTorch tensor of shape
// [d0, d1, ..., dk] is the column-major matrix (d1*...*dk) x d0 holding the
// same bytes, and a 1-D [d0] is d0 x 1. So a Linear weight [out, in] is an
// `in x out` matrix (the transpose of W) and a bias [out] is `out x 1`.
#pragma once

#include <odeflow/core/types.hpp>

#include <cstdint>
#include <vector>

namespace odeflow::ad {

template <Scalar S>
struct Parameter {
  Matrix<S> value;
  // Same shape as value once a backward pass reached it; zero_grad() zeroes.
  Matrix<S> grad;
  std::vector<std::int64_t> shape;
  bool requires_grad = true;

  // A parameter of PyTorch shape `torch_shape`, zero-filled.
  static Parameter zeros(std::vector<std::int64_t> torch_shape);
  void zero_grad() { grad.setZero(value.rows(), value.cols()); }
};

// The matrix rows and columns that hold a PyTorch shape (see above).
Eigen::Index storage_rows(const std::vector<std::int64_t>& torch_shape);
Eigen::Index storage_cols(const std::vector<std::int64_t>& torch_shape);

extern template struct Parameter<float>;
extern template struct Parameter<double>;

}  // namespace odeflow::ad
