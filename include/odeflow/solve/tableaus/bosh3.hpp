// Bogacki–Shampine 3(2) (Appl. Math. Lett. 2(4), 1989). FSAL.
#pragma once

#include <odeflow/solve/tableau.hpp>

namespace odeflow::tableaus {
namespace bosh3 {
inline constexpr double kC[] = {0.0, q(1, 2), q(3, 4), 1.0};
inline constexpr double kA[] = {0.0, 0.0, 0.0, 0.0,
                                q(1, 2), 0.0, 0.0, 0.0,
                                0.0, q(3, 4), 0.0, 0.0,
                                q(2, 9), q(1, 3), q(4, 9), 0.0};
inline constexpr double kB[] = {q(2, 9), q(1, 3), q(4, 9), 0.0};
// b − b̂ with b̂ = (7/24, 1/4, 1/3, 1/8).
inline constexpr double kE[] = {q(2, 9) - q(7, 24), q(1, 3) - q(1, 4), q(4, 9) - q(1, 3), q(-1, 8)};

inline constexpr ButcherTableau kBosh3{
    .name = "bosh3", .order = 3, .embedded_order = 2, .c = kC, .a = kA, .b = kB, .b_error = kE};
}  // namespace bosh3

using bosh3::kBosh3;
}  // namespace odeflow::tableaus
