// Boost.Odeint baselines and the long-double reference solutions.
#include "baselines.hpp"

// The parts of <boost/numeric/odeint.hpp> used here (the whole header doubles the compile time).
#include <boost/numeric/odeint/algebra/array_algebra.hpp>
#include <boost/numeric/odeint/integrate/integrate_adaptive.hpp>
#include <boost/numeric/odeint/stepper/generation.hpp>
#include <boost/numeric/odeint/stepper/runge_kutta_dopri5.hpp>
#include <boost/numeric/odeint/stepper/runge_kutta_fehlberg78.hpp>

namespace odeflow::bench {
namespace {

namespace odeint = boost::numeric::odeint;

template <class P, class T>
struct System {
  std::int64_t* nfe;
  void operator()(const std::array<T, P::kDim>& y, std::array<T, P::kDim>& dy, T /*t*/) const {
    ++*nfe;
    P::rhs(y.data(), dy.data());
  }
};

}  // namespace

template <class P>
SolveResult boost_dopri5(double rtol, double atol) {
  using State = std::array<double, P::kDim>;
  SolveResult r;
  State y = P::kY0;
  auto stepper = odeint::make_controlled(atol, rtol, odeint::runge_kutta_dopri5<State>());
  r.accepted = static_cast<std::int64_t>(
      odeint::integrate_adaptive(stepper, System<P, double>{&r.nfe}, y, 0.0, P::kT1, 0.01));
  r.rejected = (r.nfe - 1) / 6 - r.accepted;
  std::copy(y.begin(), y.end(), r.y.begin());
  return r;
}

template <class P>
const std::array<double, kMaxDim>& reference_end_state() {
  static const std::array<double, kMaxDim> reference = [] {
    std::array<double, kMaxDim> out{};
    if constexpr (requires { P::exact_end_state(); }) {
      const auto exact = P::exact_end_state();
      std::copy(exact.begin(), exact.end(), out.begin());
    } else {
      using State = std::array<long double, P::kDim>;
      State y;
      std::copy(P::kY0.begin(), P::kY0.end(), y.begin());
      std::int64_t nfe = 0;
      auto stepper = odeint::make_controlled(1e-17L, 1e-17L, odeint::runge_kutta_fehlberg78<State, long double>());
      odeint::integrate_adaptive(stepper, System<P, long double>{&nfe}, y, 0.0L,
                                 static_cast<long double>(P::kT1), 1e-4L);
      for (int i = 0; i < P::kDim; ++i) out[static_cast<std::size_t>(i)] = static_cast<double>(y[i]);
    }
    return out;
  }();
  return reference;
}

#define ODEFLOW_BENCH_INSTANTIATE(P)                          \
  template SolveResult boost_dopri5<P>(double, double);       \
  template const std::array<double, kMaxDim>& reference_end_state<P>();
ODEFLOW_BENCH_INSTANTIATE(Lorenz)
ODEFLOW_BENCH_INSTANTIATE(VanDerPol)
ODEFLOW_BENCH_INSTANTIATE(Kepler)
#undef ODEFLOW_BENCH_INSTANTIATE

}  // namespace odeflow::bench
