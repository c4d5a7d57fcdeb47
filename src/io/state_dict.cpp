#include <odeflow/core/error.hpp>
#include <odeflow/io/safetensors.hpp>
#include <odeflow/io/state_dict.hpp>

#include <fmt/format.h>

#include <cmath>
#include <set>

namespace odeflow::io {
namespace {

template <Scalar S>
std::vector<nn::NamedParameter<S>> entries(nn::Module<S>& module) {
  std::vector<nn::NamedParameter<S>> all = module.named_parameters();
  for (nn::NamedParameter<S>& b : module.named_buffers()) all.push_back(b);
  return all;
}

}  // namespace

template <Scalar S>
TensorFile state_dict(nn::Module<S>& module) {
  TensorFile file("<state_dict>");
  for (const nn::NamedParameter<S>& np : entries(module)) {
    const Matrix<S>& v = np.param->value;
    file.insert(np.name, Tensor(np.param->shape, std::vector<S>(v.data(), v.data() + v.size())));
  }
  return file;
}

template <Scalar S>
void load_state_dict(nn::Module<S>& module, const TensorFile& file, const LoadOptions& options) {
  const std::vector<nn::NamedParameter<S>> targets = entries(module);
  std::vector<std::vector<S>> staged;
  staged.reserve(targets.size());
  std::set<std::string, std::less<>> expected;
  for (const nn::NamedParameter<S>& np : targets) {
    expected.insert(np.name);
    if (!file.contains(np.name)) {
      throw FormatError(fmt::format("{}: missing tensor '{}' ({} expects shape {})", file.source(), np.name,
                                    module.type_name(), shape_string(np.param->shape)),
                        file.source(), np.name);
    }
    const Tensor& t = file.at(np.name, np.param->shape);
    if (t.dtype() != dtype_of<S>() && options.conversion == DtypeConversion::kExact) {
      throw FormatError(fmt::format("{}: tensor '{}' is {} but the module is {} (allow a dtype conversion to load it)",
                                    file.source(), np.name, dtype_name(t.dtype()), dtype_name(dtype_of<S>())),
                        file.source(), np.name);
    }
    std::vector<S> values = t.converted<S>();
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (!std::isfinite(values[i])) {
        throw FormatError(fmt::format("{}: tensor '{}' has a non-finite value at flat index {}", file.source(), np.name, i),
                          file.source(), np.name);
      }
    }
    staged.push_back(std::move(values));
  }
  if (options.strict) {
    for (const auto& [name, tensor] : file.tensors()) {
      if (!expected.contains(name)) {
        throw FormatError(fmt::format("{}: unexpected tensor '{}' (not a parameter or buffer of this {})", file.source(),
                                      name, module.type_name()),
                          file.source(), name);
      }
    }
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    std::copy(staged[i].begin(), staged[i].end(), targets[i].param->value.data());
  }
}

template <Scalar S>
void save_module(nn::Module<S>& module, const std::filesystem::path& path) {
  write_safetensors(state_dict(module), path);
}

template <Scalar S>
void load_module(nn::Module<S>& module, const std::filesystem::path& path, const LoadOptions& options) {
  load_state_dict(module, read_safetensors(path), options);
}

#define ODEFLOW_INSTANTIATE(S)                                                                  \
  template TensorFile state_dict<S>(nn::Module<S>&);                                          \
  template void load_state_dict<S>(nn::Module<S>&, const TensorFile&, const LoadOptions&);     \
  template void save_module<S>(nn::Module<S>&, const std::filesystem::path&);                  \
  template void load_module<S>(nn::Module<S>&, const std::filesystem::path&, const LoadOptions&);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::io
