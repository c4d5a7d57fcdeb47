// Module weights as safetensors state_dicts, interchangeable with PyTorch's
// `safetensors.torch.save_file(model.state_dict(), path)` and `load_file`.
//
// state_dict(): every parameter and buffer under its PyTorch name, in the
// module's scalar type, with its PyTorch shape (the bytes are the same: see
// ad/parameter.hpp). load_state_dict(): all-or-nothing — every entry is
// checked (present, shape, dtype, finite values) before any is copied, so a
// bad file leaves the module unchanged. Errors are FormatError naming the
// source, the tensor and the problem (missing, unexpected with `strict`,
// shape [a] vs [b], dtype, non-finite value).
#pragma once

#include <odeflow/io/tensor_file.hpp>
#include <odeflow/nn/module.hpp>

#include <filesystem>

namespace odeflow::io {

struct LoadOptions {
  // Unexpected tensors in the file are an error (PyTorch's strict=True).
  bool strict = true;
  // Accept F32 weights into a double module (and F64 into float, rounding).
  DtypeConversion conversion = DtypeConversion::kExact;
};

template <Scalar S>
TensorFile state_dict(nn::Module<S>& module);

template <Scalar S>
void load_state_dict(nn::Module<S>& module, const TensorFile& file, const LoadOptions& options = {});

// state_dict() written atomically / read and loaded.
template <Scalar S>
void save_module(nn::Module<S>& module, const std::filesystem::path& path);
template <Scalar S>
void load_module(nn::Module<S>& module, const std::filesystem::path& path, const LoadOptions& options = {});

}  // namespace odeflow::io
