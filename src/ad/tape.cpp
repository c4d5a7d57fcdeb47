#include <odeflow/ad/ops.hpp>
#include <odeflow/ad/tape.hpp>
#include <odeflow/core/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace odeflow::ad {

std::string describe_shape(Eigen::Index rows, Eigen::Index cols, const Shape& shape) {
  if (shape.is_image()) return fmt::format("{}x{} (image {}x{}x{})", rows, cols, shape.channels, shape.height, shape.width);
  return fmt::format("{}x{}", rows, cols);
}

template <Scalar S>
S Tensor<S>::item() const {
  if (rows_ != 1 || cols_ != 1) throw ShapeError(fmt::format("item: tensor is {}, not 1x1", shape_string()));
  return *data_;
}

namespace {

// Out of line: keeps the message's formatting off make(), which every op calls.
[[noreturn, gnu::cold, gnu::noinline]] void bad_shape(Shape shape, Eigen::Index rows) {
  throw ShapeError(fmt::format("tensor: shape {}x{}x{} does not hold {} rows", shape.channels, shape.height,
                               shape.width, rows));
}

}  // namespace

template <Scalar S>
Tensor<S> Tape<S>::make(Eigen::Index rows, Eigen::Index cols, Shape shape) {
  const std::size_t count = static_cast<std::size_t>(rows * cols);
  S* data = static_cast<S*>(arena_.allocate(sizeof(S) * (count > 0 ? count : 1)));
  if (shape.channels == 0) shape = Shape::features(rows);
  else if (shape.size() != rows) bad_shape(shape, rows);
  return Tensor<S>(this, data, rows, cols, shape, -1);
}

template <Scalar S>
Tensor<S> Tape<S>::leaf(S* data, Eigen::Index rows, Eigen::Index cols, Shape shape, bool requires_grad,
                        Parameter<S>* param) {
  if (shape.channels == 0) shape = Shape::features(rows);
  else if (shape.size() != rows) bad_shape(shape, rows);
  if (!(recording_ && requires_grad)) return Tensor<S>(this, data, rows, cols, shape, -1);
  const auto id = static_cast<std::int32_t>(nodes_.size());
  Node<S>& node = nodes_.emplace_back();  // in place: a Node is a few hundred bytes
  // Both handles built from the same scalars: copying a handle just written
  // field by field would stall on the store-to-load forwarding.
  node.out = Tensor<S>(this, data, rows, cols, shape, id);
  node.param = param;
  peak_nodes_ = std::max(peak_nodes_, nodes_.size());
  return Tensor<S>(this, data, rows, cols, shape, id);
}

template <Scalar S>
Tensor<S> Tape<S>::constant(const Eigen::Ref<const Matrix<S>>& m, Shape shape) {
  Tensor<S> t = make(m.rows(), m.cols(), shape);
  mutable_value(t) = m;
  return t;
}

template <Scalar S>
Tensor<S> Tape<S>::variable(const Eigen::Ref<const Matrix<S>>& m, Shape shape) {
  Tensor<S> t = constant(m, shape);
  return leaf(t.data_, t.rows(), t.cols(), t.shape(), true, nullptr);
}

template <Scalar S>
Tensor<S> Tape<S>::param(Parameter<S>& p) {
  return leaf(p.value.data(), p.value.rows(), p.value.cols(), {}, p.requires_grad, &p);
}

template <Scalar S>
Tensor<S> Tape<S>::view(const Matrix<S>& m, Shape shape) {
  return leaf(const_cast<S*>(m.data()), m.rows(), m.cols(), shape, false, nullptr);
}

template <Scalar S>
Tensor<S> Tape<S>::scalar(S value) {
  return full(1, 1, value);
}

template <Scalar S>
Tensor<S> Tape<S>::full(Eigen::Index rows, Eigen::Index cols, S value, Shape shape) {
  Tensor<S> t = make(rows, cols, shape);
  mutable_value(t).setConstant(value);
  return t;
}

template <Scalar S>
Tensor<S> Tape<S>::record(Tensor<S> out, typename Node<S>::Vjp vjp, const char* op, std::array<Tensor<S>, 3> in,
                          std::array<double, 4> attr, std::array<int, 6> iattr) {
  out.node_ = static_cast<std::int32_t>(nodes_.size());
  Node<S>& node = nodes_.emplace_back();  // in place: a Node is a few hundred bytes
  node.vjp = vjp;
  node.op = op;
  node.in = in;
  node.attr = attr;
  node.iattr = iattr;
  node.out = out;
  peak_nodes_ = std::max(peak_nodes_, nodes_.size());
  return out;
}

template <Scalar S>
Tensor<S> Tape<S>::record_custom(Tensor<S> out, typename Node<S>::Vjp vjp, const char* op,
                                 std::array<Tensor<S>, 3> in, std::shared_ptr<void> context) {
  std::array<int, 6> iattr{};
  iattr[5] = static_cast<int>(contexts_.size());
  contexts_.push_back(std::move(context));
  return record(out, vjp, op, in, {}, iattr);
}

template <Scalar S>
Tensor<S> Tape<S>::gathered_grad(const Tensor<S>& t) const {
  if (!t.requires_grad() || static_cast<std::size_t>(t.node()) >= nodes_.size()) return Tensor<S>();
  return nodes_[static_cast<std::size_t>(t.node())].grad;
}

template <Scalar S>
Matrix<S>* Tape<S>::parameter_grad(const Tensor<S>& input) {
  if (!into_parameters_ || !wants(input)) return nullptr;
  Parameter<S>* p = nodes_[static_cast<std::size_t>(input.node())].param;
  if (p == nullptr) return nullptr;
  if (p->grad.rows() != p->value.rows() || p->grad.cols() != p->value.cols()) p->grad.setZero(p->value.rows(), p->value.cols());
  return &p->grad;
}

template <Scalar S>
void Tape<S>::accumulate(const Tensor<S>& input, const Tensor<S>& bar) {
  if (!wants(input)) return;
  if (bar.rows() != input.rows() || bar.cols() != input.cols()) {
    throw ShapeError(fmt::format("backward of {}: cotangent is {} for an input of {}",
                                 nodes_[static_cast<std::size_t>(input.node())].op, bar.shape_string(),
                                 input.shape_string()));
  }
  if (Matrix<S>* target = parameter_grad(input)) {
    *target += bar.value();
    return;
  }
  Tensor<S>& g = nodes_[static_cast<std::size_t>(input.node())].grad;  // stays put while add() records
  g = g.defined() ? add(g, bar) : bar;
}

template <Scalar S>
void Tape<S>::run_pass(std::span<const Tensor<S>> outputs, std::span<const Tensor<S>> seeds, std::int32_t stop,
                       bool create_graph) {
  std::int32_t top = -1;
  for (const Tensor<S>& out : outputs) top = std::max(top, out.node());
  const std::int32_t first = std::max<std::int32_t>(stop, 0);
  for (std::int32_t id = first; id <= top; ++id) nodes_[static_cast<std::size_t>(id)].grad = Tensor<S>();
  pass_stop_ = first;
  GradScope<S> scope(*this, create_graph);
  for (std::size_t j = 0; j < outputs.size(); ++j) {
    if (outputs[j].requires_grad()) accumulate(outputs[j], seeds[j]);
  }
  for (std::int32_t id = top; id >= first; --id) {
    const Node<S>& node = nodes_[static_cast<std::size_t>(id)];
    if (node.vjp == nullptr || !node.grad.defined()) continue;
    node.vjp(*this, node, node.grad);  // nodes it appends (create_graph) do not move this one
  }
  pass_stop_ = INT32_MAX;
}

template <Scalar S>
void Tape<S>::backward(const Tensor<S>& output, bool create_graph) {
  if (output.rows() != 1 || output.cols() != 1) {
    throw ShapeError(fmt::format("backward: output is {}; pass a seed for a non-scalar output", output.shape_string()));
  }
  backward(output, full(1, 1, S(1)), create_graph);
}

template <Scalar S>
bool Tape<S>::seeded_pass(const Tensor<S>& output, const Tensor<S>& seed, std::int32_t stop, bool create_graph) {
  if (seed.rows() != output.rows() || seed.cols() != output.cols()) {
    throw ShapeError(fmt::format("backward: seed is {} for an output of {}", seed.shape_string(), output.shape_string()));
  }
  if (!output.requires_grad()) return false;
  // Without a graph, parameter gradients are added in place as they arrive.
  into_parameters_ = !create_graph;
  try {
    run_pass(std::span<const Tensor<S>>(&output, 1), std::span<const Tensor<S>>(&seed, 1), stop, create_graph);
  } catch (...) {
    into_parameters_ = false;
    throw;
  }
  into_parameters_ = false;
  return true;
}

template <Scalar S>
void Tape<S>::backward(const Tensor<S>& output, const Tensor<S>& seed, bool create_graph) {
  if (!seeded_pass(output, seed, 0, create_graph) || !create_graph) return;
  for (std::int32_t id = output.node(); id >= 0; --id) {
    const Node<S>& node = nodes_[static_cast<std::size_t>(id)];
    if (node.param == nullptr || !node.grad.defined()) continue;
    Parameter<S>& p = *node.param;
    if (p.grad.rows() != p.value.rows() || p.grad.cols() != p.value.cols()) p.grad.setZero(p.value.rows(), p.value.cols());
    p.grad += node.grad.value();
  }
}

template <Scalar S>
void Tape<S>::backward(const Tensor<S>& output, const Tensor<S>& seed, const Mark& from) {
  seeded_pass(output, seed, static_cast<std::int32_t>(from.nodes), false);
}

template <Scalar S>
void Tape<S>::grad(std::span<const Tensor<S>> outputs, std::span<const Tensor<S>> inputs,
                   std::span<const Tensor<S>> grad_outputs, std::span<Tensor<S>> result, bool create_graph) {
  if (result.size() != inputs.size()) {
    throw InvalidArgument(fmt::format("grad: {} results for {} inputs", result.size(), inputs.size()));
  }
  if (!grad_outputs.empty() && grad_outputs.size() != outputs.size()) {
    throw InvalidArgument(fmt::format("grad: {} grad_outputs for {} outputs", grad_outputs.size(), outputs.size()));
  }
  std::int32_t stop = INT32_MAX;
  for (const Tensor<S>& in : inputs) {
    if (!in.requires_grad()) continue;
    stop = std::min(stop, in.node());
    // An input above every output gets no pass: clear what an earlier pass left.
    nodes_[static_cast<std::size_t>(in.node())].grad = Tensor<S>();
  }
  if (stop != INT32_MAX) {
    // Seeds: the given ones, or ones for scalar outputs. The array is small and
    // lives on the stack; more outputs than that is not the inner loop.
    constexpr std::size_t kMaxSeeds = 8;
    std::array<Tensor<S>, kMaxSeeds> ones;
    std::vector<Tensor<S>> many;
    std::span<const Tensor<S>> seeds = grad_outputs;
    if (grad_outputs.empty()) {
      std::span<Tensor<S>> store = outputs.size() <= kMaxSeeds ? std::span<Tensor<S>>(ones.data(), outputs.size())
                                                               : std::span<Tensor<S>>(many = std::vector<Tensor<S>>(outputs.size()));
      for (std::size_t j = 0; j < outputs.size(); ++j) {
        if (outputs[j].rows() != 1 || outputs[j].cols() != 1) {
          throw ShapeError(fmt::format("grad: output {} is {}; pass grad_outputs for non-scalar outputs", j,
                                       outputs[j].shape_string()));
        }
        store[j] = full(1, 1, S(1));
      }
      seeds = store;
    }
    for (std::size_t j = 0; j < outputs.size(); ++j) {
      if (seeds[j].rows() != outputs[j].rows() || seeds[j].cols() != outputs[j].cols()) {
        throw ShapeError(fmt::format("grad: grad_output {} is {} for an output of {}", j, seeds[j].shape_string(),
                                     outputs[j].shape_string()));
      }
    }
    run_pass(outputs, seeds, stop, create_graph);
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor<S>& in = inputs[i];
    const Tensor<S> g = in.requires_grad() && stop != INT32_MAX ? nodes_[static_cast<std::size_t>(in.node())].grad : Tensor<S>();
    result[i] = g.defined() ? g : zeros(in.rows(), in.cols(), in.shape());
  }
}

template <Scalar S>
std::vector<Tensor<S>> Tape<S>::grad(std::span<const Tensor<S>> outputs, std::span<const Tensor<S>> inputs,
                                     std::span<const Tensor<S>> grad_outputs, bool create_graph) {
  std::vector<Tensor<S>> result(inputs.size());
  grad(outputs, inputs, grad_outputs, result, create_graph);
  return result;
}

template <Scalar S>
Tensor<S> Tape<S>::grad(const Tensor<S>& output, const Tensor<S>& input, const Tensor<S>& grad_output,
                        bool create_graph) {
  Tensor<S> result;
  grad(std::span<const Tensor<S>>(&output, 1), std::span<const Tensor<S>>(&input, 1),
       std::span<const Tensor<S>>(&grad_output, 1), std::span<Tensor<S>>(&result, 1), create_graph);
  return result;
}

template <Scalar S>
void Tape<S>::reset() {
  arena_.reset();
  nodes_.clear();
  contexts_.clear();
}

template <Scalar S>
void Tape<S>::rewind(const Mark& m) {
  arena_.rewind(m.arena);
  nodes_.shrink(m.nodes);
  contexts_.resize(std::min(contexts_.size(), m.contexts));
}

template <Scalar S>
void Tape<S>::reset_peak() {
  arena_.reset_peak();
  peak_nodes_ = nodes_.size();
}

template class Tensor<float>;
template class Tensor<double>;
template class Tape<float>;
template class Tape<double>;

}  // namespace odeflow::ad
