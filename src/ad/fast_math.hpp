// Vectorized elementwise functions that Eigen 3.4 leaves scalar for double
// (internal). tanh dominates small dynamics networks, and libm's scalar tanh
// costs ~6 ns an element where this costs well under one.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <type_traits>

namespace odeflow::ad::detail {

// tanh to a few ulp as one quotient per element (one exp, one division):
// |x| < 0.625: x·(Q(z) + z·P(z))/Q(z), z = x², with the rational
// approximation of Moshier's Cephes library (relative error ~2e-16 there);
// otherwise sign(x)·(E − 1)/(E + 1), E = exp(2·min(|x|, 20)), which has no
// cancellation once |x| ≥ 0.625 (and tanh(20) rounds to 1). NaN stays NaN,
// ±0 stays ±0.
namespace tanh_kernel {
// One packet. Eigen 3.4's select is not vectorized, so this is written with
// its packet primitives (pselect on comparison masks).
template <class P>
EIGEN_STRONG_INLINE P tanh_packet(const P& x) {
  using namespace Eigen::internal;
  const P a = pabs(x);
  const P z = pmul(x, x);
  const P e = pexp(pmul(pset1<P>(2.0), pmin(a, pset1<P>(20.0))));
  const P p = psub(pmul(padd(pmul(pset1<P>(-9.64399179425052238628e-1), z), pset1<P>(-9.92877231001918586564e1)), z),
                   pset1<P>(1.61468768441708447952e3));
  const P q = padd(pmul(padd(pmul(padd(z, pset1<P>(1.12811678491632931402e2)), z), pset1<P>(2.23548839060100448583e3)), z),
                   pset1<P>(4.84406305325125486048e3));
  const P small = pcmp_lt(a, pset1<P>(0.625));
  const P one = pset1<P>(1.0);
  const P large_num = pselect(pcmp_lt(x, pset1<P>(0.0)), psub(one, e), psub(e, one));
  const P num = pselect(small, pmul(x, padd(q, pmul(z, p))), large_num);
  return pdiv(num, pselect(small, q, padd(e, one)));
}
}  // namespace tanh_kernel

inline void tanh_into(const double* x, double* y, Eigen::Index n) {
  using P = Eigen::internal::packet_traits<double>::type;
  constexpr Eigen::Index kSize = Eigen::internal::packet_traits<double>::size;
  Eigen::Index i = 0;
  for (; i + kSize <= n; i += kSize)
    Eigen::internal::pstoreu(y + i, tanh_kernel::tanh_packet(Eigen::internal::ploadu<P>(x + i)));
  if (i < n) {
    double in[kSize] = {}, out[kSize];
    std::copy(x + i, x + n, in);
    Eigen::internal::pstoreu(out, tanh_kernel::tanh_packet(Eigen::internal::ploadu<P>(in)));
    std::copy(out, out + (n - i), y + i);
  }
}

// y = tanh(x) for any Eigen array of double (Eigen's own packet tanh for float).
template <class In, class Out>
void tanh_array(const In& x, Out&& y) {
  using S = typename std::decay_t<Out>::Scalar;
  if constexpr (std::is_same_v<S, double>) {
    tanh_into(x.data(), y.data(), x.size());
  } else {
    y = x.tanh();
  }
}

}  // namespace odeflow::ad::detail
