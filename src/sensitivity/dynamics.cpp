#include "dynamics.hpp"

#include <fmt/format.h>

namespace odeflow::detail {
namespace {

template <Scalar S>
struct TapePool {
  std::vector<std::unique_ptr<ad::Tape<S>>> tapes;
  std::size_t depth = 0;
};

template <Scalar S>
TapePool<S>& pool() {
  thread_local TapePool<S> p;
  return p;
}

template <Scalar S>
void check_output(const ad::Tensor<S>& out, Eigen::Index rows, Eigen::Index cols, Time t) {
  if (!out.defined()) throw InvalidArgument(fmt::format("odeint: the dynamics returned no tensor at t = {}", t));
  if (out.rows() != rows || out.cols() != cols) {
    throw ShapeError(fmt::format("odeint: the dynamics returned a {}x{} tensor at t = {}; expected {}x{} (the shape "
                                 "of y)",
                                 out.rows(), out.cols(), t, rows, cols));
  }
}

}  // namespace

template <Scalar S>
ScratchTape<S>::ScratchTape() {
  TapePool<S>& p = pool<S>();
  if (p.depth == p.tapes.size()) p.tapes.push_back(std::make_unique<ad::Tape<S>>());
  tape_ = p.tapes[p.depth++].get();
  mark_ = tape_->mark();
}

template <Scalar S>
ScratchTape<S>::~ScratchTape() {
  tape_->rewind(mark_);
  --pool<S>().depth;
}

template <Scalar S>
void Dynamics<S>::eval(ad::Tape<S>& tape, Time t, const Eigen::Ref<const Matrix<S>>& y,
                       Eigen::Ref<Matrix<S>> dy) const {
  const auto mark = tape.mark();
  ad::NoGradScope<S> no_grad(tape);
  const ad::Tensor<S> out = f(tape.scalar(static_cast<S>(t)), tape.constant(y, shape));
  check_output(out, rows, cols, t);
  dy = out.value();
  tape.rewind(mark);
}

template <Scalar S>
void Dynamics<S>::vjp(ad::Tape<S>& tape, Time t, const Eigen::Ref<const Matrix<S>>& y,
                      const Eigen::Ref<const Matrix<S>>& bar, Eigen::Ref<Matrix<S>> y_bar, S* dy) const {
  const auto mark = tape.mark();
  {
    ad::GradScope<S> grad(tape);
    const ad::Tensor<S> y_in = tape.variable(y, shape);
    const ad::Tensor<S> out = f(tape.scalar(static_cast<S>(t)), y_in);
    check_output(out, rows, cols, t);
    if (dy != nullptr) Eigen::Map<Matrix<S>>(dy, rows, cols) = out.value();
    tape.set_recording(false);
    tape.backward(out, tape.constant(bar, out.shape()));
    const ad::Tensor<S> g = tape.gathered_grad(y_in);
    if (g.defined())
      y_bar = g.value();
    else
      y_bar.setZero();
  }
  tape.rewind(mark);
}

template <Scalar S>
typename Dynamics<S>::Recorded Dynamics<S>::record(ad::Tape<S>& tape, Time t, const Eigen::Ref<const Matrix<S>>& y,
                                                   Eigen::Ref<Matrix<S>> dy) const {
  Recorded r{tape.mark(), {}, {}};
  ad::GradScope<S> grad(tape);
  r.y_in = tape.variable(y, shape);
  r.out = f(tape.scalar(static_cast<S>(t)), r.y_in);
  check_output(r.out, rows, cols, t);
  dy = r.out.value();
  return r;
}

template <Scalar S>
void Dynamics<S>::vjp(ad::Tape<S>& tape, const Recorded& r, const Eigen::Ref<const Matrix<S>>& bar,
                      Eigen::Ref<Matrix<S>> y_bar) const {
  tape.backward(r.out, tape.constant(bar, r.out.shape()), r.mark);
  const ad::Tensor<S> g = tape.gathered_grad(r.y_in);
  if (g.defined())
    y_bar = g.value();
  else
    y_bar.setZero();
}

namespace {

// Spare graph tapes of this thread; a few, so that memory is not hoarded.
template <Scalar S>
std::vector<std::unique_ptr<ad::Tape<S>>>& spare_graph_tapes() {
  thread_local std::vector<std::unique_ptr<ad::Tape<S>>> spare;
  return spare;
}

}  // namespace

template <Scalar S>
GraphTape<S>::GraphTape() {
  auto& spare = spare_graph_tapes<S>();
  if (spare.empty()) {
    tape_ = std::make_unique<ad::Tape<S>>();
  } else {
    tape_ = std::move(spare.back());
    spare.pop_back();
  }
}

template <Scalar S>
GraphTape<S>::~GraphTape() {
  constexpr std::size_t kMaxSpare = 4;
  tape_->reset();
  auto& spare = spare_graph_tapes<S>();
  if (spare.size() < kMaxSpare) spare.push_back(std::move(tape_));
}

template <Scalar S>
Eigen::Index Dynamics<S>::parameter_size() const {
  Eigen::Index n = 0;
  for (const ad::Parameter<S>* p : params) n += p->value.size();
  return n;
}

template class ScratchTape<float>;
template class ScratchTape<double>;
template class GraphTape<float>;
template class GraphTape<double>;
template struct Dynamics<float>;
template struct Dynamics<double>;

}  // namespace odeflow::detail
