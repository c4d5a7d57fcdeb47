// What every odeint path does before integrating (internal): the input checks
// and the time reversal of solve() (src/solve/odeint.cpp), shared with the
// static path (detail/static_solve.hpp) so both fail and reverse alike.
#pragma once

#include <odeflow/core/types.hpp>
#include <odeflow/solve/options.hpp>

#include <span>
#include <vector>

namespace odeflow::detail {

// Throws InvalidArgument/ShapeError/NonFiniteError for bad options, y0 or ts
// (everything solve() rejects before looking up the method).
template <Scalar S>
void check_inputs(const Matrix<S>& y0, std::span<const Time> ts, const Options& options);

// Backwards in time odeint solves dz/ds = −f(−s, z) for s = −t: these are the
// negated times and the options of that problem (step_t, jump_t and
// grid_points negated; on_step reports in the caller's time and refers to
// `options`, which must outlive the result).
std::vector<Time> negated_times(std::span<const Time> times);
Options reversed_options(const Options& options);

// The ShapeError for an f that returned a rows×cols matrix at t.
[[noreturn]] void throw_rhs_shape(Eigen::Index rows, Eigen::Index cols, Eigen::Index want_rows,
                                  Eigen::Index want_cols, Time t);

}  // namespace odeflow::detail
