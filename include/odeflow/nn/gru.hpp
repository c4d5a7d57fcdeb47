// GRUCell, PyTorch-compatible (names, shapes, gate order, init).
//
//   r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
//   z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//   n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))
//   h' = (1 - z) * n + z * h
//
// Parameters, in PyTorch's registration order: "weight_ih" [3H, I],
// "weight_hh" [3H, H], "bias_ih" [3H], "bias_hh" [3H] (biases optional); the
// rows of each are the gate blocks [r; z; n]. Every one is drawn from
// U(-1/sqrt(H), 1/sqrt(H)) in that order from `rng`, as PyTorch does.
//
// Calling: step(x, h) with x `input x batch` and h `hidden x batch` returns
// h'. forward(x) is step(x, 0) (PyTorch's GRUCell with hx = None). The cell
// deliberately does not override forward(t, x): that slot means "time,
// state" for every module (Sequential hands t to each child), so in a
// time-dependent Sequential the cell ignores t like any plain layer.
// Wrong input or hidden shapes throw ShapeError naming the layer and both shapes.
#pragma once

#include <odeflow/core/random.hpp>
#include <odeflow/nn/module.hpp>

namespace odeflow::nn {

template <Scalar S>
class GRUCell : public Module<S> {
 public:
  // Throws InvalidArgument for a size below 1.
  GRUCell(Eigen::Index input, Eigen::Index hidden, SplitMix64& rng, bool bias = true);
  std::string type_name() const override { return "GRUCell"; }
  using Module<S>::forward;
  Tensor<S> forward(const Tensor<S>& x) override;
  Tensor<S> step(const Tensor<S>& x, const Tensor<S>& h);

  Eigen::Index input_size() const { return input_; }
  Eigen::Index hidden_size() const { return hidden_; }

 private:
  Eigen::Index input_;
  Eigen::Index hidden_;
  ad::Parameter<S>* weight_ih_;
  ad::Parameter<S>* weight_hh_;
  ad::Parameter<S>* bias_ih_ = nullptr;
  ad::Parameter<S>* bias_hh_ = nullptr;
};

extern template class GRUCell<float>;
extern template class GRUCell<double>;

}  // namespace odeflow::nn
