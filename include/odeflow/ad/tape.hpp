// The tape: arena memory for tensors plus the record of operations that a
// reverse-mode pass walks back.
//
// One tape per thread of work and per scalar type. Recording is off by
// default: ops then only compute values (in arena memory, no node). Inside a
// GradScope, an op whose inputs require gradients appends a node holding its
// VJP and the tensors that VJP needs. VJPs are written with the same ops, so
// a pass run with `create_graph` records the gradient computation itself and
// gradients of gradients work to any order.
//
// Memory: reset() (or rewind(mark)) releases every tensor and node at once
// and keeps the capacity, so after a warm-up iteration a repeated
// forward+backward performs no heap allocation.
//
// Gradients reach Parameters through leaves made by param(): backward()
// adds into Parameter::grad. grad() returns gradients as tensors instead,
// like torch.autograd.grad, and leaves parameters untouched.
#pragma once

#include <odeflow/ad/arena.hpp>
#include <odeflow/ad/parameter.hpp>
#include <odeflow/ad/tensor.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace odeflow::ad {

namespace detail {
// A vector whose elements never move: chunks of kChunk, kept on clear() and
// when shrinking. Appending to a tape of millions of nodes (a long solve's
// graph) then copies none of them, and references stay valid.
template <class T>
class ChunkedVector {
 public:
  static constexpr std::size_t kChunk = 256;

  std::size_t size() const { return size_; }
  T& operator[](std::size_t i) { return chunks_[i / kChunk][i % kChunk]; }
  const T& operator[](std::size_t i) const { return chunks_[i / kChunk][i % kChunk]; }
  // A value-initialized element at the end.
  T& emplace_back() {
    if (size_ == chunks_.size() * kChunk) chunks_.push_back(std::make_unique<T[]>(kChunk));
    T& x = (*this)[size_++];
    x = T{};
    return x;
  }
  void shrink(std::size_t n) { size_ = std::min(size_, n); }
  void clear() { size_ = 0; }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_;
  std::size_t size_ = 0;
};
}  // namespace detail

template <Scalar S>
struct Node {
  // Adds the inputs' cotangents (via Tape::accumulate) given the output's.
  using Vjp = void (*)(Tape<S>& tape, const Node& node, const Tensor<S>& out_bar);

  Vjp vjp = nullptr;  // null for leaves
  const char* op = "leaf";
  std::array<Tensor<S>, 3> in{};
  Tensor<S> out;
  std::array<double, 4> attr{};  // op attributes (exponent, slope, …)
  std::array<int, 6> iattr{};    // integer attributes (kernel, stride, offsets, …)
  Parameter<S>* param = nullptr;
  Tensor<S> grad;  // the cotangent gathered during a backward pass
};

template <Scalar S>
class Tape {
 public:
  struct Mark {
    Arena::Mark arena;
    std::size_t nodes = 0;
    std::size_t contexts = 0;
  };

  Tape() = default;
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  bool recording() const { return recording_; }
  void set_recording(bool on) { recording_ = on; }

  // ---- Leaves ---------------------------------------------------------
  // A copy of `m` in the arena; never requires a gradient.
  Tensor<S> constant(const Eigen::Ref<const Matrix<S>>& m, Shape shape = {});
  // A copy of `m` that requires a gradient when recording (like
  // torch.tensor(m, requires_grad=True)).
  Tensor<S> variable(const Eigen::Ref<const Matrix<S>>& m, Shape shape = {});
  // A view of p.value (no copy; p must outlive the tensor) that requires a
  // gradient when recording and p.requires_grad; backward() adds into p.grad.
  Tensor<S> param(Parameter<S>& p);
  // A view of `m` without copying (m must outlive the tensor and not move).
  Tensor<S> view(const Matrix<S>& m, Shape shape = {});
  Tensor<S> scalar(S value);
  Tensor<S> full(Eigen::Index rows, Eigen::Index cols, S value, Shape shape = {});
  Tensor<S> zeros(Eigen::Index rows, Eigen::Index cols, Shape shape = {}) { return full(rows, cols, S(0), shape); }

  // ---- Reverse mode -------------------------------------------------------
  // Seeds `output` (1x1) with 1 and adds d output / d p to the grad of every
  // Parameter reached. With create_graph the pass itself is recorded.
  void backward(const Tensor<S>& output, bool create_graph = false);
  // The same with an explicit seed of output's shape (a VJP into parameters).
  void backward(const Tensor<S>& output, const Tensor<S>& seed, bool create_graph = false);
  // The same (no graph) through the nodes recorded since `from` only: a
  // graph kept after a mark, as odeint keeps one per stage. Earlier nodes
  // get no cotangent, and the pass does not visit them.
  void backward(const Tensor<S>& output, const Tensor<S>& seed, const Mark& from);
  // torch.autograd.grad: result[i] = sum_j (d outputs[j] / d inputs[i])^T grad_outputs[j],
  // zeros when inputs[i] does not influence the outputs. Empty grad_outputs
  // means ones for every (1x1) output. Parameters are left untouched.
  void grad(std::span<const Tensor<S>> outputs, std::span<const Tensor<S>> inputs,
            std::span<const Tensor<S>> grad_outputs, std::span<Tensor<S>> result, bool create_graph = false);
  std::vector<Tensor<S>> grad(std::span<const Tensor<S>> outputs, std::span<const Tensor<S>> inputs,
                              std::span<const Tensor<S>> grad_outputs = {}, bool create_graph = false);
  Tensor<S> grad(const Tensor<S>& output, const Tensor<S>& input, const Tensor<S>& grad_output,
                 bool create_graph = false);

  // ---- Memory -------------------------------------------------------------
  void reset();
  Mark mark() const { return Mark{arena_.mark(), nodes_.size(), contexts_.size()}; }
  void rewind(const Mark& m);
  std::size_t node_count() const { return nodes_.size(); }
  // Arena bytes in use, and the most in use since construction or reset_peak().
  std::size_t bytes_in_use() const { return arena_.bytes_in_use() + nodes_.size() * sizeof(Node<S>); }
  std::size_t peak_bytes() const { return arena_.peak_bytes() + peak_nodes_ * sizeof(Node<S>); }
  void reset_peak();

  // ---- For op implementations --------------------------------------------
  // Uninitialized storage for an op's result (not recorded).
  Tensor<S> make(Eigen::Index rows, Eigen::Index cols, Shape shape = {});
  typename Eigen::Map<Matrix<S>> mutable_value(const Tensor<S>& t) {
    return typename Eigen::Map<Matrix<S>>(const_cast<S*>(t.data()), t.rows(), t.cols());
  }
  // Whether an op on these inputs must be recorded.
  bool records(const Tensor<S>& a) const { return recording_ && a.requires_grad(); }
  bool records(const Tensor<S>& a, const Tensor<S>& b) const {
    return recording_ && (a.requires_grad() || b.requires_grad());
  }
  bool records(const Tensor<S>& a, const Tensor<S>& b, const Tensor<S>& c) const {
    return recording_ && (a.requires_grad() || b.requires_grad() || c.requires_grad());
  }
  // Appends a node for `out` and returns `out` tagged with it.
  Tensor<S> record(Tensor<S> out, typename Node<S>::Vjp vjp, const char* op, std::array<Tensor<S>, 3> in,
                   std::array<double, 4> attr = {}, std::array<int, 6> iattr = {});
  // Inside a VJP: whether `input` wants a cotangent in the current pass, and
  // adding one (summed with earlier contributions).
  bool wants(const Tensor<S>& input) const { return input.node() >= pass_stop_; }
  // Ops whose VJP needs more than three tensors and a few numbers (odeint,
  // events) keep their state in a context object that lives as long as the
  // node (until reset() or a rewind past it); the VJP gets it back with
  // context(node). The op's VJP may accumulate into any earlier tensor.
  Tensor<S> record_custom(Tensor<S> out, typename Node<S>::Vjp vjp, const char* op, std::array<Tensor<S>, 3> in,
                          std::shared_ptr<void> context);
  void* context(const Node<S>& node) const { return contexts_[static_cast<std::size_t>(node.iattr[5])].get(); }
  // The cotangent that the last backward() gathered for `t`, a variable()
  // leaf or any tensor that is not a Parameter's (undefined when none
  // reached it): backward() then serves as a VJP into parameters and inputs.
  Tensor<S> gathered_grad(const Tensor<S>& t) const;
  void accumulate(const Tensor<S>& input, const Tensor<S>& bar);
  // Inside a VJP of a backward() pass that builds no graph: the gradient of
  // the Parameter behind `input` (sized), which the VJP may add its
  // contribution to in place; null otherwise (then use accumulate()).
  Matrix<S>* parameter_grad(const Tensor<S>& input);

 private:
  void run_pass(std::span<const Tensor<S>> outputs, std::span<const Tensor<S>> seeds, std::int32_t stop,
                bool create_graph);
  // backward()'s pass over the nodes from `stop` on, after its checks; false
  // when the output needs no gradient.
  bool seeded_pass(const Tensor<S>& output, const Tensor<S>& seed, std::int32_t stop, bool create_graph);
  Tensor<S> leaf(S* data, Eigen::Index rows, Eigen::Index cols, Shape shape, bool requires_grad,
                 Parameter<S>* param);

  Arena arena_;
  detail::ChunkedVector<Node<S>> nodes_;
  std::vector<std::shared_ptr<void>> contexts_;
  std::size_t peak_nodes_ = 0;
  bool recording_ = false;
  std::int32_t pass_stop_ = INT32_MAX;  // nodes below this get no cotangent
  bool into_parameters_ = false;        // parameter cotangents go straight into Parameter::grad
};

// Recording on for the scope's lifetime (then restored).
template <Scalar S>
class GradScope {
 public:
  explicit GradScope(Tape<S>& tape, bool on = true) : tape_(tape), was_(tape.recording()) { tape.set_recording(on); }
  ~GradScope() { tape_.set_recording(was_); }
  GradScope(const GradScope&) = delete;
  GradScope& operator=(const GradScope&) = delete;

 private:
  Tape<S>& tape_;
  bool was_;
};

// Recording off for the scope's lifetime.
template <Scalar S>
class NoGradScope : public GradScope<S> {
 public:
  explicit NoGradScope(Tape<S>& tape) : GradScope<S>(tape, false) {}
};

template <Scalar S>
void Tensor<S>::backward() const {
  tape_->backward(*this);
}

extern template class Tape<float>;
extern template class Tape<double>;

}  // namespace odeflow::ad
