// A tensor of the autodiff engine: a handle to a `rows x cols` column-major
// array living in a Tape's arena, plus the tape node that produced it when
// the operation was recorded.
//
// Layout follows odeflow's convention: features x batch, one column per
// sample (the bytes of a row-major PyTorch [batch, features] tensor). Images
// keep `channels*height*width` rows and carry their geometry in `shape()`.
//
// Tensors are immutable values; copying one copies the handle, not the data.
// A handle stays valid until its tape is reset() or rewound past it.
#pragma once

#include <odeflow/core/types.hpp>

#include <Eigen/Core>

#include <cstdint>
#include <string>

namespace odeflow::ad {

template <Scalar S>
class Tape;

// Geometry of one column: channels x height x width (height = width = 1 for
// plain feature vectors). rows() == channels * height * width.
struct Shape {
  int channels = 0;
  int height = 1;
  int width = 1;

  static Shape features(Eigen::Index rows) { return Shape{static_cast<int>(rows), 1, 1}; }
  Eigen::Index size() const { return Eigen::Index{channels} * height * width; }
  bool is_image() const { return height != 1 || width != 1; }
  bool operator==(const Shape&) const = default;
};

// "3x4" or "3x4 (image 1x2x2)": how error messages name a tensor's shape.
std::string describe_shape(Eigen::Index rows, Eigen::Index cols, const Shape& shape);

template <Scalar S>
class Tensor {
 public:
  // Unaligned maps: a tensor may view a parameter's or the caller's Eigen
  // storage, whose alignment depends on the build's vector width.
  using ConstMap = Eigen::Map<const Matrix<S>>;

  Tensor() = default;

  bool defined() const { return tape_ != nullptr; }
  Tape<S>& tape() const { return *tape_; }
  Eigen::Index rows() const { return rows_; }
  Eigen::Index cols() const { return cols_; }
  Eigen::Index size() const { return Eigen::Index{rows_} * cols_; }
  const Shape& shape() const { return shape_; }
  std::string shape_string() const { return describe_shape(rows_, cols_, shape_); }

  ConstMap value() const { return ConstMap(data_, rows_, cols_); }
  const S* data() const { return data_; }
  // The single element of a 1x1 tensor.
  S item() const;

  // Recorded: produced by a recorded operation or a leaf that requires a
  // gradient; backward passes reach it.
  bool requires_grad() const { return node_ >= 0; }
  std::int32_t node() const { return node_; }

  // Reverse-mode pass from this 1x1 tensor, seeded with 1 (see Tape::backward).
  void backward() const;

 private:
  friend class Tape<S>;
  Tensor(Tape<S>* tape, S* data, Eigen::Index rows, Eigen::Index cols, Shape shape, std::int32_t node)
      : tape_(tape), data_(data), rows_(static_cast<std::int32_t>(rows)), cols_(static_cast<std::int32_t>(cols)),
        node_(node), shape_(shape) {}

  Tape<S>* tape_ = nullptr;
  S* data_ = nullptr;
  std::int32_t rows_ = 0;
  std::int32_t cols_ = 0;
  std::int32_t node_ = -1;
  Shape shape_;
};

}  // namespace odeflow::ad
