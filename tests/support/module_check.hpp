// Finite-difference checks of a module's parameter gradients (ad::gradcheck
// covers a function's inputs; this covers the Parameters a module owns):
// L = sum(f(tape) .* w) with fixed random w, the analytic gradient from
// backward() into Parameter::grad against central differences of L over
// every element of flat_parameters().
#pragma once

#include <odeflow/ad/gradcheck.hpp>
#include <odeflow/ad/ops.hpp>
#include <odeflow/nn/module.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

namespace odeflow::test {

template <Scalar S>
using ModuleCall = std::function<ad::Tensor<S>(ad::Tape<S>& tape)>;

template <Scalar S>
ad::GradcheckResult parameter_gradcheck(nn::Module<S>& module, const ModuleCall<S>& f,
                                        const ad::GradcheckOptions& options = {}) {
  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> u(-1.5, 1.5);
  Matrix<S> w;
  Vector<S> analytic;
  {
    ad::Tape<S> tape;
    ad::GradScope<S> scope(tape);
    const ad::Tensor<S> y = f(tape);
    w = Matrix<S>::NullaryExpr(y.rows(), y.cols(), [&] { return static_cast<S>(u(rng)); });
    module.zero_grad();
    tape.backward(ad::sum(ad::mul(y, tape.constant(w))));
    analytic = module.flat_gradients();
  }
  auto projected = [&] {
    ad::Tape<S> tape;
    const ad::Tensor<S> y = f(tape);
    return (y.value().template cast<double>().array() * w.template cast<double>().array()).sum();
  };
  ad::GradcheckResult result;
  Vector<S> theta = module.flat_parameters();
  for (Eigen::Index k = 0; k < theta.size(); ++k) {
    const S x0 = theta(k);
    const double h = options.step * std::max(1.0, std::abs(static_cast<double>(x0)));
    theta(k) = static_cast<S>(x0 + h);
    module.set_flat_parameters(theta);
    const double up = projected();
    theta(k) = static_cast<S>(x0 - h);
    module.set_flat_parameters(theta);
    const double down = projected();
    theta(k) = x0;
    const double numeric = (up - down) / (2 * h);
    const double err = std::abs(static_cast<double>(analytic(k)) - numeric);
    if (err > options.atol + options.rtol * std::abs(numeric) && (result.ok || err > result.max_error)) {
      result.ok = false;
      result.worst = fmt::format("parameter element {}: analytic {:.10g}, numeric {:.10g}", k, analytic(k), numeric);
    }
    result.max_error = std::max(result.max_error, err);
  }
  module.set_flat_parameters(theta);
  return result;
}

// Uniform random matrix in [-2, 2] from a fixed seed.
inline Matrix<double> random_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-2.0, 2.0);
  return Matrix<double>::NullaryExpr(rows, cols, [&] { return u(rng); });
}

}  // namespace odeflow::test
