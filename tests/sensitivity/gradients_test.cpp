// Gradients through odeint: direct against finite differences of the
// discretized solve (every explicit method, fixed grids with outputs inside
// steps, adaptive steps replayed), checkpoint against direct, adjoint
// converging to direct, ts gradients, float32, and the errors.
#include "support/expect_error.hpp"

#include <odeflow/ad/ops.hpp>
#include <odeflow/core/error.hpp>
#include <odeflow/core/random.hpp>
#include <odeflow/nn/activation.hpp>
#include <odeflow/nn/linear.hpp>
#include <odeflow/nn/sequential.hpp>
#include <odeflow/sensitivity/odeint.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace odeflow {
namespace {

using test::expect_error;

// f(t, y) = L2(t, tanh(L1(t, y))) with ConcatLinear layers: depends on t, y and θ.
template <Scalar S>
std::unique_ptr<nn::Sequential<S>> make_net(std::uint64_t seed, Eigen::Index dim = 2, Eigen::Index hidden = 6) {
  SplitMix64 rng(seed);
  auto net = std::make_unique<nn::Sequential<S>>();
  net->push_back(std::make_unique<nn::ConcatLinear<S>>(dim, hidden, rng));
  net->push_back(std::make_unique<nn::Activation<S>>(nn::ActivationKind::kTanh));
  net->push_back(std::make_unique<nn::ConcatLinear<S>>(hidden, dim, rng));
  return net;
}

template <Scalar S>
Matrix<S> random_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  SplitMix64 rng(seed);
  Matrix<S> m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<S>(rng.normal());
  return m;
}

// Everything a gradient check needs: L = Σ_k sum(w_k ∘ y(t_k)) + ½ sum(y(t_K)²).
struct Problem {
  std::unique_ptr<nn::Sequential<double>> net = make_net<double>(7);
  Matrix<double> y0 = random_matrix<double>(2, 3, 11);
  std::vector<double> ts{0.0, 0.3, 0.75, 1.0};
  Matrix<double> w = random_matrix<double>(2, 3 * 4, 12);

  struct Grads {
    double loss = 0;
    Matrix<double> y0;
    Matrix<double> ts;
    std::vector<Matrix<double>> params;
    BackwardStats stats;
    Stats forward;
  };

  double loss(const Options& opt) {
    ad::Tape<double> tape;
    const auto traj = odeint(*net, tape.constant(y0), std::span<const Time>(ts), opt);
    return loss_of(tape, traj.ys).item();
  }

  ad::Tensor<double> loss_of(ad::Tape<double>& tape, const ad::Tensor<double>& ys) {
    const auto last = ad::slice_cols(ys, ys.cols() - y0.cols(), y0.cols());
    return ad::add(ad::sum(ad::mul(ys, tape.constant(w))), ad::mul(tape.scalar(0.5), ad::sum(ad::square(last))));
  }

  Grads grads(const Options& opt, const GradientOptions& g = {}) {
    ad::Tape<double> tape;
    ad::GradScope<double> scope(tape);
    net->zero_grad();
    const auto y0_t = tape.variable(y0);
    const auto ts_t = tape.variable(Eigen::Map<const Matrix<double>>(ts.data(), static_cast<Eigen::Index>(ts.size()), 1));
    const auto traj = odeint(*net, y0_t, ts_t, opt, g);
    const auto l = loss_of(tape, traj.ys);
    // y0 and ts through grad(); parameters through backward().
    const std::vector<ad::Tensor<double>> inputs{y0_t, ts_t};
    const auto gin = tape.grad(std::span<const ad::Tensor<double>>(&l, 1), inputs);
    Grads out;
    out.loss = l.item();
    out.y0 = gin[0].value();
    out.ts = gin[1].value();
    l.backward();
    for (auto* p : net->parameters()) out.params.push_back(p->grad);
    out.stats = traj.backward_stats();
    out.forward = traj.stats();
    return out;
  }

  // Central differences of loss(opt) in y0, every parameter element and each t.
  Grads finite_differences(const Options& opt, double eps = 1e-6, bool times = false) {
    Grads out;
    out.y0.resize(y0.rows(), y0.cols());
    for (Eigen::Index i = 0; i < y0.size(); ++i) {
      const double keep = y0.data()[i];
      y0.data()[i] = keep + eps;
      const double up = loss(opt);
      y0.data()[i] = keep - eps;
      const double down = loss(opt);
      y0.data()[i] = keep;
      out.y0.data()[i] = (up - down) / (2 * eps);
    }
    for (auto* p : net->parameters()) {
      Matrix<double> g(p->value.rows(), p->value.cols());
      for (Eigen::Index i = 0; i < g.size(); ++i) {
        const double keep = p->value.data()[i];
        p->value.data()[i] = keep + eps;
        const double up = loss(opt);
        p->value.data()[i] = keep - eps;
        const double down = loss(opt);
        p->value.data()[i] = keep;
        g.data()[i] = (up - down) / (2 * eps);
      }
      out.params.push_back(g);
    }
    if (times) {
      out.ts.resize(static_cast<Eigen::Index>(ts.size()), 1);
      for (std::size_t k = 0; k < ts.size(); ++k) {
        const double keep = ts[k];
        ts[k] = keep + eps;
        const double up = loss(opt);
        ts[k] = keep - eps;
        const double down = loss(opt);
        ts[k] = keep;
        out.ts(static_cast<Eigen::Index>(k), 0) = (up - down) / (2 * eps);
      }
    }
    return out;
  }
};

double rel_error(const Matrix<double>& got, const Matrix<double>& want) {
  return (got - want).cwiseAbs().maxCoeff() / std::max(1.0, want.cwiseAbs().maxCoeff());
}

void expect_close(const Problem::Grads& got, const Problem::Grads& want, double tol, bool times,
                  const std::string& what) {
  EXPECT_LE(rel_error(got.y0, want.y0), tol) << what << ": y0";
  ASSERT_EQ(got.params.size(), want.params.size());
  for (std::size_t i = 0; i < got.params.size(); ++i)
    EXPECT_LE(rel_error(got.params[i], want.params[i]), tol) << what << ": parameter " << i;
  if (times) EXPECT_LE(rel_error(got.ts, want.ts), tol) << what << ": ts";
}

// Every explicit method on a fixed grid whose steps do not meet the outputs,
// so each method's own interpolant is differentiated too.
class DirectOnGrid : public ::testing::TestWithParam<std::string> {};

TEST_P(DirectOnGrid, MatchesFiniteDifferencesOfTheDiscretization) {
  Problem pb;
  Options opt;
  opt.method = GetParam();
  opt.grid_points = {0.0, 0.13, 0.41, 0.62, 0.9, 1.0};
  const auto direct = pb.grads(opt);
  expect_close(direct, pb.finite_differences(opt), 2e-8, false, opt.method);
  EXPECT_GT(direct.stats.nfe, 0);
}

// The sweep goes through the graphs the forward evaluations kept instead of
// evaluating f again: the dynamics are called during the forward solve
// only, in both directions of time, on a grid and adaptively, and the
// gradient is the one finite differences check above.
TEST_P(DirectOnGrid, ReusesTheForwardGraphs) {
  for (const bool reversed : {false, true}) {
    for (const bool adaptive : {false, true}) {
      auto net = make_net<double>(3);
      const std::vector<ad::Parameter<double>*> params = net->parameters();
      std::int64_t calls = 0;
      TensorRhs<double> f = [&](const ad::Tensor<double>& t, const ad::Tensor<double>& y) {
        ++calls;
        return net->forward(t, y);
      };
      Options opt;
      opt.method = GetParam();
      std::vector<Time> ts{0.0, 0.3, 0.75, 1.0};
      if (!adaptive) opt.grid_points = {0.0, 0.13, 0.41, 0.62, 0.9, 1.0};
      if (reversed) {
        std::reverse(ts.begin(), ts.end());
        std::reverse(opt.grid_points.begin(), opt.grid_points.end());
      }
      const std::string what = opt.method + (reversed ? " reversed" : "") + (adaptive ? " adaptive" : "");
      ad::Tape<double> tape;
      ad::GradScope<double> scope(tape);
      const auto y0 = tape.variable(random_matrix<double>(2, 3, 5));
      const auto traj = odeint<double>(f, params, y0, std::span<const Time>(ts), opt);
      EXPECT_EQ(calls, traj.stats().nfe) << what;
      calls = 0;
      ad::sum(ad::mul(traj.ys, traj.ys)).backward();
      // Hermite interpolation inside a step of a method without FSAL uses
      // f(t1, y1), whose graph went with the next step: evaluated again.
      const BackwardStats& b = traj.backward_stats();
      EXPECT_EQ(calls, b.recomputed_nfe) << what;
      EXPECT_LE(b.recomputed_nfe, traj.stats().accepted) << what;
      if (opt.method == "dopri5" || opt.method == "tsit5" || opt.method == "bosh3") EXPECT_EQ(calls, 0) << what;
      EXPECT_GT(b.nfe, b.recomputed_nfe) << what;
      EXPECT_GT(params[0]->grad.cwiseAbs().maxCoeff(), 0.0) << what;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, DirectOnGrid,
                         ::testing::Values("euler", "midpoint", "heun2", "ralston", "rk4", "rk4_classic", "heun3",
                                           "adaptive_heun", "fehlberg2", "bosh3", "dopri5", "tsit5", "dopri8"),
                         [](const auto& info) { return info.param; });

// The adaptive loop records the same steps a fixed grid on its step times
// would take: the gradients agree to rounding.
TEST(Direct, AdaptiveStepsEqualTheirReplayOnAGrid) {
  for (const char* method : {"dopri5", "tsit5", "dopri8", "bosh3", "adaptive_heun"}) {
    Problem pb;
    Options opt;
    opt.method = method;
    opt.rtol = 1e-4;
    opt.atol = 1e-6;
    std::vector<double> grid{pb.ts.front()};
    opt.on_step = [&grid](const StepInfo& s) {
      if (s.accepted) grid.push_back(s.t0 + s.dt);
    };
    pb.grads(opt);
    // The last step overshoots ts.back() (outputs are interpolated): end ts
    // there instead, which leaves every step as it was.
    pb.ts.back() = grid.back();
    grid.resize(1);
    const auto adaptive = pb.grads(opt);
    Options fixed = opt;
    fixed.on_step = nullptr;
    fixed.grid_points = grid;
    expect_close(adaptive, pb.grads(fixed), 1e-11, false, method);
    EXPECT_GE(grid.size(), 3U) << method;
  }
}

TEST(Direct, AdaptiveGradientsApproachFiniteDifferences) {
  Problem pb;
  Options opt;
  opt.rtol = 1e-10;
  opt.atol = 1e-12;
  expect_close(pb.grads(opt), pb.finite_differences(opt, 1e-5, true), 1e-7, true, "dopri5 tight");
}

TEST(Checkpoint, EqualsDirect) {
  Problem pb;
  Options opt;
  opt.rtol = 1e-7;
  opt.atol = 1e-9;
  const auto direct = pb.grads(opt);
  for (int every : {1, 2, 3, 50}) {
    GradientOptions g{.gradient = Gradient::kCheckpoint, .checkpoint_every = every};
    const auto cp = pb.grads(opt, g);
    expect_close(cp, direct, 1e-12, true, "every " + std::to_string(every));
    EXPECT_GT(cp.stats.recomputed_nfe, 0);
  }
  // A budget of one checkpoint: the interval doubles as the solve goes on.
  GradientOptions g{.gradient = Gradient::kCheckpoint, .checkpoints = 1};
  expect_close(pb.grads(opt, g), direct, 1e-12, true, "checkpoints = 1");
  Options dopri8 = opt;
  dopri8.method = "dopri8";
  expect_close(pb.grads(dopri8, {.gradient = Gradient::kCheckpoint, .checkpoint_every = 2}), pb.grads(dopri8), 1e-12,
               true, "dopri8 with extra dense stages");
}

// Segments are re-run from their checkpoints: the replay must retake the
// forward loop's every attempt (rejections, the PI controller's memory,
// steps clipped to step_t and jump_t, FSAL and jumps across checkpoints,
// outputs inside segments, reverse time, fixed grids) for the gradient to
// equal direct's.
TEST(Checkpoint, ReplaysTheForwardSolveExactly) {
  struct Case {
    std::string name;
    Options opt;
    std::vector<double> ts{0.0, 0.3, 0.75, 1.0};
    int rejected_after_first = 0;  // at least this many rejected attempts after the first accepted step
  };
  std::vector<Case> cases;
  Options i_controller;
  i_controller.rtol = 1e-8;
  i_controller.atol = 1e-10;
  i_controller.first_step = 0.3;  // too large: rejected, and later steps grow into rejections
  cases.push_back({"dopri5 I, rejections", i_controller, {0.0, 3.0, 7.5, 10.0}, 3});
  Options pi = i_controller;
  pi.controller = Controller::kPI;  // the previous error ratio carried by each checkpoint
  cases.push_back({"dopri5 PI", pi, {0.0, 3.0, 7.5, 10.0}});
  pi.method = "tsit5";
  cases.push_back({"tsit5 PI reversed", pi, {10.0, 7.5, 3.0, 0.0}});
  Options clipped;
  clipped.rtol = 1e-6;
  clipped.atol = 1e-8;
  clipped.step_t = {0.41, 0.5};
  clipped.jump_t = {0.2, 0.6};
  cases.push_back({"dopri5 step_t/jump_t", clipped});
  cases.push_back({"dopri5 step_t/jump_t reversed", clipped, {1.0, 0.7, 0.25, 0.0}});
  Options hermite;
  hermite.method = "adaptive_heun";  // no FSAL: f(t1, y1) from the Hermite interpolant
  hermite.rtol = 1e-5;
  hermite.atol = 1e-7;
  cases.push_back({"adaptive_heun reversed", hermite, {1.0, 0.7, 0.25, 0.0}});
  Options dopri8;
  dopri8.method = "dopri8";  // extra dense stages recomputed in the segments
  dopri8.rtol = 1e-9;
  dopri8.atol = 1e-11;
  cases.push_back({"dopri8", dopri8});
  Options rk4;
  rk4.method = "rk4";
  rk4.step_size = 0.07;  // outputs inside steps, a shorter last step
  cases.push_back({"rk4 step_size", rk4});
  cases.push_back({"rk4 step_size reversed", rk4, {1.0, 0.7, 0.25, 0.0}});
  Options grid;
  grid.method = "bosh3";
  grid.grid_points = {1.0, 0.85, 0.5, 0.2, 0.0};
  grid.interpolation = FixedInterpolation::kLinear;
  cases.push_back({"bosh3 grid reversed", grid, {1.0, 0.7, 0.25, 0.0}});
  Options heun;
  heun.method = "heun2";
  heun.grid_points = {0.0, 0.13, 0.41, 0.62, 0.9, 1.0};
  heun.interpolation = FixedInterpolation::kLinear;
  cases.push_back({"heun2 grid, linear outputs", heun});

  for (const Case& c : cases) {
    Problem pb;
    pb.ts = c.ts;
    Options counted = c.opt;
    int accepted = 0, rejected_after_first = 0;
    counted.on_step = [&](const StepInfo& s) {
      if (s.accepted) ++accepted;
      else if (accepted > 0) ++rejected_after_first;
    };
    pb.loss(counted);
    EXPECT_GE(rejected_after_first, c.rejected_after_first) << c.name;
    const auto direct = pb.grads(c.opt);
    for (const GradientOptions& g : {GradientOptions{.gradient = Gradient::kCheckpoint, .checkpoint_every = 1},
                                     GradientOptions{.gradient = Gradient::kCheckpoint, .checkpoint_every = 3},
                                     GradientOptions{.gradient = Gradient::kCheckpoint, .checkpoints = 2},
                                     GradientOptions{.gradient = Gradient::kCheckpoint, .checkpoints = 1}}) {
      const std::string what = c.name + (g.checkpoint_every > 0 ? ", every " + std::to_string(g.checkpoint_every)
                                                                : ", budget " + std::to_string(g.checkpoints));
      const auto cp = pb.grads(c.opt, g);
      expect_close(cp, direct, 1e-12, true, what);
      EXPECT_LE(cp.stats.checkpoints, g.checkpoint_every > 0 ? direct.forward.accepted : g.checkpoints) << what;
      EXPECT_GE(cp.stats.checkpoints, 1) << what;
      // One more forward solve per level (attempts rejected before a
      // checkpoint's step are not retaken) plus each replay's first stage;
      // a budget of 1 or 2 splits segments longer than 2 steps.
      const std::int64_t replays = 1 + cp.stats.checkpoint_levels;
      EXPECT_GE(cp.stats.recomputed_nfe, replays * direct.forward.accepted) << what;
      EXPECT_LE(cp.stats.recomputed_nfe, replays * (direct.forward.nfe + direct.forward.accepted)) << what;
      if (g.checkpoint_every > 0) EXPECT_EQ(cp.stats.checkpoint_levels, 0) << what;
      else if (direct.forward.accepted > 8) EXPECT_GE(cp.stats.checkpoint_levels, 1) << what;
    }
  }
}

// A replay that does not retake the forward solve's steps (here: dynamics
// that changed between forward and backward) is detected, not differentiated.
TEST(Checkpoint, ADivergingReplayThrows) {
  auto net = make_net<double>(7);
  const std::vector<ad::Parameter<double>*> params = net->parameters();
  bool changed = false;
  TensorRhs<double> f = [&](const ad::Tensor<double>& t, const ad::Tensor<double>& y) {
    const auto out = net->forward(t, y);
    return changed ? ad::mul(out, y.tape().scalar(1.0 + 1e-9)) : out;
  };
  ad::Tape<double> tape;
  ad::GradScope<double> scope(tape);
  const auto y0 = tape.variable(random_matrix<double>(2, 3, 11));
  const std::vector<Time> ts{0.0, 1.0};
  Options opt;
  opt.rtol = 1e-6;
  const auto traj = odeint<double>(f, params, y0, std::span<const Time>(ts), opt,
                                   {.gradient = Gradient::kCheckpoint, .checkpoint_every = 2});
  const auto loss = ad::sum(ad::square(traj[1]));
  changed = true;
  expect_error<Error>([&] { loss.backward(); }, "replay diverged");
}

TEST(Adjoint, ConvergesToDirect) {
  Problem pb;
  double previous = 1.0;
  for (double rtol : {1e-4, 1e-7, 1e-10}) {
    Options opt;
    opt.rtol = rtol;
    opt.atol = rtol * 1e-2;
    const auto direct = pb.grads(opt);
    const auto adjoint = pb.grads(opt, {.gradient = Gradient::kAdjoint});
    double err = rel_error(adjoint.y0, direct.y0);
    for (std::size_t i = 0; i < direct.params.size(); ++i)
      err = std::max(err, rel_error(adjoint.params[i], direct.params[i]));
    err = std::max(err, rel_error(adjoint.ts, direct.ts));
    EXPECT_LT(err, std::max(1e-8, previous)) << "rtol " << rtol;
    if (rtol == 1e-10) EXPECT_LT(err, 1e-7);
    previous = err;
    EXPECT_GT(adjoint.stats.nfe, 0);
    EXPECT_EQ(adjoint.stats.stored_bytes, 0U);
  }
}

TEST(Adjoint, SeminormTakesFewerSteps) {
  Problem pb;
  Options opt;
  opt.rtol = 1e-8;
  opt.atol = 1e-10;
  const auto semi = pb.grads(opt, {.gradient = Gradient::kAdjoint});
  GradientOptions full{.gradient = Gradient::kAdjoint};
  full.adjoint.seminorm = false;
  const auto whole = pb.grads(opt, full);
  EXPECT_LE(semi.stats.nfe, whole.stats.nfe);
  expect_close(semi, whole, 1e-6, true, "seminorm vs full norm");
}

TEST(Adjoint, OwnMethodAndToleranceAndCallback) {
  Problem pb;
  Options opt;
  opt.rtol = 1e-9;
  opt.atol = 1e-11;
  GradientOptions g{.gradient = Gradient::kAdjoint};
  g.adjoint.method = "tsit5";
  g.adjoint.rtol = 1e-10;
  g.adjoint.atol = 1e-12;
  int calls = 0;
  bool backwards = true;
  g.adjoint.on_step = [&](const StepInfo& s) {
    ++calls;
    backwards = backwards && s.dt < 0;
  };
  const auto adjoint = pb.grads(opt, g);
  // grads() runs two backward passes (grad() for y0 and ts, backward() for θ).
  EXPECT_EQ(calls, 2 * (adjoint.stats.accepted + adjoint.stats.rejected));
  EXPECT_TRUE(backwards);
  expect_close(adjoint, pb.grads(opt), 1e-7, true, "tsit5 adjoint");
}

TEST(TimeGradients, MatchFiniteDifferencesForEveryMethodOfGradient) {
  Problem pb;
  Options opt;
  opt.rtol = 1e-10;
  opt.atol = 1e-12;
  const auto fd = pb.finite_differences(opt, 1e-5, true);
  for (Gradient g : {Gradient::kDirect, Gradient::kAdjoint, Gradient::kCheckpoint}) {
    const auto got = pb.grads(opt, {.gradient = g});
    EXPECT_LE(rel_error(got.ts, fd.ts), 1e-7) << static_cast<int>(g);
  }
}

TEST(Odeint, ValuesMatchThePlainSolve) {
  Problem pb;
  ad::Tape<double> tape;
  const auto traj = odeint(*pb.net, tape.constant(pb.y0), std::span<const Time>(pb.ts));
  ASSERT_EQ(traj.size(), pb.ts.size());
  EXPECT_EQ(traj.ys.rows(), 2);
  EXPECT_EQ(traj.ys.cols(), 12);
  EXPECT_EQ(traj[0].value(), pb.y0);
  EXPECT_GT(traj.stats().nfe, 0);
  EXPECT_EQ(tape.node_count(), 0U);  // nothing recorded outside a GradScope
}

TEST(Odeint, CallableWithExplicitParametersAndFloat) {
  auto net = make_net<float>(3);
  const std::vector<ad::Parameter<float>*> params = net->parameters();
  ad::Tape<float> tape;
  ad::GradScope<float> scope(tape);
  net->zero_grad();
  const auto y0 = tape.variable(random_matrix<float>(2, 4, 5));
  const std::vector<Time> ts{0.0, 0.5, 1.0};
  TensorRhs<float> f = [&](const ad::Tensor<float>& t, const ad::Tensor<float>& y) { return net->forward(t, y); };
  const auto traj = odeint<float>(f, params, y0, std::span<const Time>(ts));
  ad::sum(ad::square(traj[2])).backward();
  EXPECT_GT(params[0]->grad.cwiseAbs().maxCoeff(), 0.0F);
  EXPECT_TRUE(params[0]->grad.allFinite());
}

TEST(Odeint, Errors) {
  Problem pb;
  ad::Tape<double> tape;
  ad::GradScope<double> scope(tape);
  const auto y0 = tape.variable(pb.y0);
  Options adams;
  adams.method = "adams";
  expect_error<InvalidArgument>([&] { odeint(*pb.net, y0, std::span<const Time>(pb.ts), adams); },
                                "explicit Runge-Kutta");
  const auto bad_ts = tape.variable(Matrix<double>::Zero(2, 2));
  expect_error<ShapeError>([&] { odeint(*pb.net, y0, bad_ts); }, "K x 1");
  TensorRhs<double> wrong = [](const ad::Tensor<double>&, const ad::Tensor<double>& y) { return ad::slice_rows(y, 0, 1); };
  expect_error<ShapeError>([&] { odeint<double>(wrong, {}, y0, std::span<const Time>(pb.ts)); }, "expected 2x3");
  const auto traj = odeint(*pb.net, y0, std::span<const Time>(pb.ts));
  const auto l = ad::sum(traj.ys);
  expect_error<InvalidArgument>([&] { tape.grad(std::span<const ad::Tensor<double>>(&l, 1),
                                                std::vector<ad::Tensor<double>>{y0}, {}, true); },
                                "create_graph");
  expect_error<InvalidArgument>(
      [&] { odeint(*pb.net, y0, std::span<const Time>(pb.ts), {}, {.gradient = Gradient::kCheckpoint, .checkpoints = 0}); },
      "checkpoints");
}

}  // namespace
}  // namespace odeflow
