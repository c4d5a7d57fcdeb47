#include "odeflow/io/safetensors.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "odeflow/core/error.hpp"
#include "odeflow/io/file.hpp"

namespace odeflow::io {

namespace {

using Json = nlohmann::json;

[[noreturn]] void fail(std::string_view source, std::string_view tensor, const std::string& problem) {
  const std::string what = tensor.empty() ? fmt::format("{}: {}", source, problem)
                                          : fmt::format("{}: tensor '{}': {}", source, tensor, problem);
  throw FormatError(what, std::string(source), std::string(tensor));
}

// Every dtype of the safetensors specification with its size in bytes; only
// F32 and F64 are loaded, the others are recognized to be reported clearly.
struct DtypeInfo {
  std::string_view name;
  std::uint64_t size;
};
// clang-format off
constexpr std::array<DtypeInfo, 16> kDtypes{{
    {"BOOL", 1}, {"U8", 1}, {"I8", 1}, {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
    {"I16", 2}, {"U16", 2}, {"F16", 2}, {"BF16", 2},
    {"I32", 4}, {"U32", 4}, {"F32", 4},
    {"F64", 8}, {"I64", 8}, {"U64", 8}}};
// clang-format on

struct Entry {
  std::string name;
  DtypeInfo dtype;
  Shape shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

// "a number", "an array", ...: never the value itself, which may be huge or
// nested deeply enough to overflow a recursive dump.
std::string describe(const Json& value) {
  if (value.is_null()) return "null";
  const std::string_view type = value.type_name();
  return fmt::format("{} {}", type == "array" || type == "object" ? "an" : "a", type);
}

std::uint64_t header_length(std::span<const std::byte> bytes, std::string_view source) {
  if (bytes.empty()) fail(source, "", "the file is empty");
  if (bytes.size() < 8)
    fail(source, "", fmt::format("the file is {} bytes, too short for the 8-byte header length", bytes.size()));
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(bytes[static_cast<std::size_t>(i)]) << (8 * i);
  if (n > kMaxHeaderBytes)
    fail(source, "", fmt::format("header length {} exceeds the limit of {} bytes", n, kMaxHeaderBytes));
  if (n > bytes.size() - 8)
    fail(source, "",
         fmt::format("header length {} exceeds the {} bytes after it (truncated file?)", n, bytes.size() - 8));
  return n;
}

// Parses the header, rejecting duplicate keys at any depth (nlohmann keeps the
// last one silently).
Json parse_header(std::string_view text, std::string_view source) {
  std::vector<std::set<std::string, std::less<>>> open_objects;
  std::string entry;  // the top-level key being parsed
  const auto on_event = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) open_objects.emplace_back();
    if (event == Json::parse_event_t::object_end) open_objects.pop_back();
    if (event != Json::parse_event_t::key) return true;
    const auto& key = parsed.get_ref<const std::string&>();
    if (depth == 1) entry = key;
    if (open_objects.back().insert(key).second) return true;
    if (depth == 1) fail(source, key == "__metadata__" ? "" : key, "appears twice in the header");
    if (entry == "__metadata__") fail(source, "", fmt::format("\"__metadata__\" has the key \"{}\" twice", key));
    fail(source, entry, fmt::format("duplicate key \"{}\"", key));
  };
  // nlohmann takes a NUL byte for the end of input; JSON allows none.
  if (const auto nul = text.find('\0'); nul != std::string_view::npos)
    fail(source, "", fmt::format("the header is not valid JSON: a NUL byte at offset {}", nul));
  Json header;
  try {
    header = Json::parse(text.begin(), text.end(), on_event);
  } catch (const Json::exception& e) {
    const std::string_view what = e.what();
    const auto bracket = what.find("] ");
    fail(source, "",
         fmt::format("the header is not valid JSON: {}",
                     bracket == std::string_view::npos ? what : what.substr(bracket + 2)));
  }
  if (!header.is_object()) fail(source, "", fmt::format("the header is {}, not an object", describe(header)));
  return header;
}

Shape parse_shape(const Json& shape, std::string_view source, const std::string& name) {
  if (!shape.is_array()) fail(source, name, fmt::format("\"shape\" is {}, not an array", describe(shape)));
  Shape dims;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const Json& d = shape[i];
    if (d.is_number_unsigned()) {
      const auto u = d.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        fail(source, name, fmt::format("shape[{}] = {} exceeds the int64 range", i, u));
      dims.push_back(static_cast<std::int64_t>(u));
    } else if (d.is_number_integer()) {
      const auto v = d.get<std::int64_t>();
      if (v < 0) fail(source, name, fmt::format("shape[{}] = {} is negative", i, v));
      dims.push_back(v);
    } else {
      fail(source, name,
           fmt::format("shape[{}] is {}, not an integer", i, d.is_number_float() ? "a fraction" : describe(d)));
    }
  }
  return dims;
}

// The byte count of `shape` in `dtype`, or nothing if it overflows 64 bits.
std::optional<std::uint64_t> byte_count(const Shape& shape, std::uint64_t dtype_size) {
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  std::uint64_t n = 1;
  for (const std::int64_t d : shape) {
    const auto u = static_cast<std::uint64_t>(d);
    if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / u) return std::nullopt;
    n *= u;
  }
  if (n > std::numeric_limits<std::uint64_t>::max() / dtype_size) return std::nullopt;
  return n * dtype_size;
}

const Json& field(const Json& entry, const char* key, std::string_view source, const std::string& name) {
  const auto it = entry.find(key);
  if (it == entry.end()) fail(source, name, fmt::format("missing \"{}\"", key));
  return *it;
}

Entry parse_entry(const std::string& name, const Json& value, std::string_view source) {
  if (!value.is_object()) fail(source, name, fmt::format("the entry is {}, not an object", describe(value)));
  for (const auto& [key, unused] : value.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      fail(source, name, fmt::format("unexpected key \"{}\" (an entry has dtype, shape and data_offsets)", key));
  Entry e;
  e.name = name;
  const Json& dtype = field(value, "dtype", source, name);
  if (!dtype.is_string()) fail(source, name, fmt::format("\"dtype\" is {}, not a string", describe(dtype)));
  const auto& dtype_name = dtype.get_ref<const std::string&>();
  const auto known = std::find_if(kDtypes.begin(), kDtypes.end(), [&](const auto& d) { return d.name == dtype_name; });
  if (known == kDtypes.end()) fail(source, name, fmt::format("unknown dtype \"{}\"", dtype_name));
  e.dtype = *known;
  e.shape = parse_shape(field(value, "shape", source, name), source, name);
  const Json& offsets = field(value, "data_offsets", source, name);
  if (!offsets.is_array() || offsets.size() != 2)
    fail(source, name,
         fmt::format("\"data_offsets\" is {}, not [begin, end]",
                     offsets.is_array() ? fmt::format("an array of {}", offsets.size()) : describe(offsets)));
  for (std::size_t i = 0; i < 2; ++i)
    if (!offsets[i].is_number_unsigned())
      fail(source, name,
           fmt::format("data_offsets[{}] is {}, not a non-negative integer", i,
                       offsets[i].is_number() ? offsets[i].dump() : describe(offsets[i])));
  e.begin = offsets[0].get<std::uint64_t>();
  e.end = offsets[1].get<std::uint64_t>();
  if (e.begin > e.end) fail(source, name, fmt::format("data_offsets [{}, {}] end before they begin", e.begin, e.end));
  const auto bytes = byte_count(e.shape, e.dtype.size);
  if (!bytes)
    fail(source, name, fmt::format("shape {} is too large: its byte count overflows 64 bits", shape_string(e.shape)));
  if (e.end - e.begin != *bytes)
    fail(source, name,
         fmt::format("data_offsets [{}, {}] span {} bytes, but {} shape {} needs {}", e.begin, e.end, e.end - e.begin,
                     e.dtype.name, shape_string(e.shape), *bytes));
  return e;
}

// The tensors must tile the data section exactly, whatever their header order.
void check_layout(std::vector<Entry>& entries, std::uint64_t data_size, std::string_view source) {
  for (const Entry& e : entries)
    if (e.end > data_size)
      fail(source, e.name,
           fmt::format("data_offsets [{}, {}] reach beyond the data section of {} bytes (truncated file?)", e.begin,
                       e.end, data_size));
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::pair(a.begin, a.end) < std::pair(b.begin, b.end); });
  std::uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < covered)
      fail(source, e.name,
           fmt::format("data_offsets [{}, {}] overlap tensor '{}' at [{}, {}]", e.begin, e.end, previous->name,
                       previous->begin, previous->end));
    if (e.begin > covered)
      fail(source, e.name,
           fmt::format("a hole: bytes [{}, {}) of the data section, before this tensor, belong to no tensor", covered,
                       e.begin));
    covered = e.end;
    previous = &e;
  }
  if (covered != data_size)
    fail(source, "",
         fmt::format("the data section has {} bytes, but the tensors cover only the first {} (trailing bytes)",
                     data_size, covered));
}

void read_metadata(const Json& metadata, std::string_view source, TensorFile& file) {
  if (!metadata.is_object())
    fail(source, "", fmt::format("\"__metadata__\" is {}, not an object of strings", describe(metadata)));
  for (const auto& [key, value] : metadata.items()) {
    if (!value.is_string())
      fail(source, "", fmt::format("\"__metadata__\" value for key \"{}\" is {}, not a string", key, describe(value)));
    file.metadata().emplace(key, value.get<std::string>());
  }
}

template <class S>
Tensor load_tensor(const Entry& e, const std::byte* data) {
  std::vector<S> values((e.end - e.begin) / sizeof(S));
  if (!values.empty()) std::memcpy(values.data(), data + e.begin, e.end - e.begin);
  return {e.shape, std::move(values)};
}

// The JSON string literal for `text`.
std::string quoted(const std::string& text, std::string_view what) {
  try {
    return Json(text).dump();
  } catch (const Json::exception&) {
    throw InvalidArgument(fmt::format("cannot write {} \"{}\": not valid UTF-8", what, text));
  }
}

}  // namespace

TensorFile parse_safetensors(std::span<const std::byte> bytes, std::string_view source) {
  const std::uint64_t n = header_length(bytes, source);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8, n);
  const Json header = parse_header(text, source);
  std::vector<Entry> entries;
  TensorFile file{std::string(source)};
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__")
      read_metadata(value, source, file);
    else
      entries.push_back(parse_entry(name, value, source));
  }
  check_layout(entries, bytes.size() - 8 - n, source);
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  for (const Entry& e : entries)
    if (e.dtype.name != "F32" && e.dtype.name != "F64")
      fail(source, e.name, fmt::format("dtype {} is not supported (odeflow reads F32 and F64)", e.dtype.name));
  const std::byte* data = bytes.data() + 8 + n;
  for (const Entry& e : entries)
    file.insert(e.name, e.dtype.name == "F32" ? load_tensor<float>(e, data) : load_tensor<double>(e, data));
  return file;
}

TensorFile read_safetensors(const std::filesystem::path& path) {
  return parse_safetensors(read_file(path), path.string());
}

std::vector<std::byte> serialize_safetensors(const TensorFile& file) {
  std::vector<const std::pair<const std::string, Tensor>*> order;
  for (const Dtype dtype : {Dtype::kF64, Dtype::kF32})
    for (const auto& item : file.tensors())
      if (item.second.dtype() == dtype) order.push_back(&item);

  std::string header = "{";
  if (!file.metadata().empty()) {
    header += "\"__metadata__\":{";
    for (const auto& [key, value] : file.metadata()) {
      if (header.back() != '{') header += ',';
      header += quoted(key, "metadata key") + ':' + quoted(value, "metadata value");
    }
    header += '}';
  }
  std::uint64_t offset = 0;
  for (const auto* item : order) {
    const Tensor& t = item->second;
    const std::uint64_t end = offset + t.bytes().size();
    if (header.size() > 1) header += ',';
    header +=
        fmt::format("{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
                    quoted(item->first, "tensor name"), dtype_name(t.dtype()), fmt::join(t.shape(), ","), offset, end);
    offset = end;
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');

  std::vector<std::byte> out(8 + header.size() + offset);
  for (std::size_t i = 0; i < 8; ++i) out[i] = static_cast<std::byte>(header.size() >> (8 * i));
  std::memcpy(out.data() + 8, header.data(), header.size());
  std::byte* data = out.data() + 8 + header.size();
  for (const auto* item : order) {
    const auto bytes = item->second.bytes();
    if (!bytes.empty()) std::memcpy(data, bytes.data(), bytes.size());
    data += bytes.size();
  }
  return out;
}

void write_safetensors(const TensorFile& file, const std::filesystem::path& path) {
  write_file_atomically(path, serialize_safetensors(file));
}

}  // namespace odeflow::io
