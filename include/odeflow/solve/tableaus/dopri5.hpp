// Dormand–Prince 5(4) (J. Comput. Appl. Math. 6(1), 1980) with Shampine's embedded
// weights (Math. Comp. 46(173), 1986), as torchdiffeq and diffrax use. FSAL.
// Dense output: quartic through y0, y1, y(t0+dt/2), dt·f0, dt·f1 with the
// midpoint weights of Shampine (1986).
#pragma once

#include <odeflow/solve/tableau.hpp>

namespace odeflow::tableaus {
namespace dopri5 {
inline constexpr double kC[] = {0.0, q(1, 5), q(3, 10), q(4, 5), q(8, 9), 1.0, 1.0};
inline constexpr double kA[] = {
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    q(1, 5), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    q(3, 40), q(9, 40), 0.0, 0.0, 0.0, 0.0, 0.0,
    q(44, 45), q(-56, 15), q(32, 9), 0.0, 0.0, 0.0, 0.0,
    q(19372, 6561), q(-25360, 2187), q(64448, 6561), q(-212, 729), 0.0, 0.0, 0.0,
    q(9017, 3168), q(-355, 33), q(46732, 5247), q(49, 176), q(-5103, 18656), 0.0, 0.0,
    q(35, 384), 0.0, q(500, 1113), q(125, 192), q(-2187, 6784), q(11, 84), 0.0};
inline constexpr double kB[] = {q(35, 384), 0.0, q(500, 1113), q(125, 192), q(-2187, 6784), q(11, 84), 0.0};
// b − b̂ with b̂ = (1951/21600, 0, 22642/50085, 451/720, −12231/42400, 649/6300, 1/60).
inline constexpr double kE[] = {q(35, 384) - q(1951, 21600), 0.0, q(500, 1113) - q(22642, 50085),
                                q(125, 192) - q(451, 720), q(-2187, 6784) - q(-12231, 42400),
                                q(11, 84) - q(649, 6300), q(-1, 60)};
inline constexpr double kMid[] = {q(6025192743, 30085553152) / 2, 0.0, q(51252292925, 65400821598) / 2,
                                  q(-2691868925, 45128329728) / 2, q(187940372067, 1594534317056) / 2,
                                  q(-1776094331, 19743644256) / 2, q(11237099, 235043384) / 2};

inline constexpr ButcherTableau kDopri5{.name = "dopri5",
                                        .order = 5,
                                        .embedded_order = 4,
                                        .c = kC,
                                        .a = kA,
                                        .b = kB,
                                        .b_error = kE,
                                        .dense = DenseKind::kQuartic,
                                        .c_mid = kMid};
}  // namespace dopri5

using dopri5::kDopri5;
}  // namespace odeflow::tableaus
