// Explicit Euler: y1 = y0 + dt·f(t0, y0). Order 1.
#pragma once

#include <odeflow/solve/tableau.hpp>

namespace odeflow::tableaus {
namespace euler {
inline constexpr double kC[] = {0.0};
inline constexpr double kA[] = {0.0};
inline constexpr double kB[] = {1.0};

inline constexpr ButcherTableau kEuler{.name = "euler", .order = 1, .c = kC, .a = kA, .b = kB};
}  // namespace euler

using euler::kEuler;
}  // namespace odeflow::tableaus
