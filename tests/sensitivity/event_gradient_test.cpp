// The differentiable odeint_event (sensitivity/event.hpp): event time, state
// and their gradients against the analytic bouncing ball, and against finite
// differences on a problem with parameters in the dynamics and the event.
#include <odeflow/ad/gradcheck.hpp>
#include <odeflow/ad/ops.hpp>
#include <odeflow/sensitivity/event.hpp>

#include <gtest/gtest.h>

#include "support/expect_error.hpp"
#include "support/test_data.hpp"

#include <cmath>
#include <string>
#include <vector>

namespace odeflow {
namespace {

using ad::Tensor;
using T = Tensor<double>;
using test::expect_error;

Matrix<double> column(std::initializer_list<double> values) {
  Matrix<double> m(static_cast<Eigen::Index>(values.size()), 1);
  Eigen::Index i = 0;
  for (double v : values) m(i++) = v;
  return m;
}

// y = [h, v]: dh/dt = v, dv/dt = −g (g a plain number).
TensorRhs<double> falling(double g) {
  return [g](const T&, const T& y) { return ad::concat(ad::slice_rows(y, 1, 1), y.tape().scalar(-g)); };
}
T height(const T&, const T& y) { return ad::slice_rows(y, 0, 1); }

Options tight() {
  Options opt;  // the reference's call: dopri5, rtol 1e-10, atol 1e-12
  opt.rtol = 1e-10;
  opt.atol = 1e-12;
  return opt;
}

class BouncingBall : public ::testing::TestWithParam<Gradient> {};

TEST_P(BouncingBall, EventTimeStateAndGradientsMatchTheAnalyticReference) {
  const nlohmann::json ref = test::load_json("odeint/bouncing_ball_event.json");
  const nlohmann::json& want = ref["analytic"];
  ad::Tape<double> tape;
  ad::GradScope<double> grad(tape);
  const T y0 = tape.variable(column({ref["y0"][0], ref["y0"][1]}));
  const T t0 = tape.variable(Matrix<double>::Constant(1, 1, ref["t0"]));
  const EventResult<double> ev =
      odeint_event<double>(falling(9.8), {}, y0, t0, height, tight(), {}, {.gradient = GetParam()});

  EXPECT_NEAR(ev.t.item(), want["event_time"], 1e-12);
  EXPECT_NEAR(ev.y.value()(0), 0.0, 1e-11);
  EXPECT_NEAR(ev.y.value()(1), want["event_state"][1], 1e-11);
  // The differentiable solve repeats the search's steps and lands on its state.
  ASSERT_TRUE(ev.solve.has_value());
  EXPECT_EQ(ev.solve->stats().accepted, ev.search.stats.accepted);
  EXPECT_EQ(Matrix<double>(ev.y.value()), ev.search.y);

  // The problem is polynomial, which dopri5 and its interpolant integrate
  // exactly: the gradients agree to rounding (1e-15 measured).
  const std::vector<T> dt = tape.grad(std::vector<T>{ev.t}, std::vector<T>{y0, t0});
  EXPECT_NEAR(dt[0].value()(0), want["d_event_time_d_h0"], 1e-10);
  EXPECT_NEAR(dt[0].value()(1), want["d_event_time_d_v0"], 1e-10);
  EXPECT_NEAR(dt[1].item(), want["d_event_time_d_t0"], 1e-10);

  const std::vector<T> dv = tape.grad(std::vector<T>{ad::slice_rows(ev.y, 1, 1)}, std::vector<T>{y0, t0});
  EXPECT_NEAR(dv[0].value()(0), want["d_event_velocity_d_h0"], 1e-10);
  EXPECT_NEAR(dv[0].value()(1), want["d_event_velocity_d_v0"], 1e-10);
  EXPECT_NEAR(dv[1].item(), 0.0, 1e-10);  // autonomous: v* does not depend on t0

  // h* = 0 whatever the start: its gradient vanishes (∂h/∂z + v*·dt*/dz = 0).
  const std::vector<T> dh = tape.grad(std::vector<T>{ad::slice_rows(ev.y, 0, 1)}, std::vector<T>{y0, t0});
  EXPECT_NEAR(dh[0].value().norm(), 0.0, 1e-10);
  EXPECT_NEAR(dh[1].item(), 0.0, 1e-10);
}

INSTANTIATE_TEST_SUITE_P(Gradients, BouncingBall,
                         ::testing::Values(Gradient::kDirect, Gradient::kAdjoint, Gradient::kCheckpoint),
                         [](const auto& info) {
                           return std::string(info.param == Gradient::kDirect    ? "Direct"
                                              : info.param == Gradient::kAdjoint ? "Adjoint"
                                                                                 : "Checkpoint");
                         });

// A ball with linear drag, dv/dt = −g − k·v, hitting a floor at height
// `floor` that rises with time, e = h − floor − 0.1·t: parameters in f and in
// e, and an explicit time dependence (∂e/∂t ≠ 0).
struct DragBall {
  ad::Parameter<double> g = ad::Parameter<double>::zeros({1});
  ad::Parameter<double> k = ad::Parameter<double>::zeros({1});
  ad::Parameter<double> floor = ad::Parameter<double>::zeros({1});

  DragBall() {
    g.value(0) = 9.8;
    k.value(0) = 0.3;
    floor.value(0) = -0.2;
  }
  std::vector<ad::Parameter<double>*> params() { return {&g, &k, &floor}; }
  TensorRhs<double> f() {
    return [this](const T&, const T& y) {
      ad::Tape<double>& tape = y.tape();
      const T v = ad::slice_rows(y, 1, 1);
      return ad::concat(v, ad::neg(ad::add(tape.param(g), ad::mul(tape.param(k), v))));
    };
  }
  TensorEventFn<double> e() {
    return [this](const T& t, const T& y) {
      return ad::sub(ad::sub(ad::slice_rows(y, 0, 1), y.tape().param(floor)), ad::affine(t, 0.1, 0.0));
    };
  }
  // L = t* + 0.7·h* − 0.3·v*: every output of the event in one number.
  T loss(ad::Tape<double>& tape, const T& y0, const T& t0, Gradient gradient = Gradient::kDirect) {
    const EventResult<double> ev = odeint_event<double>(f(), params(), y0, t0, e(), tight(), {}, {.gradient = gradient});
    const T weights = tape.constant(column({0.7, -0.3}));
    return ad::add(ev.t, ad::sum(ad::mul(ev.y, weights)));
  }
  double loss_value(const Matrix<double>& y0, double t0) {
    ad::Tape<double> tape;
    return loss(tape, tape.constant(y0), tape.scalar(t0)).item();
  }
};

TEST(EventGradient, ParameterGradientsMatchFiniteDifferences) {
  for (Gradient gradient : {Gradient::kDirect, Gradient::kAdjoint}) {
    DragBall ball;
    const Matrix<double> y0 = column({1.3, 0.4});
    const double t0 = 0.25;
    {
      ad::Tape<double> tape;
      ad::GradScope<double> grad(tape);
      for (ad::Parameter<double>* p : ball.params()) p->zero_grad();
      ball.loss(tape, tape.variable(y0), tape.variable(Matrix<double>::Constant(1, 1, t0)), gradient).backward();
    }
    for (ad::Parameter<double>* p : ball.params()) {
      const double x = p->value(0), h = 1e-5;
      p->value(0) = x + h;
      const double up = ball.loss_value(y0, t0);
      p->value(0) = x - h;
      const double down = ball.loss_value(y0, t0);
      p->value(0) = x;
      const double numeric = (up - down) / (2 * h);
      EXPECT_NEAR(p->grad(0), numeric, 1e-6 * (1 + std::abs(numeric)))
          << (p == &ball.g ? "g" : p == &ball.k ? "k" : "floor") << ", gradient method " << static_cast<int>(gradient);
    }
  }
}

TEST(EventGradient, InitialStateAndTimeGradientsMatchFiniteDifferences) {
  DragBall ball;
  const ad::TensorFunction<double> fn = [&](ad::Tape<double>& tape, std::span<const T> in) {
    return ball.loss(tape, in[0], in[1]);
  };
  const std::vector<Matrix<double>> inputs{column({1.3, 0.4}), Matrix<double>::Constant(1, 1, 0.25)};
  const ad::GradcheckResult r = ad::gradcheck<double>(fn, inputs, {.step = 1e-5, .atol = 1e-7, .rtol = 1e-6});
  EXPECT_TRUE(r.ok) << r.worst;
}

TEST(EventGradient, BackwardsInTimeMatchesFiniteDifferences) {
  // Integrating back from t0 = 1 to where the (time-reversed) ball was at the floor.
  DragBall ball;
  const ad::TensorFunction<double> fn = [&](ad::Tape<double>& tape, std::span<const T> in) {
    const EventResult<double> ev = odeint_event<double>(ball.f(), ball.params(), in[0], in[1], ball.e(), tight(),
                                                        {.t_end = -10.0});
    return ad::add(ev.t, ad::sum(ad::mul(ev.y, tape.constant(column({0.7, -0.3})))));
  };
  const std::vector<Matrix<double>> inputs{column({0.5, -1.0}), Matrix<double>::Constant(1, 1, 1.0)};
  const ad::GradcheckResult r = ad::gradcheck<double>(fn, inputs, {.step = 1e-5, .atol = 1e-7, .rtol = 1e-6});
  EXPECT_TRUE(r.ok) << r.worst;
}

TEST(EventGradient, WithoutRecordingTheResultsAreConstantsAndNoSecondSolveRuns) {
  ad::Tape<double> tape;
  const T y0 = tape.variable(column({1.3, 0.4}));
  const EventResult<double> ev = odeint_event<double>(falling(9.8), {}, y0, tape.scalar(0.0), height, tight());
  EXPECT_FALSE(ev.t.requires_grad());
  EXPECT_FALSE(ev.y.requires_grad());
  EXPECT_FALSE(ev.solve.has_value());
  EXPECT_EQ(ev.t.item(), ev.search.t);
}

TEST(EventGradient, FloatGradientsAreCloseToTheAnalyticOnes) {
  using Tf = Tensor<float>;
  ad::Tape<float> tape;
  ad::GradScope<float> grad(tape);
  Matrix<float> y0_value(2, 1);
  y0_value << 1.3f, 0.4f;
  const Tf y0 = tape.variable(y0_value);
  const Tf t0 = tape.variable(Matrix<float>::Zero(1, 1));
  TensorRhs<float> f = [](const Tf&, const Tf& y) { return ad::concat(ad::slice_rows(y, 1, 1), y.tape().scalar(-9.8f)); };
  TensorEventFn<float> e = [](const Tf&, const Tf& y) { return ad::slice_rows(y, 0, 1); };
  Options opt;
  opt.rtol = 1e-6;
  opt.atol = 1e-6;
  const EventResult<float> ev = odeint_event<float>(f, {}, y0, t0, e, opt);
  const std::vector<Tf> g = tape.grad(std::vector<Tf>{ev.t}, std::vector<Tf>{y0});
  const double s = std::sqrt(0.4 * 0.4 + 2 * 9.8 * 1.3);
  EXPECT_NEAR(ev.t.item(), (0.4 + s) / 9.8, 1e-5);
  EXPECT_NEAR(g[0].value()(0), 1 / s, 1e-4);
  EXPECT_NEAR(g[0].value()(1), (1 + 0.4 / s) / 9.8, 1e-4);
}

TEST(EventGradient, BadEventFunctionsAndTimesAreRejected) {
  ad::Tape<double> tape;
  ad::GradScope<double> grad(tape);
  const T y0 = tape.variable(column({1.3, 0.4}));
  TensorEventFn<double> whole_state = [](const T&, const T& y) { return y; };
  expect_error<ShapeError>([&] { odeint_event<double>(falling(9.8), {}, y0, tape.scalar(0.0), whole_state); },
                           "returned a 2x1 tensor");
  expect_error<ShapeError>([&] { odeint_event<double>(falling(9.8), {}, y0, y0, height); }, "t0 must be a 1x1");
  expect_error<InvalidArgument>([&] { odeint_event<double>(falling(9.8), {}, y0, tape.scalar(0.0), nullptr); },
                                "event function is empty");
}

TEST(EventGradient, CreateGraphThroughAnEventThrows) {
  ad::Tape<double> tape;
  ad::GradScope<double> grad(tape);
  const T y0 = tape.variable(column({1.3, 0.4}));
  const EventResult<double> ev = odeint_event<double>(falling(9.8), {}, y0, tape.scalar(0.0), height, tight());
  expect_error<InvalidArgument>(
      [&] { tape.grad(std::vector<T>{ev.t}, std::vector<T>{y0}, {}, /*create_graph=*/true); }, "create_graph");
}

}  // namespace
}  // namespace odeflow
