#include <odeflow/solve/dense_output.hpp>

#include <odeflow/solve/detail/dense_kernels.hpp>

#include <cassert>

namespace odeflow {

template <Scalar S>
void DenseStep<S>::bind(const ButcherTableau* tableau, Rhs<S> f, Time t0, Time t1,
                        const Matrix<S>* y0, const Matrix<S>* y1, RkWork<S>* work, Matrix<S>* f1,
                        bool f1_known, std::int64_t* nfe) {
  tableau_ = tableau;
  f_.emplace(f);
  t0_ = t0;
  t1_ = t1;
  y0_ = y0;
  y1_ = y1;
  work_ = work;
  f1_ = f1;
  f1_known_ = f1_known;
  nfe_ = nfe;
  fitted_ = false;
}

template <Scalar S>
void DenseStep<S>::ensure_f1() {
  if (f1_known_) return;
  (*f_)(t1_, *y1_, *f1_);
  ++*nfe_;
  f1_known_ = true;
}

template <Scalar S>
void DenseStep<S>::fit() {
  const Matrix<S>& y0 = *y0_;
  const S dt = static_cast<S>(t1_ - t0_);
  switch (tableau_->dense) {
    case DenseKind::kHermite:
      ensure_f1();
      break;
    case DenseKind::kQuartic: {
      ensure_f1();
      coef_.resize(4);  // y_mid, then a, b, c of detail::quartic_coefficients
      for (Matrix<S>& m : coef_) m.resize(y0.rows(), y0.cols());
      linear_combination<S>(coef_[0], y0, tableau_->c_mid.data(), work_->k.data(), tableau_->stages(), dt);
      detail::quartic_coefficients<S>(coef_[1].data(), coef_[2].data(), coef_[3].data(), y0.data(), y1_->data(),
                                      coef_[0].data(), work_->k[0].data(), f1_->data(), dt, y0.size());
      break;
    }
    case DenseKind::kPolynomial: {
      const int s = tableau_->stages();
      const int e = tableau_->extra_stages();
      for (int m = 0; m < e; ++m) {
        const int row = s + m;
        linear_combination<S>(work_->stage, y0, &tableau_->extra_a[static_cast<std::size_t>(m * (s + e))],
                              work_->k.data(), row, dt);
        const Time t = detail::extra_stage_time(*tableau_, m, t0_, t1_);
        (*f_)(t, work_->stage, work_->k[static_cast<std::size_t>(row)]);
        ++*nfe_;
      }
      break;
    }
  }
  fitted_ = true;
}

template <Scalar S>
void DenseStep<S>::evaluate(Time t, Matrix<S>& out) {
  assert(t >= t0_ && t <= t1_);
  if (t == t1_) {
    out = *y1_;
    return;
  }
  if (t == t0_) {
    out = *y0_;
    return;
  }
  if (!fitted_) fit();
  const S x = static_cast<S>((t - t0_) / (t1_ - t0_));
  const S dt = static_cast<S>(t1_ - t0_);
  const Eigen::Index n = y0_->size();
  out.resize(y0_->rows(), y0_->cols());
  switch (tableau_->dense) {
    case DenseKind::kHermite:
      detail::hermite_value<S>(out.data(), y0_->data(), work_->k[0].data(), y1_->data(), f1_->data(), dt, x, n);
      break;
    case DenseKind::kQuartic:
      detail::quartic_value<S>(out.data(), y0_->data(), work_->k[0].data(), coef_[1].data(), coef_[2].data(),
                               coef_[3].data(), dt, x, n);
      break;
    case DenseKind::kPolynomial: {
      double weights[detail::kMaxDenseStages];
      assert(tableau_->stages() + tableau_->extra_stages() <= detail::kMaxDenseStages);
      detail::polynomial_weights(*tableau_, (t - t0_) / (t1_ - t0_), weights);
      const int n_stages = tableau_->stages() + tableau_->extra_stages();
      linear_combination<S>(out, *y0_, weights, work_->k.data(), n_stages, dt);
      break;
    }
  }
}

template class DenseStep<float>;
template class DenseStep<double>;

}  // namespace odeflow
