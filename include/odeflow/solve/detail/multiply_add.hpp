// a·b + c for the Runge–Kutta kernels (internal), rounded one fixed way.
//
// With -ffp-contract=fast (GCC's default) the compiler may fuse a product and
// a sum into one FMA, and whether it does depends on the surrounding code, so
// the run-time and the static stepper could round the same formula
// differently. Their kernels therefore spell every product-sum with this
// function: a fused multiply-add where the target has one, otherwise the
// product then the sum (without FMA hardware nothing is fused).
#pragma once

#include <cmath>

namespace odeflow::detail {

template <class S>
inline S multiply_add(S a, S b, S c) {
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

}  // namespace odeflow::detail
