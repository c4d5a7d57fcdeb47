// odeint's dopri5 against torchdiffeq: step sequences, NFE and trajectories.
#include <odeflow/odeflow.hpp>

#include <gtest/gtest.h>

#include "support/problems.hpp"
#include "support/test_data.hpp"

#include <cmath>
#include <vector>

namespace odeflow {
namespace {

using test::lorenz;
using test::van_der_pol;

// torchdiffeq 0.2.5 on W3 (shared bench WORKLOADS.md §5, RESULTS.md).
TEST(Dopri5, ReproducesTorchdiffeqStepCountsOnLorenz) {
  Options opt;
  opt.rtol = 1e-8;
  opt.atol = 1e-8;
  Matrix<double> y0(3, 1);
  y0 << 1, 1, 1;
  const auto sol = odeint(lorenz, y0, {0.0, 20.0}, opt);
  EXPECT_EQ(sol.stats.accepted, 1628);
  EXPECT_EQ(sol.stats.rejected, 196);
  EXPECT_EQ(sol.stats.nfe, 10946);
}

TEST(Dopri5, ReproducesTorchdiffeqStepCountsOnVanDerPol) {
  Options opt;
  opt.rtol = 1e-8;
  opt.atol = 1e-8;
  Matrix<double> y0(2, 1);
  y0 << 2, 0;
  const auto sol = odeint(van_der_pol, y0, {0.0, 20.0}, opt);
  EXPECT_EQ(sol.stats.accepted, 310);
  EXPECT_EQ(sol.stats.rejected, 77);
  EXPECT_EQ(sol.stats.nfe, 2324);
}

// f(y) = W2 tanh(W1 y + b1) + b2 on a [features x batch] state.
struct TanhMlp {
  Eigen::MatrixXd w1, w2;
  Eigen::VectorXd b1, b2;
  Matrix<double> operator()(Time, const Matrix<double>& y) const {
    Matrix<double> h = ((w1 * y).colwise() + b1).array().tanh().matrix();
    return (w2 * h).colwise() + b2;
  }
};

TanhMlp load_mlp_tanh(const std::map<std::string, test::RefTensor>& t) {
  return {t.at("net.0.weight").matrix(), t.at("net.2.weight").matrix(), t.at("net.0.bias").matrix(),
          t.at("net.2.bias").matrix()};
}

TEST(Dopri5, ReproducesTorchdiffeqStepLogOnNeuralOde) {
  const auto tensors = test::load_safetensors("odeint/mlp_tanh.safetensors");
  const auto json = test::load_json("odeint/mlp_tanh.json");
  const TanhMlp f = load_mlp_tanh(tensors);
  const Eigen::MatrixXd y0 = tensors.at("y0").as_state();
  const auto t = json["t"].get<std::vector<double>>();

  for (const char* run : {"dopri5_default_tol.direct", "dopri5.direct"}) {
    SCOPED_TRACE(run);
    const auto& ref = json["runs"][run];
    Options opt;
    if (std::string(run) == "dopri5.direct") {
      opt.rtol = 1e-10;
      opt.atol = 1e-12;
    }
    std::vector<StepInfo> log;
    opt.on_step = [&log](const StepInfo& s) { log.push_back(s); };
    const auto sol = odeint(f, y0, t, opt);
    EXPECT_EQ(sol.stats.nfe, ref["nfe_forward"].get<int>());
    EXPECT_EQ(sol.stats.accepted, ref["accepted_steps_forward"].get<int>());
    EXPECT_EQ(sol.stats.rejected, ref["rejected_steps_forward"].get<int>());
    const auto& ref_log = ref["step_log_forward"];
    ASSERT_EQ(log.size(), ref_log.size());
    // The error estimate cancels digits, so f's last-bit differences (Eigen's
    // vs PyTorch's summation order) move later step sizes at ~1e-9 at default tolerances and ~1e-7 at rtol 1e-10.
    for (std::size_t i = 0; i < log.size(); ++i) {
      EXPECT_NEAR(log[i].t0, ref_log[i][0].get<double>(), 1e-6);
      EXPECT_NEAR(log[i].dt, ref_log[i][1].get<double>(), 1e-6 * std::abs(log[i].dt));
      EXPECT_EQ(log[i].accepted, ref_log[i][2].get<int>() == 1);
    }
  }
}

TEST(Dopri5, MatchesTorchdiffeqTrajectoryAndDop853Reference) {
  const auto tensors = test::load_safetensors("odeint/mlp_tanh.safetensors");
  const TanhMlp f = load_mlp_tanh(tensors);
  const Eigen::MatrixXd y0 = tensors.at("y0").as_state();
  const auto t = test::load_json("odeint/mlp_tanh.json")["t"].get<std::vector<double>>();
  Options opt;
  opt.rtol = 1e-10;
  opt.atol = 1e-12;
  const auto sol = odeint(f, y0, t, opt);
  ASSERT_EQ(sol.ys.size(), t.size());
  for (std::size_t i = 0; i < t.size(); ++i) {
    const Eigen::MatrixXd torch = tensors.at("dopri5.ys").slice_as_state(static_cast<std::int64_t>(i));
    const Eigen::MatrixXd exact = tensors.at("ys_reference_dop853").slice_as_state(static_cast<std::int64_t>(i));
    EXPECT_LT((sol.ys[i] - torch).cwiseAbs().maxCoeff(), 1e-13) << "t = " << t[i];
    EXPECT_LT((sol.ys[i] - exact).cwiseAbs().maxCoeff(), 1e-9) << "t = " << t[i];
  }
}

TEST(Odeint, IntegratesBackwardsInTime) {
  Matrix<double> y0(2, 1);
  y0 << 1.0, 0.5;
  auto rotation = [](Time, const Matrix<double>& y) {
    Matrix<double> dy(2, 1);
    dy << y(1), -y(0);
    return dy;
  };
  Options opt;
  opt.rtol = 1e-10;
  opt.atol = 1e-12;
  const auto sol = odeint(rotation, y0, {2.0, 1.0, -0.5}, opt);
  for (std::size_t k = 0; k < 3; ++k) {
    const double dt = sol.ts[k] - 2.0;  // exact solution from y(2) = y0
    const double c = std::cos(dt), s = std::sin(dt);
    EXPECT_NEAR(sol.ys[k](0), c * y0(0) + s * y0(1), 1e-8);
    EXPECT_NEAR(sol.ys[k](1), -s * y0(0) + c * y0(1), 1e-8);
  }
}

TEST(Odeint, SolvesFloat32States) {
  Matrix<float> y0(1, 3);
  y0 << 1.0f, 2.0f, -0.5f;
  Options opt;
  opt.rtol = 1e-5;
  opt.atol = 1e-6;
  const auto sol = odeint([](Time, const Matrix<float>& y) -> Matrix<float> { return -y; }, y0, {0.0, 1.0}, opt);
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(sol.ys[1](0, j), y0(0, j) * std::exp(-1.0f), 2e-5f);
}

}  // namespace
}  // namespace odeflow
