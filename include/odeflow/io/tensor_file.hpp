// Named tensors and string metadata: the in-memory contents of a weights or
// checkpoint file (read and written by io/safetensors.hpp).
//
// A Tensor is a PyTorch-style tensor: a dtype (F32 or F64), a shape of
// non-negative int64 dims, and its values in row-major (C) order. Only F32 and
// F64 are held; no silent conversion happens between them.
//
// Eigen bridges (all copies) follow DESIGN.md's data layout:
//   matrix(): dim 0 are the rows, the other dims flatten into the columns:
//             a Linear weight [out, in] is the out x in matrix, a bias [n] is
//             n x 1, a Conv2d weight [o, i, kh, kw] is o x (i*kh*kw).
//   batch():  dim 0 are the columns: a PyTorch batch [batch, features...] is
//             the odeflow state `features x batch`, byte for byte.
// A 0-D tensor (a scalar) is 1 x 1 either way.
//
// Errors: a tensor that is missing, has another shape than expected, or
// another dtype than asked (without DtypeConversion::kAllow) throws
// FormatError naming source(), the tensor and the problem.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <odeflow/core/types.hpp>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace odeflow::io {

enum class Dtype { kF32, kF64 };

// "F32" / "F64", as written in safetensors headers.
std::string_view dtype_name(Dtype dtype);
std::size_t dtype_size(Dtype dtype);
template <Scalar S>
constexpr Dtype dtype_of() {
  return std::same_as<S, float> ? Dtype::kF32 : Dtype::kF64;
}

using Shape = std::vector<std::int64_t>;

// "[7, 5]"; "[]" for a scalar.
std::string shape_string(const Shape& shape);

// Whether the typed accessors may convert F32 <-> F64 (F64 -> F32 rounds).
enum class DtypeConversion { kExact, kAllow };

class Tensor {
 public:
  // Throws InvalidArgument if a dim is negative or the product of the dims
  // differs from values.size().
  Tensor(Shape shape, std::vector<float> values);
  Tensor(Shape shape, std::vector<double> values);

  Dtype dtype() const;
  const Shape& shape() const { return shape_; }
  std::int64_t numel() const;

  // The row-major values; throws InvalidArgument if S is not the dtype.
  template <Scalar S>
  std::span<const S> values() const;
  // The values as S, converted if the dtype differs.
  template <Scalar S>
  std::vector<S> converted() const;
  // The raw little-endian bytes, as stored in a safetensors data section.
  std::span<const std::byte> bytes() const;

  // Same dtype, shape and bytes (so NaN payloads and -0.0 count).
  bool bitwise_equal(const Tensor& other) const;

 private:
  Shape shape_;
  std::variant<std::vector<float>, std::vector<double>> values_;
};

class TensorFile {
 public:
  // `source` names the file in error messages (a path, or "<buffer>").
  explicit TensorFile(std::string source = "<memory>") : source_(std::move(source)) {}

  const std::string& source() const { return source_; }

  // Adds or replaces a tensor. Throws InvalidArgument for the reserved name
  // "__metadata__".
  void insert(std::string name, Tensor tensor);
  // n x m as [n, m] (so matrix(name) gives it back).
  template <class Derived>
  void insert_matrix(std::string name, const Eigen::MatrixBase<Derived>& m);
  // features x batch as [batch, features] (so batch(name) gives it back).
  template <class Derived>
  void insert_batch(std::string name, const Eigen::MatrixBase<Derived>& m);

  bool contains(std::string_view name) const;
  // Throws FormatError if absent.
  const Tensor& at(std::string_view name) const;
  // Throws FormatError if absent or its shape is not `expected`.
  const Tensor& at(std::string_view name, const Shape& expected) const;

  template <Scalar S>
  Matrix<S> matrix(std::string_view name, DtypeConversion conversion = DtypeConversion::kExact) const;
  template <Scalar S>
  Matrix<S> matrix(std::string_view name, const Shape& expected,
                   DtypeConversion conversion = DtypeConversion::kExact) const;
  template <Scalar S>
  Matrix<S> batch(std::string_view name, DtypeConversion conversion = DtypeConversion::kExact) const;
  template <Scalar S>
  Matrix<S> batch(std::string_view name, const Shape& expected,
                  DtypeConversion conversion = DtypeConversion::kExact) const;

  // Sorted by name.
  const std::map<std::string, Tensor, std::less<>>& tensors() const { return tensors_; }
  std::size_t size() const { return tensors_.size(); }

  // The safetensors "__metadata__" map (string to string).
  std::map<std::string, std::string>& metadata() { return metadata_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Same tensor names, bitwise-equal tensors and equal metadata.
  bool bitwise_equal(const TensorFile& other) const;

 private:
  // {dim 0, product of the other dims}; {1, 1} for a scalar.
  std::pair<Eigen::Index, Eigen::Index> split_dim_zero(std::string_view name, const Shape& shape) const;
  template <Scalar S>
  std::vector<S> values_as(std::string_view name, const Tensor& tensor, DtypeConversion conversion) const;
  template <Scalar S>
  void insert_matrix_impl(std::string name, const Matrix<S>& m);
  template <Scalar S>
  void insert_batch_impl(std::string name, const Matrix<S>& m);

  std::string source_;
  std::map<std::string, Tensor, std::less<>> tensors_;
  std::map<std::string, std::string> metadata_;
};

template <class Derived>
void TensorFile::insert_matrix(std::string name, const Eigen::MatrixBase<Derived>& m) {
  insert_matrix_impl(std::move(name), Matrix<typename Derived::Scalar>(m));
}

template <class Derived>
void TensorFile::insert_batch(std::string name, const Eigen::MatrixBase<Derived>& m) {
  insert_batch_impl(std::move(name), Matrix<typename Derived::Scalar>(m));
}

}  // namespace odeflow::io
