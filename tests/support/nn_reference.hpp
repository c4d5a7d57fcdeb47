// Checking a module against a PyTorch reference case in tests/data/nn (see
// its README): load the case's state_dict into the module, run the input
// forward, pull grad_output back, and compare output, grad_input and every
// grad.<param> (and grad_t for time-dependent layers).
#pragma once

#include "test_data.hpp"

#include <odeflow/ad/ops.hpp>
#include <odeflow/io/safetensors.hpp>
#include <odeflow/io/state_dict.hpp>
#include <odeflow/nn/module.hpp>

#include <gtest/gtest.h>

#include <string>

namespace odeflow::test {

struct ReferenceCheck {
  double output_tol = 1e-13;  // max-abs, relative to max(1, |reference|)
  double grad_tol = 1e-12;
  bool time = false;          // forward(t, x) with t (and grad_t) from the JSON
  ad::Shape input_shape{};    // the input's image geometry (default: plain features)
};

template <class A, class B>
double max_rel_error(const A& got, const B& want) {
  const double scale = std::max(1.0, want.template cast<double>().cwiseAbs().maxCoeff());
  return (got.template cast<double>() - want.template cast<double>()).cwiseAbs().maxCoeff() / scale;
}

template <Scalar S>
void expect_matches_reference(nn::Module<S>& module, const std::string& stem, const ReferenceCheck& check = {}) {
  const io::TensorFile file = io::read_safetensors(data_path("nn/" + stem + ".safetensors"));
  const nlohmann::json meta = load_json("nn/" + stem + ".json");
  io::load_state_dict(module, file, io::LoadOptions{.strict = false});
  module.zero_grad();

  ad::Tape<S> tape;
  ad::GradScope<S> scope(tape);
  const Matrix<S> input = file.batch<S>("input");
  const ad::Tensor<S> x = tape.variable(input, check.input_shape);
  const ad::Tensor<S> t = check.time ? tape.variable(Matrix<S>::Constant(1, 1, meta.at("t").get<S>())) : ad::Tensor<S>();
  const ad::Tensor<S> y = check.time ? module.forward(t, x) : module.forward(x);
  const Matrix<S> want = file.batch<S>("output");
  ASSERT_EQ(y.rows(), want.rows()) << stem;
  ASSERT_EQ(y.cols(), want.cols()) << stem;
  EXPECT_LE(max_rel_error(y.value(), want), check.output_tol) << stem << ": output";

  const ad::Tensor<S> seed = tape.constant(file.batch<S>("grad_output"));
  const ad::Tensor<S> loss = ad::sum(ad::mul(y, seed));
  std::vector<ad::Tensor<S>> inputs{x};
  if (check.time) inputs.push_back(t);
  const std::vector<ad::Tensor<S>> grads = tape.grad(std::span<const ad::Tensor<S>>(&loss, 1), inputs);
  EXPECT_LE(max_rel_error(grads[0].value(), file.batch<S>("grad_input")), check.grad_tol) << stem << ": grad_input";
  if (check.time) {
    EXPECT_LE(std::abs(static_cast<double>(grads[1].item()) - meta.at("grad_t").get<double>()) /
                  std::max(1.0, std::abs(meta.at("grad_t").get<double>())),
              check.grad_tol)
        << stem << ": grad_t";
  }
  tape.backward(loss);
  for (const nn::NamedParameter<S>& np : module.named_parameters()) {
    const io::Tensor& ref = file.at("grad." + np.name, np.param->shape);
    const std::vector<S> want_grad = ref.converted<S>();
    const Eigen::Map<const Matrix<S>> w(want_grad.data(), np.param->value.rows(), np.param->value.cols());
    EXPECT_LE(max_rel_error(np.param->grad, w), check.grad_tol) << stem << ": grad." << np.name;
  }
}

}  // namespace odeflow::test
