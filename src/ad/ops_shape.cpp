// Shape ops: concat, slice_rows/slice_cols (and their adjoints pad_rows/
// pad_cols), split, reshape,
// transpose, flatten.
//
// concat of n parts writes one result buffer and records a chain of nodes
// over it (a Node holds at most three inputs): the first link holds up to
// three parts, each later link two parts plus the previous link, which it
// hands the whole cotangent unchanged (same shape, no copy). Parts that need
// no gradient get no place in the chain.
#include "op_support.hpp"

#include <array>
#include <cstring>

namespace odeflow::ad {
namespace {

// Row blocks of whole channels keep an image's geometry (a sample's bytes are
// channel-major, so channels are contiguous row blocks); anything else is
// plain features.
Shape row_block_shape(const Shape& shape, Eigen::Index begin, Eigen::Index count) {
  const Eigen::Index plane = Eigen::Index{shape.height} * shape.width;
  if (!shape.is_image() || count == 0 || begin % plane != 0 || count % plane != 0) return Shape::features(count);
  return Shape{static_cast<int>(count / plane), shape.height, shape.width};
}

// Images of one height and width stack along channels; otherwise features.
template <Scalar S>
Shape stacked_shape(std::span<const Tensor<S>> parts, Eigen::Index rows) {
  const Shape& first = parts.front().shape();
  int channels = 0;
  for (const Tensor<S>& p : parts) {
    const Shape& s = p.shape();
    if (!s.is_image() || s.height != first.height || s.width != first.width) return Shape::features(rows);
    channels += s.channels;
  }
  return Shape{channels, first.height, first.width};
}

// iattr: row offsets of in[0..2], whether in[2] is the previous link, and how
// many of in[] are parts.
template <Scalar S>
void concat_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  const bool linked = n.iattr[3] != 0;
  for (int k = 0; k < n.iattr[4]; ++k) {
    const Tensor<S>& part = n.in[static_cast<std::size_t>(k)];
    if (tape.wants(part)) tape.accumulate(part, slice_rows(bar, n.iattr[static_cast<std::size_t>(k)], part.rows()));
  }
  if (linked) tape.accumulate(n.in[2], bar);
}

template <Scalar S>
Tensor<S> record_concat(Tensor<S> out, std::span<const Tensor<S>> parts, std::span<const int> offsets) {
  Tape<S>& tape = out.tape();
  std::array<Tensor<S>, 3> in{};
  std::array<int, 6> iattr{};
  Tensor<S> link;
  int held = 0;
  auto flush = [&] {
    if (link.defined()) {
      in[2] = link;
      iattr[3] = 1;
    }
    iattr[4] = held;
    link = tape.record(out, concat_vjp<S>, "concat", in, {}, iattr);
    in = {};
    iattr = {};
    held = 0;
  };
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].requires_grad()) continue;
    in[static_cast<std::size_t>(held)] = parts[i];
    iattr[static_cast<std::size_t>(held)] = offsets[i];
    ++held;
    if (held == (link.defined() ? 2 : 3)) flush();
  }
  if (held > 0) flush();
  return link;
}

template <Scalar S>
void slice_rows_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  const Tensor<S>& x = n.in[0];
  tape.accumulate(x, detail::pad_rows(bar, n.iattr[0], x.rows(), x.shape()));
}

template <Scalar S>
void pad_rows_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  tape.accumulate(n.in[0], slice_rows(bar, n.iattr[0], n.in[0].rows()));
}

template <Scalar S>
void slice_cols_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  const Tensor<S>& x = n.in[0];
  tape.accumulate(x, detail::pad_cols(bar, n.iattr[0], x.cols()));
}

template <Scalar S>
void pad_cols_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  tape.accumulate(n.in[0], slice_cols(bar, n.iattr[0], n.in[0].cols()));
}

template <Scalar S>
void reshape_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  const Tensor<S>& x = n.in[0];
  tape.accumulate(x, reshape(bar, x.rows(), x.cols(), x.shape()));
}

template <Scalar S>
void transpose_vjp(Tape<S>& tape, const Node<S>& n, const Tensor<S>& bar) {
  tape.accumulate(n.in[0], transpose(bar));
}

}  // namespace

template <Scalar S>
Tensor<S> concat(std::span<const Tensor<S>> parts) {
  if (parts.empty()) throw InvalidArgument("concat: no parts to stack");
  const Tensor<S>& first = parts.front();
  detail::require_defined(first, "concat", "part 0");
  Eigen::Index rows = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const Tensor<S>& p = parts[i];
    if (!p.defined()) throw InvalidArgument(fmt::format("concat: part {} is an undefined tensor", i));
    detail::require_same_tape("concat", first, p);
    if (p.cols() != first.cols()) {
      throw ShapeError(fmt::format("concat: shapes {} (part 0) and {} (part {}) differ in columns",
                                   first.shape_string(), p.shape_string(), i));
    }
    rows += p.rows();
  }
  if (parts.size() == 1) return first;
  Tape<S>& tape = first.tape();
  Tensor<S> out = tape.make(rows, first.cols(), stacked_shape(parts, rows));
  auto o = tape.mutable_value(out);
  // Offsets fit in int: tensors have int32 dimensions.
  constexpr std::size_t kInline = 16;
  std::array<int, kInline> inline_offsets{};
  std::vector<int> many;
  std::span<int> offsets = parts.size() <= kInline ? std::span<int>(inline_offsets.data(), parts.size())
                                                   : std::span<int>(many = std::vector<int>(parts.size()));
  bool records = false;
  Eigen::Index offset = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    o.middleRows(offset, parts[i].rows()) = parts[i].value();
    offsets[i] = static_cast<int>(offset);
    offset += parts[i].rows();
    records = records || parts[i].requires_grad();
  }
  if (!(records && tape.recording())) return out;
  return record_concat<S>(out, parts, offsets);
}

template <Scalar S>
Tensor<S> concat(const Tensor<S>& a, const Tensor<S>& b) {
  const std::array<Tensor<S>, 2> parts{a, b};
  return concat(std::span<const Tensor<S>>(parts));
}

template <Scalar S>
Tensor<S> slice_rows(const Tensor<S>& x, Eigen::Index begin, Eigen::Index count) {
  detail::require_defined(x, "slice_rows", "operand");
  if (begin < 0 || count < 0 || begin + count > x.rows()) {
    throw ShapeError(fmt::format("slice_rows: rows [{}, {}) are outside a tensor of {}", begin, begin + count,
                                 x.shape_string()));
  }
  if (begin == 0 && count == x.rows()) return x;
  Tape<S>& tape = x.tape();
  Tensor<S> out = tape.make(count, x.cols(), row_block_shape(x.shape(), begin, count));
  tape.mutable_value(out) = x.value().middleRows(begin, count);
  if (!tape.records(x)) return out;
  return tape.record(out, slice_rows_vjp<S>, "slice_rows", {x}, {}, {static_cast<int>(begin)});
}

template <Scalar S>
Tensor<S> detail::pad_rows(const Tensor<S>& x, Eigen::Index begin, Eigen::Index rows, Shape shape) {
  Tape<S>& tape = x.tape();
  if (begin == 0 && rows == x.rows() && shape == x.shape()) return x;
  Tensor<S> out = tape.make(rows, x.cols(), shape);
  auto o = tape.mutable_value(out);
  o.topRows(begin).setZero();
  o.middleRows(begin, x.rows()) = x.value();
  o.bottomRows(rows - begin - x.rows()).setZero();
  if (!tape.records(x)) return out;
  return tape.record(out, pad_rows_vjp<S>, "pad_rows", {x}, {}, {static_cast<int>(begin)});
}

template <Scalar S>
Tensor<S> slice_cols(const Tensor<S>& x, Eigen::Index begin, Eigen::Index count) {
  detail::require_defined(x, "slice_cols", "operand");
  if (begin < 0 || count < 0 || begin + count > x.cols()) {
    throw ShapeError(fmt::format("slice_cols: columns [{}, {}) are outside a tensor of {}", begin, begin + count,
                                 x.shape_string()));
  }
  if (begin == 0 && count == x.cols()) return x;
  Tape<S>& tape = x.tape();
  Tensor<S> out = tape.make(x.rows(), count, x.shape());
  tape.mutable_value(out) = x.value().middleCols(begin, count);
  if (!tape.records(x)) return out;
  return tape.record(out, slice_cols_vjp<S>, "slice_cols", {x}, {}, {static_cast<int>(begin)});
}

template <Scalar S>
Tensor<S> detail::pad_cols(const Tensor<S>& x, Eigen::Index begin, Eigen::Index cols) {
  Tape<S>& tape = x.tape();
  if (begin == 0 && cols == x.cols()) return x;
  Tensor<S> out = tape.make(x.rows(), cols, x.shape());
  auto o = tape.mutable_value(out);
  o.leftCols(begin).setZero();
  o.middleCols(begin, x.cols()) = x.value();
  o.rightCols(cols - begin - x.cols()).setZero();
  if (!tape.records(x)) return out;
  return tape.record(out, pad_cols_vjp<S>, "pad_cols", {x}, {}, {static_cast<int>(begin)});
}

template <Scalar S>
std::vector<Tensor<S>> split(const Tensor<S>& x, std::span<const Eigen::Index> sizes) {
  detail::require_defined(x, "split", "operand");
  Eigen::Index total = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] < 0) throw ShapeError(fmt::format("split: size {} of part {} is negative", sizes[i], i));
    total += sizes[i];
  }
  if (total != x.rows()) {
    throw ShapeError(fmt::format("split: sizes sum to {} rows but the tensor is {} ({} rows)", total,
                                 x.shape_string(), x.rows()));
  }
  std::vector<Tensor<S>> parts;
  parts.reserve(sizes.size());
  Eigen::Index begin = 0;
  for (const Eigen::Index size : sizes) {
    parts.push_back(slice_rows(x, begin, size));
    begin += size;
  }
  return parts;
}

template <Scalar S>
Tensor<S> reshape(const Tensor<S>& x, Eigen::Index rows, Eigen::Index cols, Shape shape) {
  detail::require_defined(x, "reshape", "operand");
  if (rows < 0 || cols < 0 || rows * cols != x.size()) {
    throw ShapeError(fmt::format("reshape: a tensor of {} ({} elements) cannot become {}x{} ({} elements)",
                                 x.shape_string(), x.size(), rows, cols, rows * cols));
  }
  if (shape.channels == 0) shape = Shape::features(rows);
  if (shape.size() != rows) {
    throw ShapeError(fmt::format("reshape: image shape {}x{}x{} does not hold {} rows (reshaping {} to {}x{})",
                                 shape.channels, shape.height, shape.width, rows, x.shape_string(), rows, cols));
  }
  if (rows == x.rows() && cols == x.cols() && shape == x.shape()) return x;
  Tape<S>& tape = x.tape();
  // Tensors are contiguous column-major, so the elements copy as they lie.
  Tensor<S> out = tape.make(rows, cols, shape);
  if (x.size() > 0) std::memcpy(const_cast<S*>(out.data()), x.data(), sizeof(S) * static_cast<std::size_t>(x.size()));
  if (!tape.records(x)) return out;
  return tape.record(out, reshape_vjp<S>, "reshape", {x});
}

template <Scalar S>
Tensor<S> transpose(const Tensor<S>& x) {
  detail::require_defined(x, "transpose", "operand");
  Tape<S>& tape = x.tape();
  Tensor<S> out = tape.make(x.cols(), x.rows());
  tape.mutable_value(out) = x.value().transpose();
  if (!tape.records(x)) return out;
  return tape.record(out, transpose_vjp<S>, "transpose", {x});
}

template <Scalar S>
Tensor<S> flatten(const Tensor<S>& x) {
  detail::require_defined(x, "flatten", "operand");
  return reshape(x, x.rows(), x.cols(), Shape::features(x.rows()));
}

#define ODEFLOW_INSTANTIATE(S)                                                                       \
  template Tensor<S> concat(std::span<const Tensor<S>>);                                             \
  template Tensor<S> concat(const Tensor<S>&, const Tensor<S>&);                                     \
  template Tensor<S> slice_rows(const Tensor<S>&, Eigen::Index, Eigen::Index);                       \
  template Tensor<S> slice_cols(const Tensor<S>&, Eigen::Index, Eigen::Index);                       \
  template Tensor<S> detail::pad_cols(const Tensor<S>&, Eigen::Index, Eigen::Index);                 \
  template Tensor<S> detail::pad_rows(const Tensor<S>&, Eigen::Index, Eigen::Index, Shape);          \
  template std::vector<Tensor<S>> split(const Tensor<S>&, std::span<const Eigen::Index>);            \
  template Tensor<S> reshape(const Tensor<S>&, Eigen::Index, Eigen::Index, Shape);                   \
  template Tensor<S> transpose(const Tensor<S>&);                                                    \
  template Tensor<S> flatten(const Tensor<S>&);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::ad
