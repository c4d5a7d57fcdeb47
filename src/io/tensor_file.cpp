#include "odeflow/io/tensor_file.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "odeflow/core/error.hpp"

namespace odeflow::io {

// Tensor::bytes() hands out the in-memory representation as the file's.
static_assert(std::endian::native == std::endian::little, "odeflow's tensor files assume a little-endian host");

namespace {

// The element count of `shape`, or -1 if a dim is negative or the product
// overflows int64 (a zero dim makes it 0, whatever the others).
std::int64_t element_count(std::span<const std::int64_t> shape) {
  if (std::any_of(shape.begin(), shape.end(), [](std::int64_t d) { return d < 0; })) return -1;
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  std::int64_t n = 1;
  for (const std::int64_t d : shape) {
    if (n > std::numeric_limits<std::int64_t>::max() / d) return -1;
    n *= d;
  }
  return n;
}

void check_shape(const Shape& shape, std::size_t count) {
  const std::int64_t n = element_count(shape);
  if (n < 0 || static_cast<std::uint64_t>(n) != count)
    throw InvalidArgument(fmt::format("tensor shape {} does not hold {} values", shape_string(shape), count));
}

std::string name_list(const std::map<std::string, Tensor, std::less<>>& tensors) {
  constexpr std::size_t kMaxNames = 12;
  std::vector<std::string_view> names;
  for (const auto& [name, tensor] : tensors) {
    if (names.size() == kMaxNames) break;
    names.push_back(name);
  }
  return fmt::format("'{}'{}", fmt::join(names, "', '"), tensors.size() > kMaxNames ? ", ..." : "");
}

}  // namespace

std::string_view dtype_name(Dtype dtype) { return dtype == Dtype::kF32 ? "F32" : "F64"; }

std::size_t dtype_size(Dtype dtype) { return dtype == Dtype::kF32 ? 4 : 8; }

std::string shape_string(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

Tensor::Tensor(Shape shape, std::vector<float> values) : shape_(std::move(shape)), values_(std::move(values)) {
  check_shape(shape_, std::get<0>(values_).size());
}

Tensor::Tensor(Shape shape, std::vector<double> values) : shape_(std::move(shape)), values_(std::move(values)) {
  check_shape(shape_, std::get<1>(values_).size());
}

Dtype Tensor::dtype() const { return values_.index() == 0 ? Dtype::kF32 : Dtype::kF64; }

std::int64_t Tensor::numel() const { return element_count(shape_); }

template <Scalar S>
std::span<const S> Tensor::values() const {
  if (dtype() != dtype_of<S>())
    throw InvalidArgument(
        fmt::format("tensor holds {} values, not {}", dtype_name(dtype()), dtype_name(dtype_of<S>())));
  return std::get<std::vector<S>>(values_);
}

template <Scalar S>
std::vector<S> Tensor::converted() const {
  return std::visit([](const auto& v) { return std::vector<S>(v.begin(), v.end()); }, values_);
}

std::span<const std::byte> Tensor::bytes() const {
  return std::visit([](const auto& v) { return std::as_bytes(std::span(v)); }, values_);
}

bool Tensor::bitwise_equal(const Tensor& other) const {
  const auto a = bytes();
  const auto b = other.bytes();
  return dtype() == other.dtype() && shape_ == other.shape_ && a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

void TensorFile::insert(std::string name, Tensor tensor) {
  if (name == "__metadata__")
    throw InvalidArgument("\"__metadata__\" is reserved for the metadata map and cannot name a tensor");
  tensors_.insert_or_assign(std::move(name), std::move(tensor));
}

bool TensorFile::contains(std::string_view name) const { return tensors_.find(name) != tensors_.end(); }

const Tensor& TensorFile::at(std::string_view name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    const std::string holds = tensors_.empty() ? "it holds no tensors" : "it holds " + name_list(tensors_);
    throw FormatError(fmt::format("{}: no tensor '{}' ({})", source_, name, holds), source_, std::string(name));
  }
  return it->second;
}

const Tensor& TensorFile::at(std::string_view name, const Shape& expected) const {
  const Tensor& tensor = at(name);
  if (tensor.shape() != expected)
    throw FormatError(fmt::format("{}: tensor '{}': shape {}, expected {}", source_, name, shape_string(tensor.shape()),
                                  shape_string(expected)),
                      source_, std::string(name));
  return tensor;
}

std::pair<Eigen::Index, Eigen::Index> TensorFile::split_dim_zero(std::string_view name, const Shape& shape) const {
  if (shape.empty()) return {1, 1};
  const std::int64_t rest = element_count(std::span(shape).subspan(1));
  // Only possible when dim 0 is 0: e.g. [0, 2^40, 2^40] holds no values.
  if (rest < 0)
    throw FormatError(fmt::format("{}: tensor '{}': shape {} has too many values per row for a matrix", source_, name,
                                  shape_string(shape)),
                      source_, std::string(name));
  return {shape[0], rest};
}

template <Scalar S>
std::vector<S> TensorFile::values_as(std::string_view name, const Tensor& tensor, DtypeConversion conversion) const {
  if (tensor.dtype() == dtype_of<S>()) {
    const auto values = tensor.values<S>();
    return {values.begin(), values.end()};
  }
  if (conversion == DtypeConversion::kAllow) return tensor.converted<S>();
  throw FormatError(fmt::format("{}: tensor '{}': dtype {}, but {} was asked for (DtypeConversion::kAllow converts)",
                                source_, name, dtype_name(tensor.dtype()), dtype_name(dtype_of<S>())),
                    source_, std::string(name));
}

template <Scalar S>
Matrix<S> TensorFile::matrix(std::string_view name, DtypeConversion conversion) const {
  const Tensor& tensor = at(name);
  const std::vector<S> values = values_as<S>(name, tensor, conversion);
  const auto [rows, cols] = split_dim_zero(name, tensor.shape());
  using RowMajor = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  return Eigen::Map<const RowMajor>(values.data(), rows, cols);
}

template <Scalar S>
Matrix<S> TensorFile::matrix(std::string_view name, const Shape& expected, DtypeConversion conversion) const {
  at(name, expected);
  return matrix<S>(name, conversion);
}

template <Scalar S>
Matrix<S> TensorFile::batch(std::string_view name, DtypeConversion conversion) const {
  const Tensor& tensor = at(name);
  const std::vector<S> values = values_as<S>(name, tensor, conversion);
  const auto [cols, rows] = split_dim_zero(name, tensor.shape());
  return Eigen::Map<const Matrix<S>>(values.data(), rows, cols);
}

template <Scalar S>
Matrix<S> TensorFile::batch(std::string_view name, const Shape& expected, DtypeConversion conversion) const {
  at(name, expected);
  return batch<S>(name, conversion);
}

template <Scalar S>
void TensorFile::insert_matrix_impl(std::string name, const Matrix<S>& m) {
  const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major = m;
  insert(std::move(name), Tensor({m.rows(), m.cols()}, std::vector<S>(row_major.data(), row_major.data() + m.size())));
}

template <Scalar S>
void TensorFile::insert_batch_impl(std::string name, const Matrix<S>& m) {
  insert(std::move(name), Tensor({m.cols(), m.rows()}, std::vector<S>(m.data(), m.data() + m.size())));
}

bool TensorFile::bitwise_equal(const TensorFile& other) const {
  const auto same = [](const auto& a, const auto& b) { return a.first == b.first && a.second.bitwise_equal(b.second); };
  return metadata_ == other.metadata_ &&
         std::equal(tensors_.begin(), tensors_.end(), other.tensors_.begin(), other.tensors_.end(), same);
}

#define ODEFLOW_INSTANTIATE(S)                                                                     \
  template std::span<const S> Tensor::values<S>() const;                                           \
  template std::vector<S> Tensor::converted<S>() const;                                            \
  template Matrix<S> TensorFile::matrix<S>(std::string_view, DtypeConversion) const;               \
  template Matrix<S> TensorFile::matrix<S>(std::string_view, const Shape&, DtypeConversion) const; \
  template Matrix<S> TensorFile::batch<S>(std::string_view, DtypeConversion) const;                \
  template Matrix<S> TensorFile::batch<S>(std::string_view, const Shape&, DtypeConversion) const;  \
  template void TensorFile::insert_matrix_impl<S>(std::string, const Matrix<S>&);                  \
  template void TensorFile::insert_batch_impl<S>(std::string, const Matrix<S>&);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::io
