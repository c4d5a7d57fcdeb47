// Heun's third-order method.
#pragma once

#include <odeflow/solve/tableau.hpp>

namespace odeflow::tableaus {
namespace heun3 {
inline constexpr double kC[] = {0.0, q(1, 3), q(2, 3)};
inline constexpr double kA[] = {0.0, 0.0, 0.0,
                                q(1, 3), 0.0, 0.0,
                                0.0, q(2, 3), 0.0};
inline constexpr double kB[] = {q(1, 4), 0.0, q(3, 4)};

inline constexpr ButcherTableau kHeun3{.name = "heun3", .order = 3, .c = kC, .a = kA, .b = kB};
}  // namespace heun3

using heun3::kHeun3;
}  // namespace odeflow::tableaus
