// Heun's second-order method (explicit trapezoidal rule).
#pragma once

#include <odeflow/solve/tableau.hpp>

namespace odeflow::tableaus {
namespace heun2 {
inline constexpr double kC[] = {0.0, 1.0};
inline constexpr double kA[] = {0.0, 0.0,
                                1.0, 0.0};
inline constexpr double kB[] = {q(1, 2), q(1, 2)};

inline constexpr ButcherTableau kHeun2{.name = "heun2", .order = 2, .c = kC, .a = kA, .b = kB};
}  // namespace heun2

using heun2::kHeun2;
}  // namespace odeflow::tableaus
