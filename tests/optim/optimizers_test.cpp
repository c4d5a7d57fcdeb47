// Every optimizer reproduces PyTorch 1.13's 20-step trajectory, losses and
// final state on the reference problem of tests/data/optim/optimizers.*, in
// double (to rounding) and float (to single precision), and resumes from an
// exported state bit-exactly.
#include <odeflow/optim/adam.hpp>
#include <odeflow/optim/rmsprop.hpp>
#include <odeflow/optim/sgd.hpp>

#include <gtest/gtest.h>

#include "support/test_data.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

namespace odeflow::optim {
namespace {

const nlohmann::json& reference_json() {
  static const auto json = test::load_json("optim/optimizers.json");
  return json;
}

const std::map<std::string, test::RefTensor>& reference_tensors() {
  static const auto tensors = test::load_safetensors("optim/optimizers.safetensors");
  return tensors;
}

Eigen::VectorXd json_vector(const nlohmann::json& j) {
  const auto v = j.get<std::vector<double>>();
  return Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(v.size()));
}

// L(p) = 0.5·Σ a(p − c)² + Σ tanh(b p), evaluated in the scalar type S.
template <Scalar S>
struct Problem {
  Vector<S> a = json_vector(reference_json()["a"]).cast<S>();
  Vector<S> b = json_vector(reference_json()["b"]).cast<S>();
  Vector<S> c = json_vector(reference_json()["c"]).cast<S>();

  S loss(const Vector<S>& p) const {
    return S(0.5) * (a.array() * (p - c).array().square()).sum() + tanh_bp(p).sum();
  }
  // dL/dp = a(p − c) + b(1 − tanh(b p)²), the JSON's formula.
  Vector<S> gradient(const Vector<S>& p) const {
    return (a.array() * (p - c).array() + b.array() * (S(1) - tanh_bp(p).square())).matrix();
  }
  // std::tanh (correctly rounded to ~1 ulp) rather than Eigen's vectorized
  // approximation, so the gradient does not depend on the build.
  Eigen::Array<S, Eigen::Dynamic, 1> tanh_bp(const Vector<S>& p) const {
    return (b.array() * p.array()).unaryExpr([](S x) { return std::tanh(x); });
  }
};

// Adam's and AdamW's shared fields from PyTorch's hyperparameters.
template <class Options>
Options adam_options(const nlohmann::json& hp) {
  return Options{.lr = hp["lr"],
                 .beta1 = hp["betas"][0],
                 .beta2 = hp["betas"][1],
                 .eps = hp["eps"],
                 .weight_decay = hp["weight_decay"],
                 .amsgrad = hp["amsgrad"],
                 .maximize = hp["maximize"]};
}

// Options from PyTorch's full hyperparameter set of one config.
template <Scalar S>
std::unique_ptr<Optimizer<S>> make_optimizer(const nlohmann::json& config, std::vector<ParamView<S>> params) {
  const std::string kind = config["optimizer"];
  const nlohmann::json& hp = config["all_hyperparameters"];
  if (kind == "torch.optim.SGD")
    return std::make_unique<Sgd<S>>(std::move(params), SgdOptions{.lr = hp["lr"],
                                                                  .momentum = hp["momentum"],
                                                                  .dampening = hp["dampening"],
                                                                  .weight_decay = hp["weight_decay"],
                                                                  .nesterov = hp["nesterov"],
                                                                  .maximize = hp["maximize"]});
  if (kind == "torch.optim.Adam")
    return std::make_unique<Adam<S>>(std::move(params), adam_options<AdamOptions>(hp));
  if (kind == "torch.optim.AdamW")
    return std::make_unique<AdamW<S>>(std::move(params), adam_options<AdamWOptions>(hp));
  if (kind == "torch.optim.RMSprop")
    return std::make_unique<RmsProp<S>>(std::move(params), RmsPropOptions{.lr = hp["lr"],
                                                                          .alpha = hp["alpha"],
                                                                          .eps = hp["eps"],
                                                                          .weight_decay = hp["weight_decay"],
                                                                          .momentum = hp["momentum"],
                                                                          .centered = hp["centered"],
                                                                          .maximize = hp["maximize"]});
  throw std::runtime_error("unknown optimizer " + kind);
}

// One parameter vector "p" with its gradient, driven by one optimizer.
template <Scalar S>
class Training {
 public:
  explicit Training(const std::string& config)
      : p_(json_vector(reference_json()["p0"]).cast<S>()), grad_(Vector<S>::Zero(p_.size())) {
    optimizer_ = make_optimizer<S>(reference_json()["configs"][config], {view_of<S>("p", p_, grad_)});
  }
  Training(const Training&) = delete;
  Training& operator=(const Training&) = delete;

  // PyTorch's zero_grad(); L.backward(); step().
  void step() {
    optimizer_->zero_grad();
    grad_ += problem_.gradient(p_);
    optimizer_->step();
  }

  // Overwrites the parameter values in place (the views stay valid).
  void load_parameters(const Vector<S>& p) { p_ = p; }
  const Vector<S>& p() const { return p_; }
  const Vector<S>& grad() const { return grad_; }
  const Problem<S>& problem() const { return problem_; }
  Optimizer<S>& optimizer() { return *optimizer_; }

 private:
  Problem<S> problem_;
  Vector<S> p_, grad_;
  std::unique_ptr<Optimizer<S>> optimizer_;
};

// max |x − ref| / max(1, |ref|).
template <class A, class B>
double scaled_error(const A& x, const B& ref) {
  return ((x.template cast<double>() - ref).array().abs() / ref.array().abs().max(1.0)).maxCoeff();
}

class PyTorchReference : public ::testing::TestWithParam<std::string> {
 protected:
  const test::RefTensor& tensor(const std::string& suffix) const {
    return reference_tensors().at(GetParam() + "." + suffix);
  }
  Eigen::VectorXd row(const std::string& suffix, Eigen::Index k) const { return tensor(suffix).matrix().row(k); }
};

TEST_P(PyTorchReference, DoublePrecisionTrajectoryLossesAndGradientsMatchToRounding) {
  Training<double> run(GetParam());
  const Eigen::VectorXd losses = tensor("losses").matrix();
  for (Eigen::Index k = 0; k < 20; ++k) {
    ASSERT_LE(scaled_error(run.p(), row("params", k)), 2e-15) << "params row " << k;
    EXPECT_NEAR(run.problem().loss(run.p()), losses(k), 1e-14 * std::abs(losses(k))) << "loss " << k;
    run.step();
    EXPECT_LE(scaled_error(run.grad(), row("grads", k)), 4e-15) << "grads row " << k;
  }
  EXPECT_LE(scaled_error(run.p(), row("params", 20)), 2e-15) << "params row 20";
  EXPECT_NEAR(run.problem().loss(run.p()), losses(20), 1e-14 * std::abs(losses(20)));
}

TEST_P(PyTorchReference, FinalStateHasPyTorchsKeysAndValues) {
  Training<double> run(GetParam());
  for (int k = 0; k < 20; ++k) run.step();
  const OptimizerState<double> state = run.optimizer().export_state();
  std::vector<std::string> ours, theirs;
  for (const auto& [name, array] : state.arrays) ours.push_back(name.substr(std::string("p.").size()));
  const std::string prefix = GetParam() + ".state.";
  for (const auto& [name, t] : reference_tensors())
    if (name.starts_with(prefix)) theirs.push_back(name.substr(prefix.size()));
  EXPECT_EQ(ours, theirs);  // both sorted by std::map
  for (const std::string& key : theirs) {
    const StateArray<double>& a = state.arrays.at("p." + key);
    EXPECT_EQ(a.shape, std::vector<std::int64_t>{5});
    const Eigen::Map<const Eigen::VectorXd> values(a.values.data(), 5);
    // RMSprop's momentum buffer sums g/√v, which amplifies rounding (~3e-15).
    EXPECT_LE(scaled_error(values, tensor("state." + key).matrix().col(0)), 1e-14) << key;
  }
  EXPECT_EQ(state.scalars.at("step"), 20.0);
}

// Single precision follows the double reference to a few float ulps (the
// largest deviation over all configs is 2.5e-7).
TEST_P(PyTorchReference, SinglePrecisionTrajectoryStaysWithinFloatRounding) {
  Training<float> run(GetParam());
  for (Eigen::Index k = 1; k <= 20; ++k) {
    run.step();
    EXPECT_LE(scaled_error(run.p(), row("params", k)), 1e-6) << "params row " << k;
  }
}

// Runs 20 steps uninterrupted and 8 + export + import into a fresh optimizer
// + 12, and expects identical bits.
template <Scalar S>
void expect_bit_exact_resume(const std::string& config) {
  Training<S> straight(config);
  for (int k = 0; k < 20; ++k) straight.step();

  Training<S> first(config);
  for (int k = 0; k < 8; ++k) first.step();
  const OptimizerState<S> saved = first.optimizer().export_state();
  Training<S> resumed(config);
  resumed.load_parameters(first.p());  // the model part of the checkpoint
  resumed.optimizer().import_state(saved);
  EXPECT_EQ(resumed.optimizer().step_count(), 8);
  for (int k = 0; k < 12; ++k) resumed.step();

  EXPECT_EQ(resumed.p(), straight.p());
  const OptimizerState<S> a = resumed.optimizer().export_state(), b = straight.optimizer().export_state();
  EXPECT_EQ(a.scalars, b.scalars);
  ASSERT_EQ(a.arrays.size(), b.arrays.size());
  for (const auto& [name, array] : a.arrays) EXPECT_EQ(array.values, b.arrays.at(name).values) << name;
}

TEST_P(PyTorchReference, ResumingFromExportedStateIsBitExactInDouble) { expect_bit_exact_resume<double>(GetParam()); }

TEST_P(PyTorchReference, ResumingFromExportedStateIsBitExactInFloat) { expect_bit_exact_resume<float>(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Optimizers, PyTorchReference,
                         ::testing::Values("sgd", "sgd_momentum_wd", "sgd_nesterov_wd", "adam_default", "adam_wd",
                                           "adam_amsgrad_wd", "adamw_wd", "rmsprop_momentum",
                                           "rmsprop_centered_momentum"),
                         [](const auto& info) { return info.param; });

TEST(PyTorchReference, EveryConfigInTheReferenceIsTested) {
  EXPECT_EQ(reference_json()["configs"].size(), 9u);
}

// The configs leave these fields at PyTorch's defaults; ours must agree.
TEST(OptionDefaults, AreThoseOfPyTorch) {
  const nlohmann::json& configs = reference_json()["configs"];
  const nlohmann::json& sgd = configs["sgd"]["all_hyperparameters"];
  const SgdOptions s;
  EXPECT_EQ(s.momentum, sgd["momentum"]);
  EXPECT_EQ(s.dampening, sgd["dampening"]);
  EXPECT_EQ(s.weight_decay, sgd["weight_decay"]);
  EXPECT_EQ(s.nesterov, sgd["nesterov"]);
  EXPECT_EQ(s.maximize, sgd["maximize"]);

  const nlohmann::json& adam = configs["adam_default"]["all_hyperparameters"];
  const AdamOptions a;
  EXPECT_EQ(a.lr, adam["lr"]);
  EXPECT_EQ(a.beta1, adam["betas"][0]);
  EXPECT_EQ(a.beta2, adam["betas"][1]);
  EXPECT_EQ(a.eps, adam["eps"]);
  EXPECT_EQ(a.weight_decay, adam["weight_decay"]);
  EXPECT_EQ(a.amsgrad, adam["amsgrad"]);
  EXPECT_FALSE(a.decoupled_weight_decay);

  const nlohmann::json& adamw = configs["adamw_wd"]["all_hyperparameters"];  // args: lr, weight_decay
  const AdamWOptions w;
  EXPECT_EQ(w.beta1, adamw["betas"][0]);
  EXPECT_EQ(w.beta2, adamw["betas"][1]);
  EXPECT_EQ(w.eps, adamw["eps"]);
  EXPECT_EQ(w.amsgrad, adamw["amsgrad"]);
  EXPECT_EQ(w.weight_decay, 1e-2);  // torch.optim.AdamW's documented default
  EXPECT_TRUE(w.as_adam().decoupled_weight_decay);

  const nlohmann::json& rms = configs["rmsprop_momentum"]["all_hyperparameters"];  // args: lr, alpha, momentum
  const RmsPropOptions r;
  EXPECT_EQ(r.alpha, rms["alpha"]);
  EXPECT_EQ(r.eps, rms["eps"]);
  EXPECT_EQ(r.weight_decay, rms["weight_decay"]);
  EXPECT_EQ(r.centered, rms["centered"]);
  EXPECT_EQ(r.lr, 1e-2);  // torch.optim.RMSprop's documented default
}

// PyTorch starts the momentum buffer at the first gradient, undampened:
// b1 = g, b2 = momentum·g + (1 − dampening)·g.
TEST(Sgd, DampeningSkipsTheFirstStep) {
  Eigen::VectorXd p = Eigen::VectorXd::Zero(1), grad = Eigen::VectorXd::Ones(1);
  Sgd<double> sgd({view_of<double>("p", p, grad)}, SgdOptions{.lr = 0.5, .momentum = 0.9, .dampening = 0.5});
  sgd.step();
  EXPECT_EQ(p(0), -0.5);
  sgd.step();
  EXPECT_DOUBLE_EQ(p(0), -0.5 - 0.5 * 1.4);
}

}  // namespace
}  // namespace odeflow::optim
