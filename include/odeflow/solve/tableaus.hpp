// The explicit Runge–Kutta methods odeflow ships, as constexpr tableaus (so
// that the static stepper, static_rk_step.hpp, sees their coefficients at
// compile time). Definitions, with their sources, live in
// include/odeflow/solve/tableaus/<name>.hpp; each puts its coefficient arrays
// in namespace tableaus::<name> and its tableau, tableaus::k<Name>, here.
#pragma once

#include <odeflow/solve/tableau.hpp>
#include <odeflow/solve/tableaus/adaptive_heun.hpp>  // kAdaptiveHeun: Heun–Euler 2(1)
#include <odeflow/solve/tableaus/bosh3.hpp>          // kBosh3: Bogacki–Shampine 3(2)
#include <odeflow/solve/tableaus/dopri5.hpp>         // kDopri5: Dormand–Prince 5(4), Shampine's embedded weights
#include <odeflow/solve/tableaus/dopri8.hpp>         // kDopri8: Dormand–Prince 8(5,3), DOP853 coefficients
#include <odeflow/solve/tableaus/euler.hpp>          // kEuler: explicit Euler, order 1
#include <odeflow/solve/tableaus/fehlberg2.hpp>      // kFehlberg2: Runge–Kutta–Fehlberg 2(1)
#include <odeflow/solve/tableaus/heun2.hpp>          // kHeun2: Heun's method (trapezoidal predictor), order 2
#include <odeflow/solve/tableaus/heun3.hpp>          // kHeun3: Heun's 3rd order
#include <odeflow/solve/tableaus/midpoint.hpp>       // kMidpoint: explicit midpoint, order 2
#include <odeflow/solve/tableaus/ralston.hpp>        // kRalston: Ralston's minimum-error 2nd order
#include <odeflow/solve/tableaus/rk4.hpp>            // kRk4: Kutta's 3/8 rule, order 4 (torchdiffeq's "rk4")
#include <odeflow/solve/tableaus/rk4_classic.hpp>    // kRk4Classic: classical RK4
#include <odeflow/solve/tableaus/tsit5.hpp>          // kTsit5: Tsitouras 5(4)
