#include <odeflow/solve/dense_output.hpp>

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
  const Matrix<S>& y1 = *y1_;
  const Matrix<S>& f0 = work_->k[0];
  const S dt = static_cast<S>(t1_ - t0_);
  switch (tableau_->dense) {
    case DenseKind::kHermite:
      ensure_f1();
      break;
    case DenseKind::kQuartic: {
      ensure_f1();
      const Matrix<S>& f1 = *f1_;
      coef_.resize(5);
      Matrix<S>& y_mid = coef_[0];
      y_mid.resize(y0.rows(), y0.cols());
      linear_combination<S>(y_mid, y0, tableau_->c_mid.data(), work_->k.data(), tableau_->stages(), dt);
      // Polynomial e + d·x + c·x² + b·x³ + a·x⁴ through y0, y_mid, y1, dt·f0, dt·f1.
      coef_[4] = 2 * dt * (f1 - f0) - 8 * (y1 + y0) + 16 * y_mid;                 // a
      coef_[3] = dt * (5 * f0 - 3 * f1) + 18 * y0 + 14 * y1 - 32 * y_mid;          // b
      coef_[2] = dt * (f1 - 4 * f0) - 11 * y0 - 5 * y1 + 16 * y_mid;               // c
      coef_[1] = dt * f0;                                                          // d
      coef_[0] = y0;                                                               // e
      break;
    }
    case DenseKind::kPolynomial: {
      const int s = tableau_->stages();
      const int e = tableau_->extra_stages();
      for (int m = 0; m < e; ++m) {
        const int row = s + m;
        linear_combination<S>(work_->stage, y0, &tableau_->extra_a[static_cast<std::size_t>(m * (s + e))],
                              work_->k.data(), row, dt);
        (*f_)(t0_ + tableau_->extra_c[m] * (t1_ - t0_), work_->stage, work_->k[static_cast<std::size_t>(row)]);
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
  switch (tableau_->dense) {
    case DenseKind::kHermite: {
      const S h00 = (1 + 2 * x) * (1 - x) * (1 - x);
      const S h10 = x * (1 - x) * (1 - x);
      const S h01 = x * x * (3 - 2 * x);
      const S h11 = x * x * (x - 1);
      out = h00 * *y0_ + (h10 * dt) * work_->k[0] + h01 * *y1_ + (h11 * dt) * *f1_;
      break;
    }
    case DenseKind::kQuartic: {
      out = coef_[0] + x * coef_[1];
      S power = x;
      for (int i = 2; i < 5; ++i) {
        power *= x;
        out += power * coef_[static_cast<std::size_t>(i)];
      }
      break;
    }
    case DenseKind::kPolynomial: {
      const int n = tableau_->stages() + tableau_->extra_stages();
      const int degree = tableau_->dense_degree;
      double weights[32];
      assert(n <= 32);
      const double theta = (t - t0_) / (t1_ - t0_);
      for (int i = 0; i < n; ++i) {
        double w = 0.0;
        for (int p = degree; p >= 1; --p) w = (w + tableau_->dense_b[static_cast<std::size_t>(i * degree + p - 1)]) * theta;
        weights[i] = w;
      }
      out.resize(y0_->rows(), y0_->cols());
      linear_combination<S>(out, *y0_, weights, work_->k.data(), n, dt);
      break;
    }
  }
}

template class DenseStep<float>;
template class DenseStep<double>;

}  // namespace odeflow
