// Kutta's 3/8 rule, order 4: torchdiffeq's "rk4" (rk4_alt_step_func).
#pragma once

#include <odeflow/solve/tableau.hpp>

namespace odeflow::tableaus {
namespace rk4 {
inline constexpr double kC[] = {0.0, q(1, 3), q(2, 3), 1.0};
inline constexpr double kA[] = {0.0, 0.0, 0.0, 0.0,
                                q(1, 3), 0.0, 0.0, 0.0,
                                q(-1, 3), 1.0, 0.0, 0.0,
                                1.0, -1.0, 1.0, 0.0};
inline constexpr double kB[] = {q(1, 8), q(3, 8), q(3, 8), q(1, 8)};

inline constexpr ButcherTableau kRk4{.name = "rk4", .order = 4, .c = kC, .a = kA, .b = kB};
}  // namespace rk4

using rk4::kRk4;
}  // namespace odeflow::tableaus
