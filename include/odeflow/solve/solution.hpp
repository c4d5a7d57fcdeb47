// Result of odeint: the state at each requested time, and statistics.
#pragma once

#include <odeflow/core/stats.hpp>
#include <odeflow/core/types.hpp>

#include <vector>

namespace odeflow {

template <Scalar S>
struct Solution {
  std::vector<Time> ts;       // the requested output times
  std::vector<Matrix<S>> ys;  // ys[k] = y(ts[k]), same shape as y0
  Stats stats;
};

}  // namespace odeflow
