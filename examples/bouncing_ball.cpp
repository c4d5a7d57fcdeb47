// A bouncing ball with a learned coefficient of restitution.
//
// The ball falls from h0 = 1 m under gravity; each time it reaches the
// ground (the event h = 0, falling) its velocity flips and shrinks by the
// restitution r, a trainable parameter. Three bounces are chained with
// odeint_event; the loss is the squared error of the third bounce's time
// against the time a ball with r = 0.8 would take. Gradients flow through
// every bounce time (implicit function theorem) and every flight, and
// gradient descent fits r. The analytic answer, t3 = t1·(1 + 2r + 2r²) with t1 = √(2h0/g),
// is printed beside the learned one.
#include <odeflow/ad/ops.hpp>
#include <odeflow/ad/tape.hpp>
#include <odeflow/optim/sgd.hpp>
#include <odeflow/sensitivity/event.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

namespace {

using odeflow::ad::Tensor;
using T = Tensor<double>;
constexpr double kGravity = 9.8;
constexpr int kBounces = 3;
constexpr int kIterations = 20;

// y = [h, v]: free flight.
T flight(const T& /*t*/, const T& y) {
  return odeflow::ad::concat(odeflow::ad::slice_rows(y, 1, 1), y.tape().scalar(-kGravity));
}
T height(const T& /*t*/, const T& y) { return odeflow::ad::slice_rows(y, 0, 1); }

// The time of bounce number kBounces from rest at h0 (t = 0), with `r` read
// through the tape (a recorded leaf when the tape records).
T last_bounce_time(odeflow::ad::Tape<double>& tape, odeflow::ad::Parameter<double>& r, std::int64_t* nfe) {
  namespace ad = odeflow::ad;
  odeflow::Options options;  // dopri5
  options.rtol = 1e-9;
  options.atol = 1e-9;
  // Only falling crossings: a segment starts on the ground moving up.
  const odeflow::EventOptions ground{.direction = odeflow::EventDirection::kFalling};
  Eigen::MatrixXd start(2, 1);
  start << 1.0, 0.0;
  T y = tape.constant(start);
  T t = tape.scalar(0.0);
  for (int bounce = 1; bounce <= kBounces; ++bounce) {
    const odeflow::EventResult<double> hit = odeflow::odeint_event<double>(flight, {}, y, t, height, options, ground);
    *nfe += hit.search.stats.nfe + (hit.solve ? hit.solve->stats().nfe : 0);  // search + differentiable solve
    t = hit.t;
    if (bounce == kBounces) break;
    // The bounce: v ← −r·v, h unchanged (zero, to the root tolerance).
    const T v = ad::slice_rows(hit.y, 1, 1);
    y = ad::concat(ad::slice_rows(hit.y, 0, 1), ad::neg(ad::mul(tape.param(r), v)));
  }
  return t;
}

double analytic_time(double r) {
  const double t1 = std::sqrt(2.0 * 1.0 / kGravity);
  return t1 * (1.0 + 2.0 * r + 2.0 * r * r);
}

}  // namespace

int main() {
  namespace ad = odeflow::ad;
  const double true_r = 0.8;
  ad::Parameter<double> r = ad::Parameter<double>::zeros({1});
  std::int64_t nfe = 0;

  // The target: the same simulation with the true restitution, no gradients.
  r.value(0) = true_r;
  double target;
  {
    ad::Tape<double> tape;
    target = last_bounce_time(tape, r, &nfe).item();
  }
  std::printf("target: bounce %d at t = %.9f s (analytic %.9f) for r = %.2f\n", kBounces, target,
              analytic_time(true_r), true_r);

  r.value(0) = 0.5;
  r.zero_grad();
  odeflow::optim::Sgd<double> sgd({odeflow::optim::view_of<double>("restitution", r.value, r.grad)},
                                  {.lr = 0.05});
  ad::Tape<double> tape;
  std::printf("%4s  %12s  %10s  %12s  %14s  %6s\n", "iter", "loss", "r", "t3", "dloss/dr", "nfe");
  for (int iter = 0; iter <= kIterations; ++iter) {
    tape.reset();
    sgd.zero_grad();
    nfe = 0;
    double loss_value, t3;
    {
      ad::GradScope<double> grad(tape);
      const T t_last = last_bounce_time(tape, r, &nfe);
      const T loss = ad::square(ad::affine(t_last, 1.0, -target));
      loss.backward();
      loss_value = loss.item();
      t3 = t_last.item();
    }
    if (iter % 2 == 0 || iter == kIterations) {
      std::printf("%4d  %12.4e  %10.6f  %12.9f  %14.6e  %6lld\n", iter, loss_value, r.value(0), t3, r.grad(0),
                  static_cast<long long>(nfe));
    }
    if (iter == 0) {
      // d loss/d r = 2·(t3 − target)·t1·(2 + 4r): the analytic check of the chain.
      const double t1 = std::sqrt(2.0 / kGravity);
      const double want = 2.0 * (t3 - target) * t1 * (2.0 + 4.0 * r.value(0));
      std::printf("      gradient check: %.10e (analytic %.10e)\n", r.grad(0), want);
    }
    sgd.step();
  }
  std::printf("learned r = %.6f (true %.2f); analytic bounce %d time for it %.9f s (target %.9f)\n", r.value(0),
              true_r, kBounces, analytic_time(r.value(0)), target);
  return std::abs(r.value(0) - true_r) < 1e-5 ? 0 : 1;
}
