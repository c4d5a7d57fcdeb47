// clip_grad_norm against PyTorch 1.13's torch.nn.utils.clip_grad_norm_
// (tests/data/optim/clip_grad_norm.*): total norm, clipped gradients, the
// unclipped case, float gradients and the argument checks.
#include <odeflow/core/error.hpp>
#include <odeflow/optim/clip_grad.hpp>

#include <gtest/gtest.h>

#include "support/test_data.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace odeflow::optim {
namespace {

const nlohmann::json& reference_json() {
  static const auto json = test::load_json("optim/clip_grad_norm.json");
  return json;
}

const std::map<std::string, test::RefTensor>& reference_tensors() {
  static const auto tensors = test::load_safetensors("optim/clip_grad_norm.safetensors");
  return tensors;
}

// The three parameters of a case ([3,2], [3], [4]) with their gradients
// before clipping; values are irrelevant to clipping.
template <Scalar S>
struct Gradients {
  std::vector<std::vector<S>> values, grads;
  std::vector<ParamView<S>> views;

  explicit Gradients(const std::string& name) {
    for (int i = 0; i < 3; ++i) {
      const test::RefTensor& t = reference_tensors().at(name + ".grad_before." + std::to_string(i));
      grads.emplace_back(t.data.begin(), t.data.end());
      values.emplace_back(t.data.size(), S(0));
    }
    for (int i = 0; i < 3; ++i)
      views.push_back(ParamView<S>{std::to_string(i), values[static_cast<std::size_t>(i)],
                                   grads[static_cast<std::size_t>(i)], {}});
  }
};

double norm_type_of(const nlohmann::json& c) {
  return c["norm_type"].is_string() ? kInfNorm : c["norm_type"].get<double>();
}

class PyTorchClip : public ::testing::TestWithParam<std::string> {};

TEST_P(PyTorchClip, ReturnsTheTotalNormAndScalesGradientsAsPyTorch) {
  const nlohmann::json& c = reference_json()["cases"][GetParam()];
  Gradients<double> g(GetParam());
  const double total = clip_grad_norm(g.views, c["max_norm"], norm_type_of(c));
  EXPECT_NEAR(total, c["total_norm"].get<double>(), 2e-16 * total);
  for (int i = 0; i < 3; ++i) {
    const std::vector<double>& after = reference_tensors().at(GetParam() + ".grad_after." + std::to_string(i)).data;
    for (std::size_t j = 0; j < after.size(); ++j)
      EXPECT_NEAR(g.grads[static_cast<std::size_t>(i)][j], after[j], 2e-16 * std::abs(after[j]) + 1e-300)
          << "grad " << i << "[" << j << "]";
  }
}

TEST_P(PyTorchClip, FloatGradientsAgreeToSinglePrecision) {
  const nlohmann::json& c = reference_json()["cases"][GetParam()];
  Gradients<float> g(GetParam());
  const double total = clip_grad_norm(g.views, c["max_norm"], norm_type_of(c));
  EXPECT_NEAR(total, c["total_norm"].get<double>(), 1e-7 * total);
  for (int i = 0; i < 3; ++i) {
    const std::vector<double>& after = reference_tensors().at(GetParam() + ".grad_after." + std::to_string(i)).data;
    for (std::size_t j = 0; j < after.size(); ++j)
      EXPECT_NEAR(g.grads[static_cast<std::size_t>(i)][j], after[j], 2e-7 * std::abs(after[j]));
  }
}

INSTANTIATE_TEST_SUITE_P(ClipGradNorm, PyTorchClip, ::testing::Values("l2_clipped", "l2_not_clipped", "inf_clipped"),
                         [](const auto& info) { return info.param; });

TEST(ClipGradNorm, LeavesTheClippedNormJustBelowMaxNorm) {
  Gradients<double> g("l2_clipped");
  clip_grad_norm(g.views, 1.0);
  const double after = clip_grad_norm(g.views, 1e9);
  EXPECT_LT(after, 1.0);
  EXPECT_NEAR(after, 1.0, 2e-6);
}

TEST(ClipGradNorm, GeneralPNormIsThePNormOfAllElements) {
  std::vector<double> v1{0.0, 0.0}, g1{3.0, -4.0}, v2{0.0}, g2{1.0};
  std::vector<ParamView<double>> views{{"a", v1, g1, {}}, {"b", v2, g2, {}}};
  const double total = clip_grad_norm(views, 1e9, 3.0);
  EXPECT_NEAR(total, std::cbrt(27.0 + 64.0 + 1.0), 1e-14);
  EXPECT_EQ(g1[1], -4.0);  // max_norm far above: multiplied by exactly 1
}

template <class F>
void expect_invalid(F&& body, const std::string& needle) {
  try {
    body();
    FAIL() << "no exception; expected one mentioning '" << needle << "'";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

TEST(ClipGradNorm, RejectsBadArgumentsAndOptionallyNonFiniteNorms) {
  Gradients<double> g("l2_clipped");
  expect_invalid([&] { clip_grad_norm(g.views, -1.0); }, "max_norm = -1");
  expect_invalid([&] { clip_grad_norm(g.views, 1.0, 0.0); }, "norm_type = 0");
  g.grads[1][2] = std::numeric_limits<double>::quiet_NaN();
  const double before = g.grads[0][0];
  expect_invalid([&] { clip_grad_norm(g.views, 1.0, 2.0, true); }, "norm is nan");
  expect_invalid([&] { clip_grad_norm(g.views, 1.0, kInfNorm, true); }, "norm is nan");
  EXPECT_EQ(g.grads[0][0], before);  // nothing scaled when it throws
}

}  // namespace
}  // namespace odeflow::optim
