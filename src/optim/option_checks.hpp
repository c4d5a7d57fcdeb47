// Range checks shared by the optim options' validate(); each message names
// the owner, the field and the bad value.
#pragma once

#include <odeflow/core/error.hpp>

#include <fmt/format.h>

#include <cmath>

namespace odeflow::optim::detail {

inline void check_non_negative(const char* owner, const char* field, double value) {
  if (!(std::isfinite(value) && value >= 0.0))
    throw InvalidArgument(fmt::format("{}: {} = {} must be finite and non-negative", owner, field, value));
}

inline void check_positive(const char* owner, const char* field, double value) {
  if (!(std::isfinite(value) && value > 0.0))
    throw InvalidArgument(fmt::format("{}: {} = {} must be finite and positive", owner, field, value));
}

// value ∈ [0, 1) (Adam's betas) or [0, 1] (closed = true).
inline void check_unit_interval(const char* owner, const char* field, double value, bool closed) {
  if (!(value >= 0.0 && (closed ? value <= 1.0 : value < 1.0)))
    throw InvalidArgument(fmt::format("{}: {} = {} must lie in [0, 1{}", owner, field, value, closed ? "]" : ")"));
}

// `options` after its validate(): lets a constructor check its options before
// the base class sees any of them.
template <class Options>
const Options& validated(const Options& options) {
  options.validate();
  return options;
}

}  // namespace odeflow::optim::detail
