// The base of every layer: named parameters, buffers and child modules, with
// PyTorch's state_dict names ("net.0.weight": a child's names are prefixed by
// its name and a dot), train/eval mode, and the parameter bookkeeping a
// training loop needs.
//
// A module owns its parameters (ad::Parameter: value, gradient, PyTorch
// shape; storage convention in ad/parameter.hpp) at stable addresses, so
// optimizers and tapes may hold pointers to them for the module's lifetime.
// Modules are neither copyable nor movable for the same reason.
//
// forward: a layer of a plain network overrides forward(x); a layer whose
// output depends on time (ConcatLinear, ConcatSquashLinear, ConcatConv2d)
// overrides forward(t, x) with t a 1x1 tensor. forward(t, x) defaults to
// forward(x), so any layer composes in a time-dependent Sequential. Reading
// and writing state_dicts as files is io/'s job (io/state_dict.hpp).
#pragma once

#include <odeflow/ad/parameter.hpp>
#include <odeflow/ad/tensor.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace odeflow::nn {

template <Scalar S>
using Tensor = ad::Tensor<S>;

template <Scalar S>
struct NamedParameter {
  std::string name;
  ad::Parameter<S>* param;
};

template <Scalar S>
class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The module's type as PyTorch prints it ("Linear", "Sequential").
  virtual std::string type_name() const = 0;
  // Throws InvalidArgument naming the type if the module needs time.
  virtual Tensor<S> forward(const Tensor<S>& x);
  virtual Tensor<S> forward(const Tensor<S>& /*t*/, const Tensor<S>& x) { return forward(x); }
  Tensor<S> operator()(const Tensor<S>& x) { return forward(x); }
  Tensor<S> operator()(const Tensor<S>& t, const Tensor<S>& x) { return forward(t, x); }

  // Own parameters first, then each child's, in registration order (PyTorch's
  // order). Buffers likewise (BatchNorm's running statistics).
  std::vector<NamedParameter<S>> named_parameters();
  std::vector<NamedParameter<S>> named_buffers();
  std::vector<ad::Parameter<S>*> parameters();
  std::int64_t parameter_count();

  // train(false) = eval(); applies to the whole tree.
  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }
  void zero_grad();

  // All parameters (or gradients) concatenated in named_parameters() order,
  // each in its storage order (= PyTorch's row-major bytes).
  Vector<S> flat_parameters();
  Vector<S> flat_gradients();
  // Throws ShapeError unless `flat` has parameter_count() elements.
  void set_flat_parameters(const Eigen::Ref<const Vector<S>>& flat);

  // Direct children, in registration order.
  const std::vector<std::pair<std::string, Module*>>& children() const { return children_; }

 protected:
  // A zero parameter of PyTorch shape `shape`, owned by this module.
  ad::Parameter<S>& register_parameter(std::string name, std::vector<std::int64_t> shape);
  ad::Parameter<S>& register_buffer(std::string name, std::vector<std::int64_t> shape);
  template <class M>
  M& register_module(std::string name, std::unique_ptr<M> child) {
    M& ref = *child;
    adopt(std::move(name), std::unique_ptr<Module>(std::move(child)));
    return ref;
  }

 private:
  void adopt(std::string name, std::unique_ptr<Module> child);
  void collect(const std::string& prefix, bool buffers, std::vector<NamedParameter<S>>& out);
  void check_name(const std::string& name) const;

  std::vector<std::pair<std::string, std::unique_ptr<ad::Parameter<S>>>> params_;
  std::vector<std::pair<std::string, std::unique_ptr<ad::Parameter<S>>>> buffers_;
  std::vector<std::pair<std::string, Module*>> children_;
  std::vector<std::unique_ptr<Module>> owned_;
  bool training_ = true;
};

extern template class Module<float>;
extern template class Module<double>;

}  // namespace odeflow::nn
