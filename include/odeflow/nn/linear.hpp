// Fully connected layers, PyTorch-compatible (names, shapes, default init).
//
//   Linear(in, out):              y = W x + b; "weight" [out, in], "bias" [out].
//   ConcatLinear(in, out):        time as one more input, "_layer" = Linear(in + 1, out)
//                                 applied to [x; t] (TimePosition::kLast) or [t; x]
//                                 (kFirst, FFJORD's diffeq_layers.ConcatLinear).
//   ConcatSquashLinear(in, out):  FFJORD's gated time dependence,
//                                 _layer(x) * sigmoid(_hyper_gate(t)) + _hyper_bias(t)
//                                 with _hyper_gate = Linear(1, out), _hyper_bias =
//                                 Linear(1, out, bias = false).
// Inputs are `in x batch`; t is a 1x1 tensor on the same tape.
// Initialization: PyTorch's default, drawn from `rng` layer by layer in
// registration order (weight, then bias).
#pragma once

#include <odeflow/ad/ops.hpp>
#include <odeflow/core/random.hpp>
#include <odeflow/nn/module.hpp>

namespace odeflow::nn {

template <Scalar S>
class Linear : public Module<S> {
 public:
  Linear(Eigen::Index in, Eigen::Index out, SplitMix64& rng, bool bias = true);
  std::string type_name() const override { return "Linear"; }
  using Module<S>::forward;
  Tensor<S> forward(const Tensor<S>& x) override;
  // activation(forward(x)) in one op (Sequential uses it for Linear + Tanh/Sigmoid).
  Tensor<S> forward(const Tensor<S>& x, ad::FusedActivation activation);

  Eigen::Index in_features() const { return in_; }
  Eigen::Index out_features() const { return out_; }
  ad::Parameter<S>& weight() { return *weight_; }
  ad::Parameter<S>* bias() { return bias_; }

 private:
  Eigen::Index in_;
  Eigen::Index out_;
  ad::Parameter<S>* weight_;
  ad::Parameter<S>* bias_ = nullptr;
};

enum class TimePosition { kFirst, kLast };

template <Scalar S>
class ConcatLinear : public Module<S> {
 public:
  ConcatLinear(Eigen::Index in, Eigen::Index out, SplitMix64& rng, TimePosition position = TimePosition::kLast);
  std::string type_name() const override { return "ConcatLinear"; }
  using Module<S>::forward;
  Tensor<S> forward(const Tensor<S>& t, const Tensor<S>& x) override;
  Linear<S>& layer() { return *layer_; }

 private:
  TimePosition position_;
  Linear<S>* layer_;
};

template <Scalar S>
class ConcatSquashLinear : public Module<S> {
 public:
  ConcatSquashLinear(Eigen::Index in, Eigen::Index out, SplitMix64& rng);
  std::string type_name() const override { return "ConcatSquashLinear"; }
  using Module<S>::forward;
  Tensor<S> forward(const Tensor<S>& t, const Tensor<S>& x) override;

 private:
  Linear<S>* layer_;
  Linear<S>* hyper_gate_;
  Linear<S>* hyper_bias_;
};

// Throws ShapeError naming the layer unless t is 1x1 on x's tape.
template <Scalar S>
void check_time(const char* layer, const Tensor<S>& t, const Tensor<S>& x);

extern template class Linear<float>;
extern template class Linear<double>;
extern template class ConcatLinear<float>;
extern template class ConcatLinear<double>;
extern template class ConcatSquashLinear<float>;
extern template class ConcatSquashLinear<double>;

}  // namespace odeflow::nn
