// Gradient clipping by the global norm of all gradients, as PyTorch 1.13's
// torch.nn.utils.clip_grad_norm_.
//
// total = ‖(‖g_1‖_p, …, ‖g_n‖_p)‖_p, the p-norm of every gradient element
// taken together (p = ∞: the largest |element|). Every gradient is then
// multiplied by min(1, max_norm/(total + 1e-6)), so after clipping the norm
// is just under max_norm; below it the gradients are unchanged (×1).
// Returns `total`, the norm before clipping. Sums are accumulated in double
// for float gradients too.
#pragma once

#include <odeflow/optim/param_view.hpp>

#include <limits>
#include <span>
#include <vector>

namespace odeflow::optim {

inline constexpr double kInfNorm = std::numeric_limits<double>::infinity();

// Throws InvalidArgument for max_norm < 0 or NaN, norm_type ≤ 0 or NaN, and,
// when error_if_nonfinite, for a NaN or infinite total (then nothing is
// changed). Without it a non-finite total scales the gradients as PyTorch's
// does (to NaN).
template <Scalar S>
double clip_grad_norm(std::span<const ParamView<S>> params, double max_norm, double norm_type = 2.0,
                      bool error_if_nonfinite = false);

template <Scalar S>
double clip_grad_norm(const std::vector<ParamView<S>>& params, double max_norm, double norm_type = 2.0,
                      bool error_if_nonfinite = false) {
  return clip_grad_norm(std::span<const ParamView<S>>(params), max_norm, norm_type, error_if_nonfinite);
}

extern template double clip_grad_norm<float>(std::span<const ParamView<float>>, double, double, bool);
extern template double clip_grad_norm<double>(std::span<const ParamView<double>>, double, double, bool);

}  // namespace odeflow::optim
