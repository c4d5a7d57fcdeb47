#include <odeflow/ad/gradcheck.hpp>
#include <odeflow/ad/ops.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace odeflow::ad {
namespace {

template <Scalar S>
Matrix<S> random_weights(Eigen::Index rows, Eigen::Index cols, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.5, 1.5);
  std::bernoulli_distribution sign(0.5);
  Matrix<S> w(rows, cols);
  for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<S>(sign(rng) ? u(rng) : -u(rng));
  return w;
}

// L(x) = sum(f(x) .* w) as a plain number, on a scratch tape.
template <Scalar S>
double projected(const TensorFunction<S>& f, std::span<const Matrix<S>> xs, const Matrix<S>& w) {
  Tape<S> tape;
  std::vector<Tensor<S>> ts;
  for (const Matrix<S>& x : xs) ts.push_back(tape.constant(x));
  const Tensor<S> y = f(tape, ts);
  return (y.value().template cast<double>().array() * w.template cast<double>().array()).sum();
}

}  // namespace

template <Scalar S>
GradcheckResult gradcheck(const TensorFunction<S>& f, std::span<const Matrix<S>> inputs,
                          const GradcheckOptions& options) {
  std::mt19937_64 rng(options.seed);
  Matrix<S> w;
  std::vector<Matrix<S>> analytic;
  {
    Tape<S> tape;
    GradScope<S> scope(tape);
    std::vector<Tensor<S>> ts;
    for (const Matrix<S>& x : inputs) ts.push_back(tape.variable(x));
    const Tensor<S> y = f(tape, ts);
    w = random_weights<S>(y.rows(), y.cols(), rng);
    const Tensor<S> loss = sum(mul(y, tape.constant(w)));
    for (const Tensor<S>& g : tape.grad(std::span<const Tensor<S>>(&loss, 1), ts)) analytic.emplace_back(g.value());
  }
  GradcheckResult result;
  double worst_excess = 0;
  std::vector<Matrix<S>> xs(inputs.begin(), inputs.end());
  for (std::size_t i = 0; i < xs.size(); ++i) {
    for (Eigen::Index k = 0; k < xs[i].size(); ++k) {
      const S x0 = xs[i].data()[k];
      const double h = options.step * std::max(1.0, std::abs(static_cast<double>(x0)));
      xs[i].data()[k] = static_cast<S>(x0 + h);
      const double up = projected(f, std::span<const Matrix<S>>(xs), w);
      xs[i].data()[k] = static_cast<S>(x0 - h);
      const double down = projected(f, std::span<const Matrix<S>>(xs), w);
      xs[i].data()[k] = x0;
      const double numeric = (up - down) / (2 * h);
      const double a = analytic[i].data()[k];
      const double err = std::abs(a - numeric);
      result.max_error = std::max(result.max_error, err);
      const double excess = err - (options.atol + options.rtol * std::abs(numeric));
      if (excess > 0 && (result.ok || excess > worst_excess)) {
        result.ok = false;
        worst_excess = excess;
        result.worst = fmt::format("input {}, element {}: analytic {:.10g}, numeric {:.10g}", i, k, a, numeric);
      }
    }
  }
  return result;
}

template <Scalar S>
GradcheckResult gradgradcheck(const TensorFunction<S>& f, std::span<const Matrix<S>> inputs,
                              const GradcheckOptions& options) {
  std::mt19937_64 rng(options.seed + 1);
  // The first-order gradient, contracted with fixed directions u_i.
  auto first = std::make_shared<Matrix<S>>();
  std::vector<Matrix<S>> us;
  for (const Matrix<S>& x : inputs) us.push_back(random_weights<S>(x.rows(), x.cols(), rng));
  TensorFunction<S> g = [f, us, first, seed = options.seed](Tape<S>& tape, std::span<const Tensor<S>> xs) {
    GradScope<S> scope(tape);
    std::vector<Tensor<S>> vs;
    for (const Tensor<S>& x : xs) vs.push_back(x.requires_grad() ? x : tape.variable(x.value()));
    const Tensor<S> y = f(tape, vs);
    if (first->size() == 0) {
      std::mt19937_64 r(seed);
      *first = random_weights<S>(y.rows(), y.cols(), r);
    }
    const Tensor<S> loss = sum(mul(y, tape.constant(*first)));
    const std::vector<Tensor<S>> grads = tape.grad(std::span<const Tensor<S>>(&loss, 1), vs, {}, true);
    Tensor<S> total = tape.scalar(S(0));
    for (std::size_t i = 0; i < grads.size(); ++i) total = add(total, sum(mul(grads[i], tape.constant(us[i]))));
    return total;
  };
  return gradcheck<S>(g, inputs, options);
}

template GradcheckResult gradcheck<double>(const TensorFunction<double>&, std::span<const Matrix<double>>,
                                           const GradcheckOptions&);
template GradcheckResult gradcheck<float>(const TensorFunction<float>&, std::span<const Matrix<float>>,
                                          const GradcheckOptions&);
template GradcheckResult gradgradcheck<double>(const TensorFunction<double>&, std::span<const Matrix<double>>,
                                               const GradcheckOptions&);
template GradcheckResult gradgradcheck<float>(const TensorFunction<float>&, std::span<const Matrix<float>>,
                                              const GradcheckOptions&);

}  // namespace odeflow::ad
