// safetensors files (https://huggingface.co/docs/safetensors): the format of
// PyTorch/Hugging Face weights and of odeflow's weights and checkpoints.
//
// Layout: an 8-byte little-endian u64 N; N bytes of UTF-8 JSON header
//   {"<name>": {"dtype": "F32", "shape": [7, 5], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"<key>": "<value>", ...}}          (metadata optional)
// then the data section: each tensor's values, little-endian, row-major,
// at [begin, end) relative to the start of the data section.
//
// Reading validates everything before returning (docs/io.md lists the rules):
// the header length (at most kMaxHeaderBytes, within the file), the JSON
// (valid, an object, no duplicate keys at any level), every entry (exactly the
// keys dtype/shape/data_offsets with the right JSON types, a known dtype,
// non-negative dims, end - begin == elements x dtype size computed without
// overflow, end within the data section), the layout (tensors tile the data
// section exactly: no overlaps, no holes, no trailing bytes, as the reference
// implementation requires) and the metadata (an object of strings). Other
// safetensors dtypes (F16, BF16, I64, ...) are recognized and rejected as
// unsupported; only F32 and F64 are loaded. Any failure throws FormatError
// ("<file>: tensor '<name>': <problem>") and nothing is returned, so a reader
// that loads into a model only after a successful read leaves the model
// unchanged.
//
// Writing is deterministic: the metadata first (keys sorted), then the F64
// tensors and then the F32 tensors, each group sorted by name (largest
// alignment first, as the reference writer does, so every tensor's data is
// aligned to its element size); the header is padded with spaces to a
// multiple of 8. write_safetensors() replaces the file atomically (io/file.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <odeflow/io/tensor_file.hpp>
#include <span>
#include <string_view>
#include <vector>

namespace odeflow::io {

// The reference implementation's limit on the JSON header.
inline constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

// Throws IoError if the file cannot be read, FormatError if it is malformed.
TensorFile read_safetensors(const std::filesystem::path& path);
// `source` names the buffer in error messages and becomes the result's source().
TensorFile parse_safetensors(std::span<const std::byte> bytes, std::string_view source = "<buffer>");

// Throws InvalidArgument if a tensor name or metadata string is not valid UTF-8.
std::vector<std::byte> serialize_safetensors(const TensorFile& file);
// Throws IoError (the destination untouched) if the file cannot be written.
void write_safetensors(const TensorFile& file, const std::filesystem::path& path);

}  // namespace odeflow::io
