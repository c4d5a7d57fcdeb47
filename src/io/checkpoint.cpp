#include <odeflow/core/error.hpp>
#include <odeflow/io/checkpoint.hpp>
#include <odeflow/io/safetensors.hpp>

#include <fmt/format.h>

#include <charconv>

namespace odeflow::io {
namespace {

constexpr std::string_view kModel = "model.";
constexpr std::string_view kOptim = "optim.";
constexpr std::string_view kExtra = "extra.";

std::string exact(double v) {
  char buf[64];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  return std::string(buf, end);
}

template <class T>
T parse(const TensorFile& file, const std::string& key) {
  const auto it = file.metadata().find(key);
  if (it == file.metadata().end()) {
    throw FormatError(fmt::format("{}: checkpoint metadata lacks '{}'", file.source(), key), file.source(), "");
  }
  T value{};
  const std::string& s = it->second;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    throw FormatError(fmt::format("{}: checkpoint metadata '{}' = '{}' is not a number", file.source(), key, s),
                      file.source(), "");
  }
  return value;
}

// The tensors under `prefix`, renamed without it.
TensorFile section(const TensorFile& file, std::string_view prefix) {
  TensorFile out(file.source());
  for (const auto& [name, tensor] : file.tensors()) {
    if (name.starts_with(prefix)) out.insert(name.substr(prefix.size()), tensor);
  }
  return out;
}

}  // namespace

template <Scalar S>
void save_checkpoint(const std::filesystem::path& path, nn::Module<S>& model, const optim::Optimizer<S>* optimizer,
                     const CheckpointInfo& info) {
  TensorFile file(path.string());
  const TensorFile weights = state_dict(model);
  for (const auto& [name, tensor] : weights.tensors()) file.insert(std::string(kModel) + name, tensor);
  file.metadata()["odeflow.checkpoint"] = "1";
  file.metadata()["step"] = std::to_string(info.step);
  if (optimizer != nullptr) {
    const optim::OptimizerState<S> state = optimizer->export_state();
    for (const auto& [name, array] : state.arrays) file.insert(std::string(kOptim) + name, Tensor(array.shape, array.values));
    for (const auto& [name, value] : state.scalars) file.metadata()[std::string(kOptim) + name] = exact(value);
  }
  for (const auto& [key, value] : info.extra) file.metadata()[std::string(kExtra) + key] = value;
  write_safetensors(file, path);
}

template <Scalar S>
CheckpointInfo load_checkpoint(const std::filesystem::path& path, nn::Module<S>& model, optim::Optimizer<S>* optimizer) {
  const TensorFile file = read_safetensors(path);
  if (!file.metadata().contains("odeflow.checkpoint")) {
    throw FormatError(fmt::format("{}: not an odeflow checkpoint (no 'odeflow.checkpoint' metadata)", file.source()),
                      file.source(), "");
  }
  CheckpointInfo info;
  info.step = parse<std::int64_t>(file, "step");
  for (const auto& [key, value] : file.metadata()) {
    if (key.starts_with(kExtra)) info.extra[key.substr(kExtra.size())] = value;
  }
  // Read both parts from the file before changing anything.
  const TensorFile weights = section(file, kModel);
  optim::OptimizerState<S> state;
  if (optimizer != nullptr) {
    const TensorFile optim_section = section(file, kOptim);
    for (const auto& [name, tensor] : optim_section.tensors()) {
      if (tensor.dtype() != dtype_of<S>()) {
        throw FormatError(fmt::format("{}: optimizer tensor '{}' is {} but the optimizer is {}", file.source(), name,
                                      dtype_name(tensor.dtype()), dtype_name(dtype_of<S>())),
                          file.source(), std::string(kOptim) + name);
      }
      const auto values = tensor.template values<S>();
      state.arrays[name] = optim::StateArray<S>{tensor.shape(), std::vector<S>(values.begin(), values.end())};
    }
    for (const auto& [key, value] : file.metadata()) {
      if (key.starts_with(kOptim)) state.scalars[key.substr(kOptim.size())] = parse<double>(file, key);
    }
  }
  // load_state_dict and import_state are each all-or-nothing; the model's values are
  // kept so that a rejected optimizer state can put them back.
  std::vector<Matrix<S>> before;
  for (const nn::NamedParameter<S>& np : model.named_parameters()) before.push_back(np.param->value);
  for (const nn::NamedParameter<S>& np : model.named_buffers()) before.push_back(np.param->value);
  load_state_dict(model, weights);  // all-or-nothing by itself
  if (optimizer != nullptr) {
    try {
      optimizer->import_state(state);  // all-or-nothing by itself
    } catch (...) {
      std::size_t i = 0;
      for (const nn::NamedParameter<S>& np : model.named_parameters()) np.param->value = before[i++];
      for (const nn::NamedParameter<S>& np : model.named_buffers()) np.param->value = before[i++];
      throw;
    }
  }
  return info;
}

#define ODEFLOW_INSTANTIATE(S)                                                                              \
  template void save_checkpoint<S>(const std::filesystem::path&, nn::Module<S>&, const optim::Optimizer<S>*, \
                                   const CheckpointInfo&);                                                  \
  template CheckpointInfo load_checkpoint<S>(const std::filesystem::path&, nn::Module<S>&, optim::Optimizer<S>*);
ODEFLOW_INSTANTIATE(float)
ODEFLOW_INSTANTIATE(double)
#undef ODEFLOW_INSTANTIATE

}  // namespace odeflow::io
