// SplitMix64: the one documented pseudo-random generator behind every random
// draw odeflow makes (layer initialization, dropout masks, trace-estimator
// noise, data sets, benchmark workloads). It is portable and tiny, so the
// same seed gives the same numbers in C++ and in the Python reference
// scripts (../shared/bench/WORKLOADS.md §1 spells out the exact rules).
#pragma once

#include <odeflow/core/types.hpp>

#include <cmath>
#include <cstdint>
#include <numbers>

namespace odeflow {

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed = 0) : state_(seed) {}

  std::uint64_t next_u64() {
    state_ += 0x9E3779B97F4A7C15ULL;
    std::uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // In [0, 1), 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  // Box–Muller, cosine branch: exactly two uniforms per normal.
  double normal() {
    const double u1 = uniform();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
  // In [0, n).
  std::uint64_t below(std::uint64_t n) { return static_cast<std::uint64_t>(std::floor(uniform() * static_cast<double>(n))); }
  // +1 or -1 with equal probability (Rademacher).
  double sign() { return uniform() < 0.5 ? -1.0 : 1.0; }

  std::uint64_t state() const { return state_; }

 private:
  std::uint64_t state_;
};

// rows×cols, entries uniform in [lo, hi), drawn in column-major order.
template <Scalar S>
Matrix<S> uniform_matrix(Eigen::Index rows, Eigen::Index cols, SplitMix64& rng, double lo = -1.0, double hi = 1.0) {
  Matrix<S> m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<S>(rng.uniform(lo, hi));
  return m;
}

}  // namespace odeflow
