// The Adams methods: coefficients, convergence orders of the fixed-step
// methods, and accuracy, dense output and error paths of the adaptive one.
#include <odeflow/odeflow.hpp>
#include <odeflow/solve/adams.hpp>

#include <gtest/gtest.h>

#include "support/problems.hpp"
#include "support/test_data.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace odeflow {
namespace {

using Rhs2 = std::function<void(Time, const Matrix<double>&, Matrix<double>&)>;

// ---------------------------------------------------------------- coefficients

TEST(AdamsCoefficients, MatchTheClassicalFourthOrderFormulas) {
  const auto b = adams_bashforth_coefficients(4);
  const auto m = adams_moulton_coefficients(4);
  const double ab4[] = {55, -59, 37, -9}, am4[] = {9, 19, -5, 1};
  for (int j = 0; j < 4; ++j) {
    EXPECT_DOUBLE_EQ(b[j], ab4[j] / 24.0);
    EXPECT_DOUBLE_EQ(m[j], am4[j] / 24.0);
  }
  EXPECT_DOUBLE_EQ(adams_moulton_gamma(4), -19.0 / 720.0);
  EXPECT_DOUBLE_EQ(adams_bashforth_gamma(12), 703604254357.0 / 2615348736000.0);
}

// Order k: exact for f = t^q, q < k, with f_{n−j} at t = −j and the step [0, 1].
TEST(AdamsCoefficients, IntegratePolynomialsExactlyUpToTheirOrder) {
  for (int k = 1; k <= kAdamsMaxOrder; ++k) {
    const auto b = adams_bashforth_coefficients(k);
    const auto m = adams_moulton_coefficients(k);
    for (int q = 0; q < k; ++q) {
      double sb = 0.0, sm = 0.0, scale_b = 0.0, scale_m = 0.0;  // scales: rounding of the sums
      for (int j = 0; j < k; ++j) {
        sb += b[j] * std::pow(-j, q);
        sm += m[j] * std::pow(1 - j, q);
        scale_b += std::abs(b[j] * std::pow(-j, q));
        scale_m += std::abs(m[j] * std::pow(1 - j, q));
      }
      EXPECT_NEAR(sb, 1.0 / (q + 1), 1e-14 * scale_b) << "AB order " << k << ", t^" << q;
      EXPECT_NEAR(sm, 1.0 / (q + 1), 1e-14 * scale_m) << "AM order " << k << ", t^" << q;
    }
  }
}

TEST(AdamsCoefficients, InterpolatoryWeightsOnUniformNodesAreTheClassicalOnes) {
  for (int k = 1; k <= kAdamsMaxOrder; ++k) {
    std::vector<double> nodes(k), w(k);
    for (int j = 0; j < k; ++j) nodes[j] = -0.5 * j;
    interpolatory_weights(nodes, 0.0, 0.5, w);
    const auto b = adams_bashforth_coefficients(k);
    for (int j = 0; j < k; ++j) EXPECT_NEAR(w[j], b[j], 1e-9 * std::max(1.0, std::abs(b[j])));
  }
  // Equispaced nodes filling the interval: the closed Newton–Cotes rules.
  std::vector<double> simpson(3), boole(5);
  interpolatory_weights(std::vector<double>{0.0, 1.0, 2.0}, 0.0, 2.0, simpson);
  interpolatory_weights(std::vector<double>{0.0, 0.25, 0.5, 0.75, 1.0}, 0.0, 1.0, boole);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(simpson[i], (i == 1 ? 4.0 : 1.0) / 6.0, 1e-15);
  const double boole_exact[] = {7, 32, 12, 32, 7};
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(boole[i], boole_exact[i] / 90.0, 1e-15);
  // … and every polynomial of degree < 13 integrated exactly on 13 such nodes.
  std::vector<double> nodes(13), w13(13);
  for (int j = 0; j < 13; ++j) nodes[j] = j;
  interpolatory_weights(nodes, 0.0, 12.0, w13);
  for (int q = 0; q < 13; ++q) {
    double sum = 0.0;
    for (int j = 0; j < 13; ++j) sum += w13[j] * std::pow(j / 12.0, q);
    EXPECT_NEAR(sum, 1.0 / (q + 1), 1e-13) << "t^" << q;
  }
  std::vector<double> w(2);
  EXPECT_THROW(interpolatory_weights(std::vector<double>{0.0, 0.0}, 0.0, 1.0, w), InvalidArgument);
}

// ---------------------------------------------------------- closed-form data

struct ClosedForm {
  std::string name;
  Rhs2 f;
  Matrix<double> y0;
};

std::vector<ClosedForm> closed_form_problems() {
  Matrix<double> one(1, 1), rot(2, 1);
  one << 1.0;
  rot << 1.0, 0.5;
  return {
      {"exp_decay", [](Time, const Matrix<double>& y, Matrix<double>& dy) { dy(0) = -y(0); }, one},
      {"rotation",
       [](Time, const Matrix<double>& y, Matrix<double>& dy) {
         dy(0) = y(1);
         dy(1) = -y(0);
       },
       rot},
      {"cos_growth", [](Time t, const Matrix<double>& y, Matrix<double>& dy) { dy(0) = std::cos(t) * y(0); }, one},
  };
}

// Max error over t = linspace(0, 2, 21) against the stored exact values.
double closed_form_error(const ClosedForm& p, const Options& opt) {
  static const auto data = test::load_safetensors("classic/closed_form.safetensors");
  const auto& t = data.at("t").data;
  const Eigen::MatrixXd exact = data.at(p.name + ".y_exact").matrix();
  const auto sol = odeint(p.f, p.y0, t, opt);
  double err = 0.0;
  for (std::size_t i = 0; i < t.size(); ++i)
    err = std::max(err, (sol.ys[i] - exact.row(static_cast<Eigen::Index>(i)).transpose()).cwiseAbs().maxCoeff());
  return err;
}

// Least-squares slope of log(error) against log(h).
double fitted_order(const std::vector<double>& h, const std::vector<double>& err) {
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < h.size(); ++i) {
    mx += std::log(h[i]) / h.size();
    my += std::log(err[i]) / h.size();
  }
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < h.size(); ++i) {
    sxy += (std::log(h[i]) - mx) * (std::log(err[i]) - my);
    sxx += (std::log(h[i]) - mx) * (std::log(h[i]) - mx);
  }
  return sxy / sxx;
}

double observed_order(const std::string& method, int order, const ClosedForm& p, bool irregular = false) {
  std::vector<double> hs, errs;
  for (int n : {40, 80, 160, 320}) {
    Options opt;
    opt.method = method;
    opt.max_order = order;
    if (irregular) {
      // Steps alternate 0.7h and 1.3h: classical coefficients would be first order here.
      for (int i = 0; i <= n; ++i) opt.grid_points.push_back(2.0 * (i + (i % 2 == 1 ? -0.15 : 0.0)) / n);
    } else {
      opt.step_size = 2.0 / n;
    }
    hs.push_back(2.0 / n);
    errs.push_back(closed_form_error(p, opt));
  }
  return fitted_order(hs, errs);
}

// ------------------------------------------------------ fixed-step methods

class FixedAdamsOrder : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(FixedAdamsOrder, ConvergesAtItsOrderOnEveryClosedFormProblem) {
  const auto& [method, order] = GetParam();
  for (const ClosedForm& p : closed_form_problems()) {
    const double slope = observed_order(method, order, p);
    EXPECT_NEAR(slope, order, 0.25) << method << " order " << order << " on " << p.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Orders1To4, FixedAdamsOrder,
                         ::testing::Combine(::testing::Values("explicit_adams", "implicit_adams"),
                                            ::testing::Values(1, 2, 3, 4)));

TEST(FixedAdams, KeepsHighOrdersThanksToTheCollocationStarter) {
  const ClosedForm p = closed_form_problems()[1];
  for (int order : {5, 6}) {
    std::vector<double> hs, errs;
    for (int n : {40, 60, 80, 120}) {
      Options opt;
      opt.method = "implicit_adams";
      opt.max_order = order;
      opt.step_size = 2.0 / n;
      hs.push_back(2.0 / n);
      errs.push_back(closed_form_error(p, opt));
    }
    EXPECT_NEAR(fitted_order(hs, errs), order, 0.5) << "order " << order;
  }
}

TEST(FixedAdams, KeepsItsOrderOnAnIrregularGrid) {
  const ClosedForm p = closed_form_problems()[2];
  for (const char* method : {"explicit_adams", "implicit_adams"})
    for (int order : {2, 4}) EXPECT_NEAR(observed_order(method, order, p, true), order, 0.25) << method << order;
}

TEST(FixedAdams, OrderOneBashforthIsEulerAndOrderOnePeceIsEulerThenBackwardEuler) {
  const ClosedForm p = closed_form_problems()[0];
  const std::vector<double> ts{0.0, 0.5, 1.0};
  Options ab, euler, pece;
  ab.method = "explicit_adams";
  pece.method = "implicit_adams";
  euler.method = "euler";
  ab.max_order = pece.max_order = 1;
  ab.step_size = euler.step_size = pece.step_size = 0.1;
  const auto a = odeint(p.f, p.y0, ts, ab), e = odeint(p.f, p.y0, ts, euler), c = odeint(p.f, p.y0, ts, pece);
  EXPECT_NEAR(a.ys[2](0), e.ys[2](0), 1e-15);
  EXPECT_NEAR(a.ys[2](0), std::pow(0.9, 10), 1e-14);
  // y' = −y: predictor y(1 − h), corrector y − h·y(1 − h) = y(1 − h + h²).
  EXPECT_NEAR(c.ys[2](0), std::pow(1 - 0.1 + 0.01, 10), 1e-14);
  EXPECT_EQ(a.stats.nfe, 10);  // f at t = 0 .. 0.9, none at the end
}

TEST(FixedAdams, InterpolatesBetweenGridPointsWithHermiteOrLinearly) {
  const ClosedForm p = closed_form_problems()[1];  // rotation, exact on linspace(0, 2, 21)
  Options opt;
  opt.method = "implicit_adams";
  opt.step_size = 0.02;
  opt.max_order = 4;
  std::vector<double> ts;
  for (int i = 0; i <= 40; ++i) ts.push_back(0.05 * i + (i % 3 == 1 ? 0.003 : 0.0));
  const auto sol = odeint(p.f, p.y0, ts, opt);
  double err = 0;
  for (std::size_t i = 0; i < ts.size(); ++i)
    err = std::max(err, std::abs(sol.ys[i](0) - (std::cos(ts[i]) + 0.5 * std::sin(ts[i]))));
  EXPECT_LT(err, 1e-7);  // Hermite: O(h^4) ≈ 1.6e-7·|y''''|/384
  opt.interpolation = FixedInterpolation::kLinear;
  const auto lin = odeint(p.f, p.y0, ts, opt);
  double lin_err = 0;
  for (std::size_t i = 0; i < ts.size(); ++i)
    lin_err = std::max(lin_err, std::abs(lin.ys[i](0) - (std::cos(ts[i]) + 0.5 * std::sin(ts[i]))));
  EXPECT_GT(lin_err, 1e-6);  // linear: O(h^2)
  EXPECT_LT(lin_err, 1e-4);
}

// ------------------------------------------------------------ DETEST

struct Detest {
  std::string name;
  Rhs2 f;
};

// Hand-coded from the expression strings in tests/data/classic/detest.json.
std::vector<Detest> detest_problems() {
  using M = Matrix<double>;
  return {
      {"A2", [](Time, const M& y, M& dy) { dy(0) = -y(0) * y(0) * y(0) / 2; }},
      {"A3", [](Time t, const M& y, M& dy) { dy(0) = y(0) * std::cos(t); }},
      {"A5", [](Time t, const M& y, M& dy) { dy(0) = (y(0) - t) / (y(0) + t); }},
      {"B1",
       [](Time, const M& y, M& dy) {
         dy(0) = 2 * (y(0) - y(0) * y(1));
         dy(1) = -(y(1) - y(0) * y(1));
       }},
      {"B3",
       [](Time, const M& y, M& dy) {
         dy(0) = -y(0);
         dy(1) = y(0) - y(1) * y(1);
         dy(2) = y(1) * y(1);
       }},
      {"B4",
       [](Time, const M& y, M& dy) {
         const double r = std::sqrt(y(0) * y(0) + y(1) * y(1));
         dy(0) = -y(1) - y(0) * y(2) / r;
         dy(1) = y(0) - y(1) * y(2) / r;
         dy(2) = y(0) / r;
       }},
      {"B5",
       [](Time, const M& y, M& dy) {
         dy(0) = y(1) * y(2);
         dy(1) = -y(0) * y(2);
         dy(2) = -0.51 * y(0) * y(1);
       }},
  };
}

// Max over t = 0..20 of |y − y_taylor_mp| / max(1, |y_taylor_mp|), componentwise.
double detest_error(const Detest& p, double rtol) {
  static const auto data = test::load_safetensors("classic/detest.safetensors");
  static const auto json = test::load_json("classic/detest.json");
  const auto y0v = json["problems"][p.name]["y0"].get<std::vector<double>>();
  const Matrix<double> y0 = Eigen::Map<const Eigen::VectorXd>(y0v.data(), static_cast<Eigen::Index>(y0v.size()));
  const Eigen::MatrixXd ref = data.at(p.name + ".y_taylor_mp").matrix();
  Options opt;
  opt.method = "adams";
  opt.rtol = rtol;
  opt.atol = rtol;
  const auto sol = odeint(p.f, y0, data.at("t").data, opt);
  double err = 0.0;
  for (Eigen::Index i = 0; i < ref.rows(); ++i)
    for (Eigen::Index c = 0; c < ref.cols(); ++c)
      err = std::max(err, std::abs(sol.ys[static_cast<std::size_t>(i)](c) - ref(i, c)) /
                              std::max(1.0, std::abs(ref(i, c))));
  return err;
}

TEST(Adams, ErrorFallsWithRtolAndReachesTheToleranceOnDetest) {
  for (const Detest& p : detest_problems()) {
    const double e4 = detest_error(p, 1e-4), e6 = detest_error(p, 1e-6), e8 = detest_error(p, 1e-8);
    EXPECT_LT(e6, e4) << p.name;
    EXPECT_LT(e8, e6) << p.name;
    EXPECT_LT(e8, 100 * 1e-8) << p.name << ": " << e8 / 1e-8 << "·rtol";
  }
}

// ------------------------------------------------------- adaptive method

using test::lorenz;
using test::van_der_pol;

// CVODE 6.4.1 Adams (fixed-point iteration) on the same problems takes 4931
// and 1175 f evaluations (shared bench RESULTS.md, W3).
TEST(Adams, CostsAboutAsManyEvaluationsAsCvodeAdams) {
  Options opt;
  opt.method = "adams";
  opt.rtol = opt.atol = 1e-8;
  Matrix<double> y0(3, 1);
  y0 << 1, 1, 1;
  const auto lz = odeint(lorenz, y0, {0.0, 20.0}, opt);
  Matrix<double> v0(2, 1);
  v0 << 2, 0;
  const auto vdp = odeint(van_der_pol, v0, {0.0, 20.0}, opt);
  EXPECT_LT(lz.stats.nfe, 1.3 * 4931);
  EXPECT_LT(vdp.stats.nfe, 1.3 * 1175);
}

// y' = y·cos t, y = exp(sin t).
void exp_sin(Time t, const Matrix<double>& y, Matrix<double>& dy) { dy = std::cos(t) * y; }

TEST(Adams, InterpolatesBetweenStepsToTheToleranceWithoutExtraSteps) {
  Options opt;
  opt.method = "adams";
  opt.rtol = opt.atol = 1e-8;
  Matrix<double> y0(1, 1);
  y0 << 1.0;
  std::vector<double> dense;
  for (int i = 0; i <= 1000; ++i) dense.push_back(0.01 * i);
  const auto few = odeint(exp_sin, y0, {0.0, 10.0}, opt);
  const auto many = odeint(exp_sin, y0, dense, opt);
  EXPECT_EQ(many.stats.nfe, few.stats.nfe);  // outputs never shorten a step
  EXPECT_EQ(many.stats.accepted, few.stats.accepted);
  EXPECT_EQ(many.ys.back()(0), few.ys.back()(0));
  double err = 0.0;
  for (std::size_t i = 0; i < dense.size(); ++i)
    err = std::max(err, std::abs(many.ys[i](0) - std::exp(std::sin(dense[i]))));
  EXPECT_LT(err, 100 * 1e-8);
  EXPECT_GT(few.stats.accepted, 20);  // so most outputs do lie strictly inside steps
}

Matrix<double> rotation_exact(const Matrix<double>& y0, double t) {
  Matrix<double> y(2, y0.cols());
  y.row(0) = std::cos(t) * y0.row(0) + std::sin(t) * y0.row(1);
  y.row(1) = -std::sin(t) * y0.row(0) + std::cos(t) * y0.row(1);
  return y;
}

void rotation(Time, const Matrix<double>& y, Matrix<double>& dy) {
  dy.row(0) = y.row(1);
  dy.row(1) = -y.row(0);
}

TEST(Adams, IntegratesBackwardsInTimeWithNegativeSteps) {
  Options opt;
  opt.method = "adams";
  opt.rtol = opt.atol = 1e-10;
  int steps = 0;
  opt.on_step = [&steps](const StepInfo& s) {
    EXPECT_LT(s.dt, 0.0);
    ++steps;
  };
  Matrix<double> y0(2, 1);
  y0 << 1.0, 0.5;
  const auto sol = odeint(rotation, y0, {2.0, 1.0, -0.5}, opt);
  EXPECT_EQ(steps, sol.stats.steps());
  for (std::size_t k = 0; k < 3; ++k)
    EXPECT_LT((sol.ys[k] - rotation_exact(y0, sol.ts[k] - 2.0)).cwiseAbs().maxCoeff(), 1e-8) << sol.ts[k];
}

TEST(Adams, SolvesABatchOfColumnsWithSharedSteps) {
  Matrix<double> y0(2, 3);
  y0 << 1.0, 0.0, -2.0, 0.5, 1.0, 0.3;
  for (const char* method : {"adams", "implicit_adams", "explicit_adams"}) {
    Options opt;
    opt.method = method;
    opt.rtol = opt.atol = 1e-9;
    opt.step_size = std::string(method) == "adams" ? 0.0 : 0.01;
    const auto sol = odeint(rotation, y0, {0.0, 1.0, 3.0}, opt);
    for (std::size_t k = 1; k < 3; ++k)
      EXPECT_LT((sol.ys[k] - rotation_exact(y0, sol.ts[k])).cwiseAbs().maxCoeff(), 1e-6) << method;
  }
}

TEST(Adams, SolvesFloat32States) {
  Matrix<float> y0(1, 3);
  y0 << 1.0f, 2.0f, -0.5f;
  auto decay = [](Time, const Matrix<float>& y) -> Matrix<float> { return -y; };
  for (const char* method : {"adams", "implicit_adams"}) {
    Options opt;
    opt.method = method;
    opt.rtol = 1e-5;
    opt.atol = 1e-6;
    opt.step_size = std::string(method) == "adams" ? 0.0 : 0.02;
    const auto sol = odeint(decay, y0, {0.0, 0.5, 1.0}, opt);
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(sol.ys[2](0, j), y0(0, j) * std::exp(-1.0f), 5e-5f) << method;
  }
}

// Local error ~ h^(k+1) ≤ tol: steps grow like tol^(−1/(k+1)); 100× tighter
// tolerances take 10× the steps at order 1, far fewer at order up to 12.
TEST(Adams, MaxOrderOneBehavesLikeAFirstOrderMethod) {
  Matrix<double> y0(2, 1);
  y0 << 1.0, 0.5;
  auto steps = [&y0](int max_order, double tol) {
    Options opt;
    opt.method = "adams";
    opt.max_order = max_order;
    opt.rtol = opt.atol = tol;
    const auto sol = odeint(rotation, y0, {0.0, 10.0}, opt);
    return static_cast<double>(sol.stats.accepted);
  };
  const double first_order = steps(1, 1e-6) / steps(1, 1e-4);
  EXPECT_GT(first_order, 6.0);
  EXPECT_LT(first_order, 16.0);
  EXPECT_LT(steps(0, 1e-6) / steps(0, 1e-4), 3.0);
}

TEST(Adams, LandsOnStepTimesAndRestartsAfterJumps) {
  // y' = 1 before t = 1 and −1 after: y(2) = 0 exactly from y(0) = 0.
  auto tent = [](Time t, const Matrix<double>&, Matrix<double>& dy) { dy(0) = t < 1.0 ? 1.0 : -1.0; };
  Options opt;
  opt.method = "adams";
  opt.rtol = opt.atol = 1e-8;
  opt.jump_t = {1.0};
  opt.step_t = {0.3};
  std::vector<double> ends;
  opt.on_step = [&ends](const StepInfo& s) {
    if (s.accepted) ends.push_back(s.t0 + s.dt);
  };
  const auto sol = odeint(tent, Matrix<double>::Zero(1, 1), {0.0, 0.5, 2.0}, opt);
  EXPECT_NE(std::find(ends.begin(), ends.end(), 0.3), ends.end());
  EXPECT_NE(std::find(ends.begin(), ends.end(), 1.0), ends.end());
  EXPECT_NEAR(sol.ys[1](0), 0.5, 1e-12);
  EXPECT_NEAR(sol.ys[2](0), 0.0, 1e-12);
}

TEST(Adams, ReportsEveryAttemptedStepToOnStep) {
  Options opt;
  opt.method = "adams";
  opt.rtol = opt.atol = 1e-8;
  std::int64_t accepted = 0, rejected = 0;
  double t = 0.0;
  opt.on_step = [&](const StepInfo& s) {
    EXPECT_EQ(s.t0, t);
    if (s.accepted) {
      EXPECT_LE(s.error_ratio, 1.0);
      t = s.t0 + s.dt;
      ++accepted;
    } else {
      EXPECT_GT(s.error_ratio, 1.0);
      ++rejected;
    }
  };
  // A kink at t = 1 (not announced through jump_t) forces rejections.
  auto kink = [](Time t, const Matrix<double>& y) -> Matrix<double> {
    return Matrix<double>::Constant(y.rows(), y.cols(), t < 1.0 ? std::cos(t) : -1.0);
  };
  const auto sol = odeint(kink, Matrix<double>::Zero(1, 1), {0.0, 2.0}, opt);
  EXPECT_EQ(accepted, sol.stats.accepted);
  EXPECT_EQ(rejected, sol.stats.rejected);
  EXPECT_GT(rejected, 0);
}

// ---------------------------------------------------------------- errors

template <class E>
std::string thrown_message(const std::function<void()>& run) {
  try {
    run();
  } catch (const E& e) {
    return e.what();
  }
  return "nothing thrown";
}

TEST(AdamsErrors, MaxNumStepsExceededNamesTheLimitAndTime) {
  Options opt;
  opt.method = "adams";
  opt.max_num_steps = 10;
  Matrix<double> y0(3, 1);
  y0 << 1, 1, 1;
  const std::string adaptive =
      thrown_message<MaxStepsExceeded>([&] { odeint(lorenz, y0, {0.0, 20.0}, opt); });
  EXPECT_NE(adaptive.find("max_num_steps = 10 exceeded at t = "), std::string::npos) << adaptive;
  opt.method = "explicit_adams";
  opt.step_size = 0.01;
  const std::string fixed = thrown_message<MaxStepsExceeded>([&] { odeint(lorenz, y0, {0.0, 20.0}, opt); });
  EXPECT_NE(fixed.find("max_num_steps = 10"), std::string::npos) << fixed;
}

TEST(AdamsErrors, NonFiniteStatesAreReported) {
  // f blows up to NaN after t = 0.5.
  auto poisoned = [](Time t, const Matrix<double>& y, Matrix<double>& dy) {
    dy = t > 0.5 ? Matrix<double>::Constant(1, 1, std::nan("")) : Matrix<double>(-y);
  };
  const Matrix<double> y0 = Matrix<double>::Ones(1, 1);
  Options opt;
  opt.method = "adams";
  const std::string underflow = thrown_message<StepSizeUnderflow>([&] { odeint(poisoned, y0, {0.0, 1.0}, opt); });
  EXPECT_NE(underflow.find("non-finite"), std::string::npos) << underflow;
  EXPECT_NE(underflow.find("at t = 0.5"), std::string::npos) << underflow;
  opt.min_step = 1e-3;
  EXPECT_THROW(odeint(poisoned, y0, {0.0, 1.0}, opt), NonFiniteError);
  opt.min_step = 0.0;
  for (const char* method : {"explicit_adams", "implicit_adams"}) {
    opt.method = method;
    opt.step_size = 0.1;
    const std::string fixed = thrown_message<NonFiniteError>([&] { odeint(poisoned, y0, {0.0, 1.0}, opt); });
    EXPECT_NE(fixed.find("non-finite state after the fixed step"), std::string::npos) << method << ": " << fixed;
  }
  opt.method = "adams";
  opt.step_size = 0.0;
  EXPECT_THROW(odeint(poisoned, y0, {1.0, 2.0}, opt), NonFiniteError);  // f(t0, y0) itself
}

TEST(AdamsErrors, AdaptiveAdamsRejectsAFixedStepSize) {
  Options opt;
  opt.method = "adams";
  opt.step_size = 0.1;
  const std::string msg = thrown_message<InvalidArgument>(
      [&] { odeint(exp_sin, Matrix<double>::Ones(1, 1), {0.0, 1.0}, opt); });
  EXPECT_NE(msg.find("step_size"), std::string::npos) << msg;
}

}  // namespace
}  // namespace odeflow
