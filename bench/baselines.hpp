// The solvers odeflow is measured against, each in its own translation unit
// (boost_baseline.cpp, cvode_baseline.cpp) so that Boost.Odeint and SUNDIALS
// stay out of the library and out of each other's compile. Every function is
// instantiated for the types of problems.hpp.
#pragma once

#include "problems.hpp"

#include <array>
#include <cstdint>

namespace odeflow::bench {

// What one solve of [0, P::kT1] returns: the end state (first P::kDim
// entries) and the solver's own counters.
struct SolveResult {
  std::array<double, kMaxDim> y{};
  std::int64_t nfe = 0;
  std::int64_t accepted = 0;
  std::int64_t rejected = 0;
};

// Boost.Odeint: make_controlled(atol, rtol, runge_kutta_dopri5) driven by
// integrate_adaptive with first dt = 0.01 (Boost has no initial-step
// heuristic), as the shared W3 program. NFE is counted in the system functor;
// rejected = attempts − accepted with attempts = (NFE − 1) / 6 (FSAL: one
// evaluation to start, six per attempt).
template <class P>
SolveResult boost_dopri5(double rtol, double atol);

// SUNDIALS CVODE, Adams–Moulton with fixed-point iteration, scalar tolerances,
// stop time kT1. Context, vector, solver memory and nonlinear solver are
// created and freed inside the call (as the shared W3 program times them).
// rejected = error-test failures + nonlinear convergence failures.
template <class P>
SolveResult cvode_adams(double rtol, double atol);

// End state used to measure errors: P::exact_end_state() when the problem
// has one, else Boost.Odeint's controlled runge_kutta_fehlberg78 in long
// double at rtol = atol = 1e-17. Computed once per problem, then cached.
template <class P>
const std::array<double, kMaxDim>& reference_end_state();

}  // namespace odeflow::bench
