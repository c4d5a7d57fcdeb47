// Heun–Euler 2(1): Heun's method with explicit Euler as the embedded solution.
#pragma once

#include <odeflow/solve/tableau.hpp>

namespace odeflow::tableaus {
namespace adaptive_heun {
inline constexpr double kC[] = {0.0, 1.0};
inline constexpr double kA[] = {0.0, 0.0,
                                1.0, 0.0};
inline constexpr double kB[] = {q(1, 2), q(1, 2)};
// b − b̂ with b̂ = (1, 0).
inline constexpr double kE[] = {q(-1, 2), q(1, 2)};

inline constexpr ButcherTableau kAdaptiveHeun{
    .name = "adaptive_heun", .order = 2, .embedded_order = 1, .c = kC, .a = kA, .b = kB, .b_error = kE};
}  // namespace adaptive_heun

using adaptive_heun::kAdaptiveHeun;
}  // namespace odeflow::tableaus
