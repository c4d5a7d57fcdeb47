#include <odeflow/core/error.hpp>
#include <odeflow/optim/param_view.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>

namespace odeflow::optim {

template <Scalar S>
std::vector<std::int64_t> ParamView<S>::resolved_shape() const {
  if (shape.empty()) return {static_cast<std::int64_t>(size())};
  return shape;
}

template <Scalar S>
void validate_params(std::span<const ParamView<S>> params) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const ParamView<S>& p = params[i];
    if (p.name.empty()) throw InvalidArgument(fmt::format("parameter {} has an empty name", i));
    if (!seen.insert(p.name).second) throw InvalidArgument(fmt::format("parameter name '{}' is repeated", p.name));
    if (p.grad.size() != p.value.size())
      throw ShapeError(fmt::format("parameter '{}' has {} values but its gradient has {}", p.name, p.value.size(),
                                   p.grad.size()));
    std::int64_t product = 1;
    for (std::int64_t d : p.shape) {
      if (d < 0) throw ShapeError(fmt::format("parameter '{}' has a negative dimension in shape {}", p.name, p.shape));
      product *= d;
    }
    if (!p.shape.empty() && product != static_cast<std::int64_t>(p.size()))
      throw ShapeError(fmt::format("parameter '{}' has shape {} ({} elements) but {} values", p.name, p.shape,
                                   product, p.size()));
  }
}

template struct ParamView<float>;
template struct ParamView<double>;
template void validate_params<float>(std::span<const ParamView<float>>);
template void validate_params<double>(std::span<const ParamView<double>>);

}  // namespace odeflow::optim
