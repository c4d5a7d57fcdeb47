// Dense output of the static path (internal): DenseStep's contract and
// arithmetic (detail/dense_kernels.hpp, the same combinations) on the static
// stepper's fixed-size stages, with no heap memory.
#pragma once

#include <odeflow/core/types.hpp>
#include <odeflow/solve/detail/dense_kernels.hpp>
#include <odeflow/solve/rk_step.hpp>
#include <odeflow/solve/static_rk_step.hpp>
#include <odeflow/solve/tableau.hpp>

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>

namespace odeflow::detail {

template <const ButcherTableau& T, class State, class F>
class StaticDense {
 public:
  using S = typename State::Scalar;
  static constexpr int kStages = T.stages();
  static constexpr int kExtra = T.extra_stages();

  // Binds the accepted step [t0, t1] of `work` (views: y0, work and *f1 must
  // outlive the evaluations); as DenseStep::bind.
  void bind(Time t0, Time t1, const State* y0, const StaticRkWork<T, State>* work, State* f1, bool f1_known,
            std::int64_t* nfe) {
    t0_ = t0;
    t1_ = t1;
    y0_ = y0;
    work_ = work;
    f1_ = f1;
    f1_known_ = f1_known;
    nfe_ = nfe;
    fitted_ = false;
  }

  // out = y(t) for t in [t0, t1] (out has y0's shape).
  void evaluate(const F& f, Time t, S* out) {
    assert(t >= t0_ && t <= t1_);
    constexpr Eigen::Index n = State::SizeAtCompileTime;
    if (t == t1_ || t == t0_) {
      const S* from = t == t1_ ? work_->y1.data() : y0_->data();
      for (Eigen::Index i = 0; i < n; ++i) out[i] = from[i];
      return;
    }
    if (!fitted_) fit(f);
    const S x = static_cast<S>((t - t0_) / (t1_ - t0_));
    const S dt = static_cast<S>(t1_ - t0_);
    const S* f0 = work_->k[0].data();
    if constexpr (T.dense == DenseKind::kHermite) {
      hermite_value<S>(out, y0_->data(), f0, work_->y1.data(), f1_->data(), dt, x, n);
    } else if constexpr (T.dense == DenseKind::kQuartic) {
      quartic_value<S>(out, y0_->data(), f0, a_.data(), b_.data(), c_.data(), dt, x, n);
    } else {
      static_assert(kStages + kExtra <= kMaxDenseStages, "too many stages for dense output");
      double weights[kStages + kExtra];
      polynomial_weights(T, (t - t0_) / (t1_ - t0_), weights);
      const std::array<const S*, kStages + kExtra> k = stage_pointers();
      linear_combination<S>(out, y0_->data(), weights, k.data(), kStages + kExtra, dt, n);
    }
  }

  bool f1_known() const { return f1_known_; }

 private:
  std::array<const S*, kStages + kExtra> stage_pointers() const {
    std::array<const S*, kStages + kExtra> k{};
    constexpr auto s = static_cast<std::size_t>(kStages), e = static_cast<std::size_t>(kExtra);
    for (std::size_t i = 0; i < s; ++i) k[i] = work_->k[i].data();
    for (std::size_t m = 0; m < e; ++m) k[s + m] = extra_k_[m].data();
    return k;
  }

  void fit(const F& f) {
    const S dt = static_cast<S>(t1_ - t0_);
    if constexpr (T.dense != DenseKind::kPolynomial) {
      if (!f1_known_) {
        f(t1_, work_->y1, *f1_);
        ++*nfe_;
        f1_known_ = true;
      }
    }
    if constexpr (T.dense == DenseKind::kQuartic) {
      State y_mid;
      static_combine<T, kRowMid>(y_mid.data(), y0_->data(), work_->k, dt);
      quartic_coefficients<S>(a_.data(), b_.data(), c_.data(), y0_->data(), work_->y1.data(), y_mid.data(),
                              work_->k[0].data(), f1_->data(), dt, State::SizeAtCompileTime);
    } else if constexpr (kExtra > 0) {
      for (int m = 0; m < kExtra; ++m) {
        const std::array<const S*, kStages + kExtra> k = stage_pointers();
        const double* a = &T.extra_a[static_cast<std::size_t>(m * (kStages + kExtra))];
        linear_combination<S>(stage_.data(), y0_->data(), a, k.data(), kStages + m, dt, State::SizeAtCompileTime);
        f(extra_stage_time(T, m, t0_, t1_), stage_, extra_k_[static_cast<std::size_t>(m)]);
        ++*nfe_;
      }
    }
    fitted_ = true;
  }

  Time t0_ = 0, t1_ = 0;
  const State* y0_ = nullptr;
  const StaticRkWork<T, State>* work_ = nullptr;
  State* f1_ = nullptr;
  bool f1_known_ = false;
  bool fitted_ = false;
  std::int64_t* nfe_ = nullptr;
  State a_, b_, c_;                    // kQuartic coefficients
  std::array<State, kExtra> extra_k_;  // kPolynomial extra stages
  State stage_;                        // input of an extra stage
};

}  // namespace odeflow::detail
