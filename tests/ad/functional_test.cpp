// Jacobian products and second-order gradients against PyTorch's
// mlp_hutchinson case (tests/data/nn): vjp, jvp, the per-sample Jacobian,
// its exact trace, the Hutchinson quadratic form, and the gradient of
// s = sum_b v_b^T J_b v_b with respect to the input and every parameter
// (which differentiates through a VJP, as CNF training does).
#include "support/expect_error.hpp"
#include "support/nn_reference.hpp"

#include <odeflow/ad/functional.hpp>
#include <odeflow/core/error.hpp>
#include <odeflow/nn/mlp.hpp>

#include <gtest/gtest.h>

namespace odeflow::ad {
namespace {

class Hutchinson : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = io::read_safetensors(test::data_path("nn/mlp_hutchinson.safetensors"));
    SplitMix64 rng(0);
    net_ = nn::make_mlp<double>(nn::MlpSpec{.sizes = {2, 16, 2}}, rng);
    io::load_state_dict(*net_, file_, io::LoadOptions{.strict = false});
  }
  Matrix<double> ref(const char* name) const { return file_.batch<double>(name); }

  io::TensorFile file_;
  std::unique_ptr<nn::Sequential<double>> net_;
};

TEST_F(Hutchinson, VjpJvpAndJacobianMatchPyTorch) {
  Tape<double> tape;
  GradScope<double> scope(tape);
  const Tensor<double> x = tape.variable(ref("input"));
  const Tensor<double> y = net_->forward(x);
  const Tensor<double> v = tape.constant(ref("v"));
  EXPECT_LE(test::max_rel_error(vjp(y, x, v).value(), ref("vjp")), 1e-14);
  EXPECT_LE(test::max_rel_error(jvp(y, x, v).value(), ref("jvp")), 1e-14);
  // jacobian [5, 2, 2] row-major: sample b's 2x2 block J[b](i, j) at b*4 + i*2 + j.
  const std::vector<double> jac = file_.at("jacobian").converted<double>();
  const std::vector<Matrix<double>> J = batch_jacobian(y, x);
  ASSERT_EQ(J.size(), 5u);
  const Matrix<double> full = jacobian(y, x);
  for (std::size_t b = 0; b < 5; ++b) {
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 2; ++j) {
        EXPECT_NEAR(J[b](i, j), jac[b * 4 + i * 2 + j], 1e-14);
        // The full Jacobian is block diagonal for a per-sample network.
        EXPECT_NEAR(full(static_cast<Eigen::Index>(b) * 2 + i, static_cast<Eigen::Index>(b) * 2 + j), jac[b * 4 + i * 2 + j], 1e-14);
      }
    }
  }
  EXPECT_EQ(full.cwiseAbs().sum(), [&] { double s = 0; for (double a : jac) s += std::abs(a); return s; }());
  EXPECT_LE(test::max_rel_error(divergence(y, x).value(), file_.matrix<double>("trace_jacobian").transpose()), 1e-14);
  EXPECT_LE(test::max_rel_error(hutchinson(y, x, v).value(), file_.matrix<double>("vJv").transpose()), 1e-14);
}

TEST_F(Hutchinson, GradientThroughTheVjpMatchesPyTorchSecondOrder) {
  Tape<double> tape;
  GradScope<double> scope(tape);
  net_->zero_grad();
  const Tensor<double> x = tape.variable(ref("input"));
  const Tensor<double> y = net_->forward(x);
  const Tensor<double> s = sum(hutchinson(y, x, tape.constant(ref("v")), /*create_graph=*/true));
  EXPECT_NEAR(s.item(), test::load_json("nn/mlp_hutchinson.json").at("s").get<double>(), 1e-14);
  EXPECT_LE(test::max_rel_error(tape.grad(s, x, tape.scalar(1.0)).value(), ref("grad_input")), 1e-13);
  tape.backward(s);
  for (const auto& np : net_->named_parameters()) {
    const std::vector<double> want = file_.at("grad." + np.name).converted<double>();
    const Eigen::Map<const Matrix<double>> w(want.data(), np.param->value.rows(), np.param->value.cols());
    EXPECT_LE(test::max_rel_error(np.param->grad, w), 1e-13) << np.name;
  }
  // The last bias does not enter the Jacobian.
  EXPECT_EQ(net_->named_parameters()[3].param->grad.cwiseAbs().maxCoeff(), 0.0);
}

TEST_F(Hutchinson, DivergenceIsDifferentiableLikeFiniteDifferences) {
  // d/dx of sum(divergence) against central differences of the divergence.
  auto total_divergence = [&](const Matrix<double>& input, Matrix<double>* grad) {
    Tape<double> tape;
    GradScope<double> scope(tape);
    const Tensor<double> x = tape.variable(input);
    const Tensor<double> d = sum(divergence(net_->forward(x), x, grad != nullptr));
    if (grad != nullptr) *grad = tape.grad(d, x, tape.scalar(1.0)).value();
    return d.item();
  };
  const Matrix<double> x0 = ref("input");
  Matrix<double> analytic;
  total_divergence(x0, &analytic);
  const double h = 1e-6;
  for (Eigen::Index k = 0; k < x0.size(); ++k) {
    Matrix<double> up = x0, down = x0;
    up.data()[k] += h;
    down.data()[k] -= h;
    EXPECT_NEAR(analytic.data()[k], (total_divergence(up, nullptr) - total_divergence(down, nullptr)) / (2 * h), 1e-7);
  }
}

TEST(Functional, ShapeErrorsNameBothShapes) {
  Tape<double> tape;
  GradScope<double> scope(tape);
  const Tensor<double> x = tape.variable(Matrix<double>::Ones(3, 2));
  const Tensor<double> y = sum(x, Axis::kRows);
  test::expect_error<ShapeError>([&] { divergence(y, x); }, "output 1x2 and input 3x2");
  test::expect_error<ShapeError>([&] { jvp(y, x, tape.constant(Matrix<double>::Ones(2, 2))); }, "direction 2x2 for an input of 3x2");
}

}  // namespace
}  // namespace odeflow::ad
