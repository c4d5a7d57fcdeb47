// Rows of the table-driven op gradient tests (as ggml's test-backend-ops): an
// op as a function of random inputs whose shapes follow from a (rows, cols)
// pair through one-letter codes, so each row runs on several shapes
// including batch 1.
#pragma once

#include <odeflow/ad/gradcheck.hpp>
#include <odeflow/ad/ops.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <random>
#include <span>
#include <vector>

namespace odeflow::test {

struct OpCase {
  const char* name;
  int arity;
  ad::Tensor<double> (*f)(ad::Tape<double>&, std::span<const ad::Tensor<double>>);
  double lo = -2;  // inputs drawn uniformly from [lo, hi]
  double hi = 2;
  bool second_order = true;
  // Operand shapes from (rows, cols): 'f' rows x cols, 'c' rows x 1, 'r'
  // 1 x cols, 's' 1 x 1, 'k' cols x rows, 'q' cols x cols, 'w' rows x 3,
  // 'b' 3 x 1, 'd' (rows + 2) x cols.
  const char* shapes = "ff";
};

// gtest prints a failing row by its name.
inline void PrintTo(const OpCase& c, std::ostream* os) { *os << c.name; }

inline Eigen::Index dim(char code, Eigen::Index rows, Eigen::Index cols, bool first) {
  switch (code) {
    case 'f': return first ? rows : cols;
    case 'c': return first ? rows : 1;
    case 'r': return first ? 1 : cols;
    case 'k': return first ? cols : rows;
    case 'q': return cols;
    case 'w': return first ? rows : 3;
    case 'b': return first ? 3 : 1;
    case 'd': return first ? rows + 2 : cols;
    default: return 1;
  }
}

inline std::vector<Matrix<double>> random_inputs(const OpCase& c, Eigen::Index rows, Eigen::Index cols,
                                                 std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(c.lo, c.hi);
  std::vector<Matrix<double>> xs;
  for (int i = 0; i < c.arity; ++i) {
    const char code = c.shapes[i] != '\0' ? c.shapes[i] : 'f';
    Matrix<double> x(dim(code, rows, cols, true), dim(code, rows, cols, false));
    // Keep away from kinks (abs, relu, clamp at -1 and 0.5) where finite differences straddle them.
    for (Eigen::Index k = 0; k < x.size(); ++k) {
      double v = u(rng);
      while (std::abs(v) < 0.05 || std::abs(v + 1) < 0.05 || std::abs(v - 0.5) < 0.05 || std::abs(v - 1.5) < 0.05) v = u(rng);
      x.data()[k] = v;
    }
    xs.push_back(x);
  }
  return xs;
}

// First order on 1x1, 4x1, 3x5 and 6x2 operand sizes; second order (the
// gradient of the VJP) on 1x1 and 3x4.
inline void expect_first_order_matches(const OpCase& c) {
  std::mt19937_64 rng(42);
  for (const auto [rows, cols] : {std::pair<Eigen::Index, Eigen::Index>{1, 1}, {4, 1}, {3, 5}, {6, 2}}) {
    const ad::GradcheckResult r = ad::gradcheck<double>(c.f, random_inputs(c, rows, cols, rng));
    EXPECT_TRUE(r.ok) << c.name << " at " << rows << "x" << cols << ": " << r.worst;
  }
}

inline void expect_second_order_matches(const OpCase& c) {
  std::mt19937_64 rng(7);
  for (const auto [rows, cols] : {std::pair<Eigen::Index, Eigen::Index>{1, 1}, {3, 4}}) {
    const ad::GradcheckResult r = ad::gradgradcheck<double>(c.f, random_inputs(c, rows, cols, rng));
    EXPECT_TRUE(r.ok) << c.name << " at " << rows << "x" << cols << ": " << r.worst;
  }
}

}  // namespace odeflow::test
