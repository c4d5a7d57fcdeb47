// The bridge from a module to an optimizer: views of every parameter that
// requires a gradient, named as in the module's state_dict (the names key the
// optimizer's exported state), e.g.
//   optim::Adam<double> opt(optim::params_of(*net), {.lr = 1e-3});
// The module must outlive the optimizer (views point into its parameters).
#pragma once

#include <odeflow/nn/module.hpp>
#include <odeflow/optim/param_view.hpp>

#include <vector>

namespace odeflow::optim {

template <Scalar S>
std::vector<ParamView<S>> params_of(nn::Module<S>& module) {
  std::vector<ParamView<S>> views;
  for (const nn::NamedParameter<S>& np : module.named_parameters()) {
    ad::Parameter<S>& p = *np.param;
    if (!p.requires_grad) continue;
    if (p.grad.rows() != p.value.rows() || p.grad.cols() != p.value.cols()) p.zero_grad();
    views.push_back(view_of<S>(np.name, p.value, p.grad, p.shape));
  }
  return views;
}

}  // namespace odeflow::optim
