// A public gradient checker (in the spirit of Ceres' GradientChecker and
// torch.autograd.gradcheck): compares the tape's reverse-mode gradient of a
// function of several inputs with central finite differences.
//
// The function may return any shape; it is reduced to the scalar
// L = sum(f(x) .* w) with a fixed pseudo-random weight w (seeded), so every
// output element is checked at once. gradgradcheck checks the gradient of
// that gradient: the function x -> sum_i <dL/dx_i, u_i> (computed with
// create_graph) against finite differences of the first gradient.
#pragma once

#include <odeflow/ad/tape.hpp>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace odeflow::ad {

template <Scalar S>
using TensorFunction = std::function<Tensor<S>(Tape<S>& tape, std::span<const Tensor<S>> inputs)>;

struct GradcheckOptions {
  double step = 1e-6;   // finite-difference step (relative to max(1, |x|))
  double atol = 1e-7;   // an element passes when |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-5;
  std::uint64_t seed = 1234;
};

struct GradcheckResult {
  bool ok = true;
  double max_error = 0;  // the largest |analytic - numeric|
  std::string worst;     // "input 1, element 3: analytic … numeric …" for the largest violation
};

template <Scalar S>
GradcheckResult gradcheck(const TensorFunction<S>& f, std::span<const Matrix<S>> inputs,
                          const GradcheckOptions& options = {});

template <Scalar S>
GradcheckResult gradgradcheck(const TensorFunction<S>& f, std::span<const Matrix<S>> inputs,
                              const GradcheckOptions& options = {});

extern template GradcheckResult gradcheck<double>(const TensorFunction<double>&, std::span<const Matrix<double>>,
                                                  const GradcheckOptions&);
extern template GradcheckResult gradcheck<float>(const TensorFunction<float>&, std::span<const Matrix<float>>,
                                                 const GradcheckOptions&);
extern template GradcheckResult gradgradcheck<double>(const TensorFunction<double>&, std::span<const Matrix<double>>,
                                                      const GradcheckOptions&);
extern template GradcheckResult gradgradcheck<float>(const TensorFunction<float>&, std::span<const Matrix<float>>,
                                                     const GradcheckOptions&);

}  // namespace odeflow::ad
