// Dense output of one accepted step: the state anywhere in [t0, t1].
//
// The interpolant is the tableau's (DenseKind). Coefficients are fitted
// lazily, on the first evaluation, so steps with no output inside cost
// nothing; kPolynomial methods with extra stages evaluate them then.
#pragma once

#include <odeflow/core/types.hpp>
#include <odeflow/solve/rhs.hpp>
#include <odeflow/solve/rk_step.hpp>
#include <odeflow/solve/tableau.hpp>

#include <cstdint>
#include <optional>
#include <vector>

namespace odeflow {

template <Scalar S>
class DenseStep {
 public:
  // Binds the step [t0, t1] (views, not copies: y0, y1, work must outlive the
  // evaluations). f1 must hold f(t1, y1) when `f1_known`; otherwise it is
  // evaluated into *f1 on demand (and counted in *nfe).
  void bind(const ButcherTableau* tableau, Rhs<S> f, Time t0, Time t1, const Matrix<S>* y0,
            const Matrix<S>* y1, RkWork<S>* work, Matrix<S>* f1, bool f1_known,
            std::int64_t* nfe);

  // out = y(t) for t in [t0, t1].
  void evaluate(Time t, Matrix<S>& out);

  // Whether f(t1, y1) was computed (by evaluate or bind).
  bool f1_known() const { return f1_known_; }

 private:
  void fit();
  void ensure_f1();

  const ButcherTableau* tableau_ = nullptr;
  std::optional<Rhs<S>> f_;
  Time t0_ = 0, t1_ = 0;
  const Matrix<S>* y0_ = nullptr;
  const Matrix<S>* y1_ = nullptr;
  RkWork<S>* work_ = nullptr;
  Matrix<S>* f1_ = nullptr;
  bool f1_known_ = false;
  bool fitted_ = false;
  std::int64_t* nfe_ = nullptr;
  std::vector<Matrix<S>> coef_;  // kQuartic: y_mid, then a, b, c of detail::quartic_coefficients
};

}  // namespace odeflow
