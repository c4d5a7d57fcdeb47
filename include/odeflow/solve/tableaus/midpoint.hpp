// Explicit midpoint rule. Order 2.
#pragma once

#include <odeflow/solve/tableau.hpp>

namespace odeflow::tableaus {
namespace midpoint {
inline constexpr double kC[] = {0.0, q(1, 2)};
inline constexpr double kA[] = {0.0, 0.0,
                                q(1, 2), 0.0};
inline constexpr double kB[] = {0.0, 1.0};

inline constexpr ButcherTableau kMidpoint{.name = "midpoint", .order = 2, .c = kC, .a = kA, .b = kB};
}  // namespace midpoint

using midpoint::kMidpoint;
}  // namespace odeflow::tableaus
