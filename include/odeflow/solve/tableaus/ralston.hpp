// Ralston's second-order method (minimum local error bound among 2-stage methods).
#pragma once

#include <odeflow/solve/tableau.hpp>

namespace odeflow::tableaus {
namespace ralston {
inline constexpr double kC[] = {0.0, q(2, 3)};
inline constexpr double kA[] = {0.0, 0.0,
                                q(2, 3), 0.0};
inline constexpr double kB[] = {q(1, 4), q(3, 4)};

inline constexpr ButcherTableau kRalston{.name = "ralston", .order = 2, .c = kC, .a = kA, .b = kB};
}  // namespace ralston

using ralston::kRalston;
}  // namespace odeflow::tableaus
