// Every registered Butcher tableau against Runge–Kutta theory: consistency,
// the order conditions of its solution, embedded solutions and continuous
// extension (Butcher's rooted trees, generated here up to order 9), FSAL.
#include <odeflow/solve/registry.hpp>
#include <odeflow/solve/tableau.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace odeflow {
namespace {

// A rooted tree: its order |t|, its children (indices into the tree list) and
// its density γ(t) = |t|·Π γ(child).
struct Tree {
  int order;
  std::vector<int> children;
  double gamma;
};

// All rooted trees of order ≤ max_order, by increasing order; each is the
// root plus a multiset of smaller trees (children listed by non-increasing index).
std::vector<Tree> rooted_trees(int max_order) {
  std::vector<Tree> trees{{1, {}, 1.0}};
  for (int n = 2; n <= max_order; ++n) {
    const int known = static_cast<int>(trees.size());
    std::vector<Tree> fresh;
    std::vector<int> forest;
    auto extend = [&](auto&& self, int remaining, int max_index) -> void {
      if (remaining == 0) {
        double gamma = n;
        for (int child : forest) gamma *= trees[static_cast<std::size_t>(child)].gamma;
        fresh.push_back({n, forest, gamma});
        return;
      }
      for (int i = max_index; i >= 0; --i) {
        const int order = trees[static_cast<std::size_t>(i)].order;
        if (order > remaining) continue;
        forest.push_back(i);
        self(self, remaining - order, i);
        forest.pop_back();
      }
    };
    extend(extend, n - 1, known - 1);
    trees.insert(trees.end(), fresh.begin(), fresh.end());
  }
  return trees;
}

// The tableau with its extra dense-output stages appended: c and a over all
// s + e stages.
struct ExtendedTableau {
  std::size_t n;
  std::vector<double> c;
  std::vector<double> a;  // n×n row-major

  explicit ExtendedTableau(const ButcherTableau& t)
      : n(t.c.size() + t.extra_c.size()), c(t.c.begin(), t.c.end()), a(n * n, 0.0) {
    const std::size_t s = t.c.size();
    c.insert(c.end(), t.extra_c.begin(), t.extra_c.end());
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j)
        at(i, j) = i < s ? (j < s ? t.a[i * s + j] : 0.0) : t.extra_a[(i - s) * n + j];
  }
  double& at(std::size_t i, std::size_t j) { return a[i * n + j]; }
  double at(std::size_t i, std::size_t j) const { return a[i * n + j]; }
};

// Stage values Ψ(t)_i = Π_children (Σ_j a_ij Ψ(child)_j) for every tree (Ψ(•) = 1).
std::vector<std::vector<double>> stage_values(const ExtendedTableau& t, const std::vector<Tree>& trees) {
  std::vector<std::vector<double>> psi;
  for (const Tree& tree : trees) {
    std::vector<double> p(t.n, 1.0);
    for (int child : tree.children) {
      const std::vector<double>& q = psi[static_cast<std::size_t>(child)];
      for (std::size_t i = 0; i < t.n; ++i) {
        double sum = 0.0;
        for (std::size_t j = 0; j < i; ++j) sum += t.at(i, j) * q[j];
        p[i] *= sum;
      }
    }
    psi.push_back(std::move(p));
  }
  return psi;
}

// Coefficients carry 16 significant digits and DOP853's dense polynomials have
// coefficients up to ~1e3, so conditions hold to ~1e-13; a wrong digit in a
// coefficient shows up far above this.
constexpr double kConditionTolerance = 1e-12;

// |Φ(t) − scale^|t|/γ(t)| with Φ(t) = Σ_i w_i Ψ(t)_i (w over the first w.size() stages).
double residual(std::span<const double> w, const std::vector<double>& psi, const Tree& tree, double scale) {
  double phi = 0.0;
  for (std::size_t i = 0; i < w.size(); ++i) phi += w[i] * psi[i];
  return std::abs(phi - std::pow(scale, tree.order) / tree.gamma);
}

// Checks the conditions of every tree of order ≤ order; returns the largest
// residual among the trees of order + 1 (how far the weights are from the
// next order).
double check_order(std::span<const double> w, const std::vector<Tree>& trees,
                   const std::vector<std::vector<double>>& psi, int order, double scale, const std::string& what) {
  double next = 0.0;
  for (std::size_t k = 0; k < trees.size(); ++k) {
    if (trees[k].order > order + 1) break;
    const double r = residual(w, psi[k], trees[k], scale);
    if (trees[k].order == order + 1) {
      next = std::max(next, r);
      continue;
    }
    EXPECT_LE(r, kConditionTolerance) << what << ": the condition of tree #" << k << " (order " << trees[k].order
                                      << ") fails";
  }
  return next;
}

// The registry's explicit Runge–Kutta methods whose tableau satisfies `keep`.
template <class Predicate>
std::vector<std::string> rk_methods_where(Predicate keep) {
  std::vector<std::string> out;
  for (const MethodInfo& m : methods())
    if (m.kind == MethodKind::kExplicitRk && keep(*m.tableau)) out.emplace_back(m.name);
  return out;
}

std::string method_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

class Tableau : public ::testing::TestWithParam<std::string> {
 protected:
  const MethodInfo& method() const { return find_method(GetParam()); }
  const ButcherTableau& tableau() const { return *method().tableau; }
  static const std::vector<Tree>& trees() {
    static const std::vector<Tree> all = rooted_trees(9);
    return all;
  }
};
class AdaptiveTableau : public Tableau {};   // with an error estimate
class ExtensionTableau : public Tableau {};  // with a continuous extension (kPolynomial)
class QuarticTableau : public Tableau {};    // with torchdiffeq's quartic fit

// A000081: 1, 1, 2, 4, 9, 20, 48, 115, 286 rooted trees of orders 1..9.
TEST(RootedTrees, AreCountedAsInTheLiterature) {
  const std::vector<Tree> trees = rooted_trees(9);
  std::vector<int> count(10, 0);
  for (const Tree& t : trees) ++count[static_cast<std::size_t>(t.order)];
  EXPECT_EQ(count, (std::vector<int>{0, 1, 1, 2, 4, 9, 20, 48, 115, 286}));
  EXPECT_EQ(trees[2].gamma, 6.0);  // [[•]]: γ = 3·2
  EXPECT_EQ(trees[3].gamma, 3.0);  // [•, •]
}

TEST_P(Tableau, HasConsistentShapesAndAStrictlyLowerTriangularA) {
  const ButcherTableau& t = tableau();
  const std::size_t s = static_cast<std::size_t>(t.stages());
  EXPECT_EQ(method().order, t.order);
  EXPECT_EQ(method().adaptive, t.adaptive());
  ASSERT_EQ(t.a.size(), s * s);
  ASSERT_EQ(t.b.size(), s);
  if (t.adaptive()) {
    ASSERT_EQ(t.b_error.size(), s);
    EXPECT_GT(t.embedded_order, 0);
  }
  if (!t.b_error3.empty()) ASSERT_EQ(t.b_error3.size(), s);
  if (t.dense == DenseKind::kQuartic) ASSERT_EQ(t.c_mid.size(), s);
  if (t.dense == DenseKind::kPolynomial) {
    const std::size_t n = s + t.extra_c.size();
    ASSERT_EQ(t.extra_a.size(), t.extra_c.size() * n);
    ASSERT_EQ(t.dense_b.size(), n * static_cast<std::size_t>(t.dense_degree));
    EXPECT_LE(n, 16U) << "linear_combination takes at most 16 terms";
  }
  const ExtendedTableau ext(t);
  for (std::size_t i = 0; i < ext.n; ++i)
    for (std::size_t j = i; j < ext.n; ++j) EXPECT_EQ(ext.at(i, j), 0.0) << "a(" << i << ", " << j << ")";
}

TEST_P(Tableau, RowSumsOfAEqualTheNodes) {
  const ExtendedTableau ext(tableau());
  for (std::size_t i = 0; i < ext.n; ++i) {
    double sum = 0.0, bound = 0.0;
    for (std::size_t j = 0; j < i; ++j) {
      sum += ext.at(i, j);
      bound += std::abs(ext.at(i, j));
    }
    EXPECT_NEAR(sum, ext.c[i], 8 * std::numeric_limits<double>::epsilon() * std::max(1.0, bound)) << "row " << i;
  }
}

TEST_P(Tableau, WeightsSumToOne) {
  double sum = 0.0;
  for (double b : tableau().b) sum += b;
  EXPECT_NEAR(sum, 1.0, 1e-15);
}

TEST_P(Tableau, SatisfiesTheOrderConditionsOfItsOrderAndNoMore) {
  const ButcherTableau& t = tableau();
  const auto psi = stage_values(ExtendedTableau(t), trees());
  const double next = check_order(t.b, trees(), psi, t.order, 1.0, "b");
  EXPECT_GT(next, 1e-6) << "b also has order " << t.order + 1;
}

TEST_P(AdaptiveTableau, EmbeddedSolutionsHaveTheirOrder) {
  const ButcherTableau& t = tableau();
  const auto psi = stage_values(ExtendedTableau(t), trees());
  std::vector<double> b_hat(t.b.size());
  for (std::size_t i = 0; i < b_hat.size(); ++i) b_hat[i] = t.b[i] - t.b_error[i];
  EXPECT_LT(t.embedded_order, t.order);
  EXPECT_GT(check_order(b_hat, trees(), psi, t.embedded_order, 1.0, "b - b_error"), 1e-6)
      << "the embedded solution has order " << t.embedded_order + 1 << " as well";
  if (t.b_error3.empty()) return;
  for (std::size_t i = 0; i < b_hat.size(); ++i) b_hat[i] = t.b[i] - t.b_error3[i];
  EXPECT_GT(check_order(b_hat, trees(), psi, 3, 1.0, "b - b_error3"), 1e-6);
}

TEST_P(Tableau, IsFsalExactlyWhenTheLiteratureSaysSo) {
  static const std::set<std::string> kFsal = {"dopri5", "tsit5", "dopri8", "bosh3"};
  EXPECT_EQ(tableau().fsal(), kFsal.count(GetParam()) == 1);
}

// b_i(θ) = Σ_p dense_b[i·P + p − 1] θ^p over every stage, extra ones included.
std::vector<double> dense_weights(const ButcherTableau& t, double theta) {
  const std::size_t degree = static_cast<std::size_t>(t.dense_degree);
  std::vector<double> w(t.dense_b.size() / degree, 0.0);
  for (std::size_t i = 0; i < w.size(); ++i)
    for (std::size_t p = degree; p >= 1; --p) w[i] = (w[i] + t.dense_b[i * degree + p - 1]) * theta;
  return w;
}

TEST_P(ExtensionTableau, MeetsTheSolutionAtTheStepEnd) {
  const ButcherTableau& t = tableau();
  const std::vector<double> w = dense_weights(t, 1.0);
  const std::size_t degree = static_cast<std::size_t>(t.dense_degree);
  for (std::size_t i = 0; i < w.size(); ++i) {
    double bound = 0.0;
    for (std::size_t p = 0; p < degree; ++p) bound += std::abs(t.dense_b[i * degree + p]);
    const double b = i < t.b.size() ? t.b[i] : 0.0;
    EXPECT_NEAR(w[i], b, 16 * std::numeric_limits<double>::epsilon() * std::max(1.0, bound)) << "stage " << i;
  }
}

TEST_P(ExtensionTableau, HasItsDenseOrderAtEveryTheta) {
  const ButcherTableau& t = tableau();
  const auto psi = stage_values(ExtendedTableau(t), trees());
  double next = 0.0;
  for (double theta : {0.1, 0.3, 0.5, 0.77, 0.9, 1.0}) {
    const std::vector<double> w = dense_weights(t, theta);
    const double r = check_order(w, trees(), psi, t.dense_order(), theta, "b(θ = " + std::to_string(theta) + ")");
    if (theta < 1.0) next = std::max(next, r);
  }
  if (t.dense_order() < t.order) EXPECT_GT(next, 1e-6) << "the extension has order " << t.dense_order() + 1;
}

TEST_P(QuarticTableau, MidpointValueHasOrderFour) {
  const auto psi = stage_values(ExtendedTableau(tableau()), trees());
  check_order(tableau().c_mid, trees(), psi, 4, 0.5, "c_mid");
}

INSTANTIATE_TEST_SUITE_P(Registry, Tableau,
                         ::testing::ValuesIn(rk_methods_where([](const ButcherTableau&) { return true; })),
                         method_name);
INSTANTIATE_TEST_SUITE_P(
    Registry, AdaptiveTableau,
    ::testing::ValuesIn(rk_methods_where([](const ButcherTableau& t) { return t.adaptive(); })), method_name);
INSTANTIATE_TEST_SUITE_P(Registry, ExtensionTableau,
                         ::testing::ValuesIn(rk_methods_where([](const ButcherTableau& t) {
                           return t.dense == DenseKind::kPolynomial;
                         })),
                         method_name);
INSTANTIATE_TEST_SUITE_P(Registry, QuarticTableau,
                         ::testing::ValuesIn(rk_methods_where([](const ButcherTableau& t) {
                           return t.dense == DenseKind::kQuartic;
                         })),
                         method_name);

}  // namespace
}  // namespace odeflow
