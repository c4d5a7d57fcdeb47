// libFuzzer target for the safetensors reader (see docs/io.md, "Fuzzing").
//
// Any input must either be rejected with an odeflow::Error or be accepted as
// a file that writes back and re-reads to the same tensors and the same
// bytes, and whose tensors all convert to Eigen matrices. Anything else (a
// crash, a sanitizer report, another exception type, a leak, a failed
// round trip) is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <odeflow/core/error.hpp>
#include <odeflow/io/safetensors.hpp>
#include <optional>
#include <span>

using odeflow::io::DtypeConversion;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::optional<odeflow::io::TensorFile> file;
  try {
    file = odeflow::io::parse_safetensors(std::as_bytes(std::span(data, size)), "<fuzz>");
  } catch (const odeflow::Error&) {
    return 0;  // rejected: the expected outcome for most inputs
  }
  const auto written = odeflow::io::serialize_safetensors(*file);
  const auto again = odeflow::io::parse_safetensors(written, "<rewritten>");
  if (!again.bitwise_equal(*file) || odeflow::io::serialize_safetensors(again) != written) std::abort();
  for (const auto& [name, tensor] : file->tensors()) {
    try {
      if (file->matrix<double>(name, DtypeConversion::kAllow).size() != tensor.numel()) std::abort();
      if (file->batch<float>(name, DtypeConversion::kAllow).size() != tensor.numel()) std::abort();
    } catch (const odeflow::FormatError&) {
      // Allowed only for shapes like [0, 2^40, 2^40], whose rows cannot be counted in int64.
      if (tensor.numel() != 0) std::abort();
    }
  }
  return 0;
}
