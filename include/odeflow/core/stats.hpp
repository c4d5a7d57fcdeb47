// Statistics of one solve. Always collected; cheap counters.
#pragma once

#include <cstdint>

namespace odeflow {

struct Stats {
  std::int64_t nfe = 0;       // calls of f (one call = one batched evaluation)
  std::int64_t accepted = 0;  // accepted steps
  std::int64_t rejected = 0;  // rejected steps (adaptive methods only)
  double first_step = 0.0;    // size of the first attempted step (|dt|)
  double last_step = 0.0;     // size of the last accepted step (|dt|)
  double next_step = 0.0;     // adaptive methods: the step size proposed after the last accepted step (|dt|)

  std::int64_t steps() const { return accepted + rejected; }
};

}  // namespace odeflow
