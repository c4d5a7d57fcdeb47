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
                      const Eigen::Ref<const Matrix<S>>& bar, Eigen::Ref<Matrix<S>> y_bar, Matrix<S>* dy) const {
  const auto mark = tape.mark();
  {
    ad::GradScope<S> grad(tape);
    const ad::Tensor<S> y_in = tape.variable(y, shape);
    const ad::Tensor<S> out = f(tape.scalar(static_cast<S>(t)), y_in);
    check_output(out, rows, cols, t);
    if (dy != nullptr) *dy = out.value();
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
Eigen::Index Dynamics<S>::parameter_size() const {
  Eigen::Index n = 0;
  for (const ad::Parameter<S>* p : params) n += p->value.size();
  return n;
}

template class ScratchTape<float>;
template class ScratchTape<double>;
template struct Dynamics<float>;
template struct Dynamics<double>;

}  // namespace odeflow::detail
