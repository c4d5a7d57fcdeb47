// Trajectories and gradients against torchdiffeq's on the reference models
// of tests/data/odeint (same weights; dopri5 at rtol 1e-10, and rk4/euler
// on the same fixed grid), in direct and adjoint mode.
#include "support/test_data.hpp"

#include <odeflow/ad/ops.hpp>
#include <odeflow/core/random.hpp>
#include <odeflow/io/safetensors.hpp>
#include <odeflow/nn/activation.hpp>
#include <odeflow/nn/linear.hpp>
#include <odeflow/nn/sequential.hpp>
#include <odeflow/sensitivity/odeint.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace odeflow {
namespace {

struct Case {
  const char* stem;
  std::vector<std::string> param_names;  // in the order of our module's parameters()
};

std::unique_ptr<nn::Sequential<double>> make_model(const std::string& stem) {
  SplitMix64 rng(1);
  auto net = std::make_unique<nn::Sequential<double>>();
  if (stem == "mlp_tanh") {
    net->push_back(std::make_unique<nn::Linear<double>>(2, 32, rng));
    net->push_back(std::make_unique<nn::Activation<double>>(nn::ActivationKind::kTanh));
    net->push_back(std::make_unique<nn::Linear<double>>(32, 2, rng));
  } else {
    net->push_back(std::make_unique<nn::ConcatLinear<double>>(3, 24, rng));
    net->push_back(std::make_unique<nn::Activation<double>>(nn::ActivationKind::kSoftplus));
    net->push_back(std::make_unique<nn::ConcatLinear<double>>(24, 3, rng));
  }
  return net;
}

// A tensor's row-major values as our column-major storage (same bytes).
Matrix<double> values(const io::TensorFile& file, const std::string& name, Eigen::Index rows, Eigen::Index cols) {
  const auto v = file.at(name).values<double>();
  EXPECT_EQ(static_cast<Eigen::Index>(v.size()), rows * cols) << name;
  return Eigen::Map<const Matrix<double>>(v.data(), rows, cols);
}

double rel(const Matrix<double>& got, const Matrix<double>& want) {
  return (got - want).cwiseAbs().maxCoeff() / std::max(1.0, want.cwiseAbs().maxCoeff());
}

struct Setting {
  std::string method;
  Gradient gradient;
  double value_tol;  // ys and loss
  double grad_tol;   // grad_y0 and parameters
  double t_tol;      // grad_t (< 0: no reference)
};

class Torchdiffeq : public ::testing::TestWithParam<Case> {};

TEST_P(Torchdiffeq, TrajectoriesAndGradients) {
  const Case& c = GetParam();
  const io::TensorFile file = io::read_safetensors(test::data_path(std::string("odeint/") + c.stem + ".safetensors"));
  auto net = make_model(c.stem);
  const auto params = net->parameters();
  ASSERT_EQ(params.size(), c.param_names.size());
  for (std::size_t i = 0; i < params.size(); ++i)
    params[i]->value = values(file, c.param_names[i], params[i]->value.rows(), params[i]->value.cols());
  const Matrix<double> y0 = file.batch<double>("y0");
  const auto ts_values = file.at("t").values<double>();
  const Eigen::Index K = static_cast<Eigen::Index>(ts_values.size());

  const std::vector<Setting> runs{
      {"dopri5", Gradient::kDirect, 1e-11, 1e-8, 1e-8},  {"dopri5", Gradient::kAdjoint, 1e-11, 1e-8, 1e-8},
      {"rk4", Gradient::kDirect, 1e-13, 1e-12, -1},      {"rk4", Gradient::kAdjoint, 1e-13, 1e-11, 1e-10},
      // dL/dt0: ours is −a(t0)·f(t0, y0), torchdiffeq's −Σ ḡ_k·f(t_k, y_k) plus the
      // integral of a·∂f/∂t; equal for the exact flow, O(h) apart for euler.
      {"euler", Gradient::kDirect, 1e-13, 1e-12, -1},    {"euler", Gradient::kAdjoint, 1e-13, 1e-11, 1e-3},
  };
  for (const Setting& run : runs) {
    const std::string mode = run.gradient == Gradient::kDirect ? "direct" : "adjoint";
    const std::string prefix = run.method + "." + mode + ".";
    SCOPED_TRACE(std::string(c.stem) + " " + prefix);
    Options opt;
    opt.method = run.method;
    if (run.method == "dopri5") {
      opt.rtol = 1e-10;
      opt.atol = 1e-12;
    } else {
      opt.step_size = 0.05;
      opt.interpolation = FixedInterpolation::kLinear;  // torchdiffeq's (outputs hit the grid here anyway)
    }
    net->zero_grad();
    ad::Tape<double> tape;
    ad::GradScope<double> scope(tape);
    const auto y0_t = tape.variable(y0);
    const auto ts_t = tape.variable(Eigen::Map<const Matrix<double>>(ts_values.data(), K, 1));
    const auto traj = odeint(*net, y0_t, ts_t, opt, {.gradient = run.gradient});
    const auto loss = ad::mul(tape.scalar(0.5), ad::sum(ad::square(traj.ys)));

    EXPECT_LE(rel(traj.ys.value(), values(file, run.method + ".ys", y0.rows(), y0.cols() * K)), run.value_tol);
    const double want_loss = file.at(prefix + "loss").values<double>()[0];
    EXPECT_NEAR(loss.item(), want_loss, run.value_tol * std::abs(want_loss));

    const std::vector<ad::Tensor<double>> inputs{y0_t, ts_t};
    const auto g = tape.grad(std::span<const ad::Tensor<double>>(&loss, 1), inputs);
    EXPECT_LE(rel(g[0].value(), file.batch<double>(prefix + "grad_y0")), run.grad_tol) << "grad_y0";
    if (run.t_tol > 0) EXPECT_LE(rel(g[1].value(), values(file, prefix + "grad_t", K, 1)), run.t_tol) << "grad_t";
    loss.backward();
    for (std::size_t i = 0; i < params.size(); ++i) {
      EXPECT_LE(rel(params[i]->grad, values(file, prefix + "grad." + c.param_names[i], params[i]->value.rows(),
                                            params[i]->value.cols())),
                run.grad_tol)
          << c.param_names[i];
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Models, Torchdiffeq,
    ::testing::Values(Case{"mlp_tanh", {"net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"}},
                      Case{"concat_softplus",
                           {"fc1._layer.weight", "fc1._layer.bias", "fc2._layer.weight", "fc2._layer.bias"}}),
    [](const auto& info) { return std::string(info.param.stem); });

}  // namespace
}  // namespace odeflow
