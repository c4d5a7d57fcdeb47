// Runge–Kutta–Fehlberg 2(1) (Fehlberg, NASA TR R-315, 1969), propagating the
// second-order solution as torchdiffeq does.
#pragma once

#include <odeflow/solve/tableau.hpp>

namespace odeflow::tableaus {
namespace fehlberg2 {
inline constexpr double kC[] = {0.0, q(1, 2), 1.0};
inline constexpr double kA[] = {0.0, 0.0, 0.0,
                                q(1, 2), 0.0, 0.0,
                                q(1, 256), q(255, 256), 0.0};
inline constexpr double kB[] = {q(1, 512), q(255, 256), q(1, 512)};
// b − b̂ with the first-order b̂ = (1/256, 255/256, 0).
inline constexpr double kE[] = {q(-1, 512), 0.0, q(1, 512)};

inline constexpr ButcherTableau kFehlberg2{
    .name = "fehlberg2", .order = 2, .embedded_order = 1, .c = kC, .a = kA, .b = kB, .b_error = kE};
}  // namespace fehlberg2

using fehlberg2::kFehlberg2;
}  // namespace odeflow::tableaus
