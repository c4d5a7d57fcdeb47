// The classical fourth-order Runge–Kutta method.
#pragma once

#include <odeflow/solve/tableau.hpp>

namespace odeflow::tableaus {
namespace rk4_classic {
inline constexpr double kC[] = {0.0, q(1, 2), q(1, 2), 1.0};
inline constexpr double kA[] = {0.0, 0.0, 0.0, 0.0,
                                q(1, 2), 0.0, 0.0, 0.0,
                                0.0, q(1, 2), 0.0, 0.0,
                                0.0, 0.0, 1.0, 0.0};
inline constexpr double kB[] = {q(1, 6), q(1, 3), q(1, 3), q(1, 6)};

inline constexpr ButcherTableau kRk4Classic{.name = "rk4_classic", .order = 4, .c = kC, .a = kA, .b = kB};
}  // namespace rk4_classic

using rk4_classic::kRk4Classic;
}  // namespace odeflow::tableaus
