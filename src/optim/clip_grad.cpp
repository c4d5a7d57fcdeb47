#include <odeflow/optim/clip_grad.hpp>

#include "optim/option_checks.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace odeflow::optim {
namespace {

// ‖x‖_p of a list of magnitudes; p = 2 takes the square root directly.
template <class Range, class Get>
double p_norm(const Range& values, Get get, double p) {
  double acc = 0.0;
  if (std::isinf(p)) {
    for (const auto& x : values) {
      const double a = std::abs(get(x));
      if (std::isnan(a)) return a;  // std::max would drop it
      acc = std::max(acc, a);
    }
    return acc;
  }
  for (const auto& x : values) {
    const double a = std::abs(get(x));
    acc += p == 2.0 ? a * a : std::pow(a, p);
  }
  return p == 2.0 ? std::sqrt(acc) : std::pow(acc, 1.0 / p);
}

}  // namespace

template <Scalar S>
double clip_grad_norm(std::span<const ParamView<S>> params, double max_norm, double norm_type,
                      bool error_if_nonfinite) {
  if (!(max_norm >= 0.0))
    throw InvalidArgument(fmt::format("clip_grad_norm: max_norm = {} must be non-negative", max_norm));
  if (!(norm_type > 0.0))
    throw InvalidArgument(fmt::format("clip_grad_norm: norm_type = {} must be positive (or infinite)", norm_type));
  if (params.empty()) return 0.0;

  // Per-parameter norms first, then their norm, in PyTorch's order.
  std::vector<double> norms;
  norms.reserve(params.size());
  for (const ParamView<S>& p : params)
    norms.push_back(p_norm(p.grad, [](S g) { return static_cast<double>(g); }, norm_type));
  const double total = p_norm(norms, [](double n) { return n; }, norm_type);
  if (error_if_nonfinite && !std::isfinite(total))
    throw InvalidArgument(fmt::format("clip_grad_norm: the total gradient norm is {}", total));

  const S coef = static_cast<S>(std::min(max_norm / (total + 1e-6), 1.0));
  for (const ParamView<S>& p : params)
    for (S& g : p.grad) g *= coef;
  return total;
}

template double clip_grad_norm<float>(std::span<const ParamView<float>>, double, double, bool);
template double clip_grad_norm<double>(std::span<const ParamView<double>>, double, double, bool);

}  // namespace odeflow::optim
