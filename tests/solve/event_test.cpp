// odeint_event on plain matrices: event times against analytic ones, the
// root search, directions, time reversal, and every error path.
#include <odeflow/solve/detail/bracket_root.hpp>
#include <odeflow/solve/event.hpp>

#include <gtest/gtest.h>

#include "support/expect_error.hpp"
#include "support/test_data.hpp"

#include <cmath>
#include <iostream>
#include <limits>
#include <numbers>
#include <string>

namespace odeflow {
namespace {

using test::expect_error;

Matrix<double> column(std::initializer_list<double> values) {
  Matrix<double> m(static_cast<Eigen::Index>(values.size()), 1);
  Eigen::Index i = 0;
  for (double v : values) m(i++) = v;
  return m;
}

// y = [h, v]: free fall with gravity g.
struct Ball {
  double g = 9.8;
  void operator()(Time, const Matrix<double>& y, Matrix<double>& dy) const {
    dy(0) = y(1);
    dy(1) = -g;
  }
};
auto height = [](Time, const Matrix<double>& y) { return y(0); };

// y = [x, v]: x'' = −x, x(0) = 1, so x = cos t.
auto oscillator = [](Time, const Matrix<double>& y) -> Matrix<double> {
  Matrix<double> dy(2, 1);
  dy << y(1), -y(0);
  return dy;
};
auto position = [](Time, const Matrix<double>& y) { return y(0); };

TEST(Event, BouncingBallMatchesTheAnalyticReference) {
  const nlohmann::json ref = test::load_json("odeint/bouncing_ball_event.json");
  const double h0 = ref["y0"][0], v0 = ref["y0"][1], t0 = ref["t0"];
  Options opt;  // the reference call: dopri5, rtol 1e-10, atol 1e-12
  opt.rtol = 1e-10;
  opt.atol = 1e-12;
  const EventSolution<double> ev = odeint_event(Ball{}, column({h0, v0}), t0, height, opt);

  const double t_star = ref["analytic"]["event_time"], v_star = ref["analytic"]["event_state"][1];
  EXPECT_NEAR(ev.t, t_star, 1e-12);
  EXPECT_NEAR(ev.y(0), 0.0, 1e-11);
  EXPECT_NEAR(ev.y(1), v_star, 1e-11);
  EXPECT_LE(ev.value, 0.0);  // past the crossing
  // Default root_tol: 4ε·max(|t0|, |t1|) of the step holding the event.
  EXPECT_LE(std::abs(ev.t - ev.bracket), 4 * std::numeric_limits<double>::epsilon() * (ev.t + ev.stats.last_step));
  std::cout << "t* error " << ev.t - t_star << ", v* error " << ev.y(1) - v_star << ", nfe " << ev.stats.nfe
            << ", root iterations " << ev.root_iterations << '\n';
  // torchdiffeq's dopri5 took the same 4 steps (26 evaluations of f); the
  // root search evaluates the FSAL interpolant only.
  EXPECT_EQ(ev.stats.nfe, ref["nfe_forward"].get<std::int64_t>());
  EXPECT_LE(ev.root_iterations, 12);
  EXPECT_EQ(ev.event_evaluations, 1 + ev.stats.accepted + ev.root_iterations);
}

TEST(Event, StateIsOdeintsDenseOutputAtTheEventTime) {
  // The same loop and steps: the differentiable odeint_event relies on it.
  Options opt;
  opt.rtol = 1e-8;
  opt.atol = 1e-10;
  const Matrix<double> y0 = column({1.3, 0.4});
  const EventSolution<double> ev = odeint_event(Ball{}, y0, 0.0, height, opt);
  const Solution<double> sol = odeint(Ball{}, y0, {0.0, ev.t}, opt);
  EXPECT_EQ(sol.ys[1], ev.y);
  EXPECT_EQ(sol.stats.accepted, ev.stats.accepted);
}

TEST(Event, DirectionSelectsRisingOrFallingCrossings) {
  const Matrix<double> y0 = column({1.0, 0.0});
  Options opt;
  opt.rtol = 1e-10;
  opt.atol = 1e-12;
  EventOptions falling{.direction = EventDirection::kFalling};
  EXPECT_NEAR(odeint_event(oscillator, y0, 0.0, position, opt, falling).t, std::numbers::pi / 2, 1e-9);
  EventOptions rising{.direction = EventDirection::kRising};
  EXPECT_NEAR(odeint_event(oscillator, y0, 0.0, position, opt, rising).t, 3 * std::numbers::pi / 2, 1e-9);
  EventOptions any{};
  EXPECT_NEAR(odeint_event(oscillator, y0, 0.0, position, opt, any).t, std::numbers::pi / 2, 1e-9);
}

TEST(Event, BackwardsInTimeFindsTheCrossingBeforeT0) {
  Options opt;
  opt.rtol = 1e-10;
  opt.atol = 1e-12;
  EventOptions back{.t_end = -std::numeric_limits<double>::infinity()};
  const EventSolution<double> ev = odeint_event(oscillator, column({1.0, 0.0}), 0.0, position, opt, back);
  EXPECT_NEAR(ev.t, -std::numbers::pi / 2, 1e-9);
  EXPECT_NEAR(ev.y(1), 1.0, 1e-9);  // v = −sin t
  EXPECT_LE(ev.bracket - ev.t, 1e-14);
  EXPECT_GE(ev.bracket, ev.t);
}

TEST(Event, ChainedSolvesDoNotRefindTheCrossingTheyStartOn) {
  Options opt;
  opt.rtol = 1e-10;
  opt.atol = 1e-12;
  EventOptions falling{.direction = EventDirection::kFalling};
  Matrix<double> y = column({1.0, 0.0});
  double t = 0.0;
  for (int k = 0; k < 3; ++k) {
    const EventSolution<double> ev = odeint_event(oscillator, y, t, position, opt, falling);
    EXPECT_NEAR(ev.t, std::numbers::pi / 2 + 2 * k * std::numbers::pi, 1e-8) << "crossing " << k;
    t = ev.t;
    y = ev.y;
  }
}

TEST(Event, EventFunctionMayDependOnTime) {
  // y' = 1 from y(0) = 0: e = y·t − 2 crosses at t = √2.
  auto f = [](Time, const Matrix<double>& y) -> Matrix<double> { return Matrix<double>::Ones(y.rows(), y.cols()); };
  auto e = [](Time t, const Matrix<double>& y) { return y(0) * t - 2.0; };
  const EventSolution<double> ev = odeint_event(f, column({0.0}), 0.0, e, {});
  EXPECT_NEAR(ev.t, std::sqrt(2.0), 1e-13);
}

TEST(Event, ZeroAtT0IsNotAnEvent) {
  // The ball starts on the ground moving up: the event is its landing.
  const EventSolution<double> ev = odeint_event(Ball{}, column({0.0, 4.9}), 0.0, height, {});
  EXPECT_NEAR(ev.t, 1.0, 1e-7);
}

TEST(Event, BatchStopsTogetherOnOneEventValue) {
  // Two balls; the event is the lower one landing.
  Matrix<double> y0(2, 2);
  y0 << 1.0, 2.0, 0.0, 0.0;
  auto f = [](Time, const Matrix<double>& y) -> Matrix<double> {
    Matrix<double> dy(2, y.cols());
    dy.row(0) = y.row(1);
    dy.row(1).setConstant(-9.8);
    return dy;
  };
  auto lowest = [](Time, const Matrix<double>& y) { return y.row(0).minCoeff(); };
  Options opt;
  opt.rtol = 1e-10;
  opt.atol = 1e-12;
  const EventSolution<double> ev = odeint_event(f, y0, 0.0, lowest, opt);
  EXPECT_NEAR(ev.t, std::sqrt(2.0 / 9.8), 1e-11);
  EXPECT_EQ(ev.y.cols(), 2);
  EXPECT_NEAR(ev.y(0, 1), 1.0, 1e-10);
}

TEST(Event, EveryAdaptiveRungeKuttaMethodLocatesTheEvent) {
  // y' = −y from 1: y = 1/4 at ln 4. Non-FSAL methods evaluate f at the
  // step end for their interpolant; FSAL ones reuse the last stage.
  auto decay = [](Time, const Matrix<double>& y) -> Matrix<double> { return -y; };
  auto quarter = [](Time, const Matrix<double>& y) { return y(0) - 0.25; };
  for (const char* method : {"dopri5", "tsit5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun"}) {
    Options opt;
    opt.method = method;
    opt.rtol = 1e-8;
    opt.atol = 1e-10;
    const EventSolution<double> ev = odeint_event(decay, column({1.0}), 0.0, quarter, opt);
    EXPECT_NEAR(ev.t, std::log(4.0), 2e-6) << method;
    EXPECT_NEAR(ev.y(0), 0.25, 1e-6) << method;
    const Solution<double> sol = odeint(decay, column({1.0}), {0.0, ev.t}, opt);
    EXPECT_EQ(sol.ys[1](0), ev.y(0)) << method;
  }
}

TEST(Event, FloatStatesLocateTheEventToTheirPrecision) {
  auto f = [](Time, const Matrix<float>& y) -> Matrix<float> {
    Matrix<float> dy(2, 1);
    dy << y(1), -9.8f;
    return dy;
  };
  Matrix<float> y0(2, 1);
  y0 << 1.3f, 0.4f;
  Options opt;
  opt.rtol = 1e-5;
  opt.atol = 1e-6;
  auto e = [](Time, const Matrix<float>& y) { return y(0); };
  const EventSolution<float> ev = odeint_event(f, y0, 0.0, e, opt);
  const double s = std::sqrt(0.4 * 0.4 + 2 * 9.8 * 1.3);
  EXPECT_NEAR(ev.t, (0.4 + s) / 9.8, 1e-5);
}

TEST(Event, TEndReachedWithoutAnEventThrowsEventNotFound) {
  auto decay = [](Time, const Matrix<double>& y) -> Matrix<double> { return -y; };
  auto never = [](Time, const Matrix<double>& y) { return y(0) + 1.0; };
  EventOptions until{.t_end = 5.0};
  const auto error = expect_error<EventNotFound>([&] { odeint_event(decay, column({1.0}), 0.0, never, {}, until); },
                                                 "no event between t0 = 0 and t_end = 5");
  if (error) EXPECT_EQ(error->t(), 5.0);
}

TEST(Event, CrossingAfterTEndInTheLastStepIsIgnored) {
  // x = cos t crosses at π/2; t_end = π/2 − 1e-4 falls inside the step that
  // crosses (steps are ~0.1 at this tolerance).
  Options opt;
  opt.rtol = 1e-4;
  EventOptions until{.t_end = std::numbers::pi / 2 - 1e-4};
  expect_error<EventNotFound>([&] { odeint_event(oscillator, column({1.0, 0.0}), 0.0, position, opt, until); },
                              "no event");
}

TEST(Event, MaxStepsWithoutAnEventNamesTheEventSearch) {
  auto decay = [](Time, const Matrix<double>& y) -> Matrix<double> { return -y; };
  auto never = [](Time, const Matrix<double>& y) { return y(0) + 1.0; };
  Options opt;
  opt.max_num_steps = 50;
  expect_error<MaxStepsExceeded>([&] { odeint_event(decay, column({1.0}), 0.0, never, opt); },
                                 "no event within max_num_steps = 50");
}

TEST(Event, BadArgumentsAreRejectedBeforeSolving) {
  Options opt;
  opt.method = "rk4";
  expect_error<InvalidArgument>([&] { odeint_event(oscillator, column({1.0, 0.0}), 0.0, position, opt); },
                                "method 'rk4' is not supported");
  opt.method = "dopri5";
  opt.step_size = 0.1;
  expect_error<InvalidArgument>([&] { odeint_event(oscillator, column({1.0, 0.0}), 0.0, position, opt); },
                                "with fixed steps");
  opt.step_size = 0.0;
  expect_error<InvalidArgument>(
      [&] { odeint_event(oscillator, column({1.0, 0.0}), 1.0, position, opt, {.t_end = 1.0}); }, "equals t0");
  expect_error<InvalidArgument>(
      [&] { odeint_event(oscillator, column({1.0, 0.0}), 0.0, position, opt, {.root_tol = -1.0}); }, "root_tol");
  expect_error<InvalidArgument>(
      [&] { odeint_event(oscillator, column({1.0, 0.0}), 0.0, position, opt, {.t_end = std::nan("")}); }, "t_end");
  expect_error<InvalidArgument>([&] { odeint_event(oscillator, column({1.0, 0.0}), std::nan(""), position, opt); },
                                "not finite");
}

TEST(Event, NonFiniteEventValueThrows) {
  auto bad = [](Time t, const Matrix<double>&) { return t > 0.5 ? std::nan("") : 1.0; };
  expect_error<NonFiniteError>([&] { odeint_event(oscillator, column({1.0, 0.0}), 0.0, bad, {}); },
                               "event function returned nan");
}

TEST(Event, RootToleranceBoundsTheFinalBracket) {
  EventOptions loose{.root_tol = 1e-3};
  Options opt;
  opt.rtol = 1e-10;
  opt.atol = 1e-12;
  const EventSolution<double> ev = odeint_event(oscillator, column({1.0, 0.0}), 0.0, position, opt, loose);
  EXPECT_LE(std::abs(ev.t - ev.bracket), 1e-3);
  EXPECT_LE(std::min(ev.t, ev.bracket), std::numbers::pi / 2 + 1e-9);
  EXPECT_GE(std::max(ev.t, ev.bracket), std::numbers::pi / 2 - 1e-9);
}

// ---- The root search alone -------------------------------------------------

TEST(BracketRoot, SmoothFunctionConvergesSuperlinearly) {
  int calls = 0;
  auto g = [&](double t) {
    ++calls;
    return t * t * t - 0.3;
  };
  const double tol = 4 * std::numeric_limits<double>::epsilon();
  const detail::BracketRoot r = detail::bracket_root(g, 0.0, -0.3, 1.0, 0.7, tol);
  EXPECT_NEAR(r.after, std::cbrt(0.3), 4 * tol);
  EXPECT_LE(std::abs(r.after - r.before), tol);
  EXPECT_EQ(r.iterations, calls);
  EXPECT_LE(calls, 14);  // bisection needs 51
}

TEST(BracketRoot, DiscontinuousSignChangeIsBracketedLikeBisection) {
  auto step = [](double t) { return t < 0.123456789 ? -1.0 : 2.0; };
  const detail::BracketRoot r = detail::bracket_root(step, 0.0, -1.0, 1.0, 2.0, 1e-12);
  EXPECT_LE(r.before, 0.123456789);
  EXPECT_GE(r.after, 0.123456789);
  EXPECT_LE(r.after - r.before, 1e-12);
  EXPECT_LE(r.iterations, 2 * 40 + 4);
}

TEST(BracketRoot, FlatFunctionDoesNotStagnateOnOneSide) {
  // Plain regula falsi keeps one end forever on a convex function like this.
  auto g = [](double t) { return std::exp(20 * t) - 2.0; };
  const detail::BracketRoot r = detail::bracket_root(g, 0.0, -1.0, 1.0, std::exp(20.0) - 2.0, 1e-14);
  EXPECT_NEAR(r.after, std::log(2.0) / 20, 1e-14);
  EXPECT_LE(r.iterations, 40);
}

TEST(BracketRoot, ReversedBracketAndExactZero) {
  auto g = [](double t) { return 0.5 - t; };  // the secant lands on 0.5 exactly
  const detail::BracketRoot r = detail::bracket_root(g, 1.0, -0.5, 0.0, 0.5, 1e-15);
  EXPECT_EQ(r.after, 0.5);
  EXPECT_EQ(r.g_after, 0.0);
}

}  // namespace
}  // namespace odeflow
