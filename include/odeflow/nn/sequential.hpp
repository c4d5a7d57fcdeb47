// Sequential: children named "0", "1", ... applied in order, as PyTorch's
// nn.Sequential (so an MLP's state_dict names are "0.weight", "2.bias").
// forward(t, x) hands t to every child, so time-dependent layers compose.
// A Linear followed by a Tanh or Sigmoid runs as one fused op (same values
// and gradients, one node and one pass fewer).
#pragma once

#include <odeflow/nn/module.hpp>

#include <memory>

namespace odeflow::nn {

template <Scalar S>
class Sequential : public Module<S> {
 public:
  Sequential() = default;
  std::string type_name() const override { return "Sequential"; }
  Tensor<S> forward(const Tensor<S>& x) override;
  Tensor<S> forward(const Tensor<S>& t, const Tensor<S>& x) override;

  template <class M>
  M& push_back(std::unique_ptr<M> layer) {
    M& ref = this->register_module(std::to_string(layers_.size()), std::move(layer));
    layers_.push_back(&ref);
    return ref;
  }
  std::size_t size() const { return layers_.size(); }
  Module<S>& operator[](std::size_t i) { return *layers_.at(i); }

 private:
  // For each layer: whether it is a Linear whose following activation is
  // fused into it (and then skipped). Rebuilt when layers are added.
  void plan();
  Tensor<S> run(const Tensor<S>* t, const Tensor<S>& x);

  std::vector<Module<S>*> layers_;
  std::vector<signed char> fused_;  // -1 none, else the ad::FusedActivation
};

extern template class Sequential<float>;
extern template class Sequential<double>;

}  // namespace odeflow::nn
