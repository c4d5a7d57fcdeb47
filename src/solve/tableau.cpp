#include <odeflow/solve/tableau.hpp>

namespace odeflow {

bool ButcherTableau::fsal() const {
  const int s = stages();
  if (s < 2 || c[s - 1] != 1.0 || b[s - 1] != 0.0) return false;
  for (int j = 0; j < s - 1; ++j)
    if (a_at(s - 1, j) != b[j]) return false;
  return true;
}

int ButcherTableau::dense_order() const {
  switch (dense) {
    case DenseKind::kHermite:
      return order < 3 ? order : 3;
    case DenseKind::kQuartic:
      return order < 4 ? order : 4;
    case DenseKind::kPolynomial:
      return dense_degree < order ? dense_degree : order;
  }
  return 0;
}

}  // namespace odeflow
