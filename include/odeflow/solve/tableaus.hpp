// The explicit Runge–Kutta methods odeflow ships. Definitions (with their
// sources) live in src/solve/tableaus/<name>.cpp.
#pragma once

#include <odeflow/solve/tableau.hpp>

namespace odeflow::tableaus {

extern const ButcherTableau kEuler;         // explicit Euler, order 1
extern const ButcherTableau kMidpoint;      // explicit midpoint, order 2
extern const ButcherTableau kHeun2;         // Heun's method (trapezoidal predictor), order 2
extern const ButcherTableau kRalston;       // Ralston's minimum-error 2nd order
extern const ButcherTableau kHeun3;         // Heun's 3rd order
extern const ButcherTableau kRk4;           // Kutta's 3/8 rule, order 4 (torchdiffeq's "rk4")
extern const ButcherTableau kRk4Classic;    // classical RK4
extern const ButcherTableau kAdaptiveHeun;  // Heun–Euler 2(1)
extern const ButcherTableau kFehlberg2;     // Runge–Kutta–Fehlberg 2(1)
extern const ButcherTableau kBosh3;         // Bogacki–Shampine 3(2)
extern const ButcherTableau kDopri5;        // Dormand–Prince 5(4), Shampine's embedded weights
extern const ButcherTableau kTsit5;         // Tsitouras 5(4)
extern const ButcherTableau kDopri8;        // Dormand–Prince 8(5,3), DOP853 coefficients

}  // namespace odeflow::tableaus
