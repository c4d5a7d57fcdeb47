// safetensors reading and writing: every reference file (PyTorch-written)
// reads with the shapes its sidecar lists and reproduces PyTorch's outputs;
// writing follows the reference implementation's layout and round-trips
// bit-exactly; every malformed file is rejected with its own message.
#include "odeflow/io/safetensors.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "odeflow/core/error.hpp"
#include "odeflow/io/file.hpp"
#include "support/expect_error.hpp"
#include "support/file_size_limit.hpp"
#include "support/scratch_dir.hpp"
#include "support/test_data.hpp"

namespace odeflow::io {
namespace {

using test::expect_error;

std::vector<std::string> files_in(const std::string& dir, const std::string& extension) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(test::data_path(dir)))
    if (e.path().extension() == extension) names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::span<const std::byte> as_bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

TEST(Safetensors, ReadsEveryReferenceFileWithTheTensorsItsSidecarLists) {
  int with_tensor_list = 0;
  int f32_files = 0;
  for (const std::string dir : {"classic", "odeint", "nn", "optim"}) {
    const auto stems = files_in(dir, ".safetensors");
    EXPECT_FALSE(stems.empty()) << dir;
    for (const auto& stem : stems) {
      SCOPED_TRACE(dir + "/" + stem);
      const TensorFile file = read_safetensors(test::data_path(dir + "/" + stem + ".safetensors"));
      const auto sidecar = test::load_json(dir + "/" + stem + ".json");
      if (sidecar.contains("tensors")) {
        ++with_tensor_list;
        std::map<std::string, Shape> listed;
        for (const auto& [name, shape] : sidecar["tensors"].items()) listed[name] = shape.get<Shape>();
        std::map<std::string, Shape> read;
        for (const auto& [name, tensor] : file.tensors()) read[name] = tensor.shape();
        EXPECT_EQ(read, listed);
      }
      const Dtype expected = sidecar.value("dtype", "float64") == "float32" ? Dtype::kF32 : Dtype::kF64;
      f32_files += expected == Dtype::kF32;
      // Values against the test suite's own minimal reader (no validation, header order).
      const auto plain = test::load_safetensors(dir + "/" + stem + ".safetensors");
      ASSERT_EQ(plain.size(), file.size());
      for (const auto& [name, tensor] : file.tensors()) {
        EXPECT_EQ(tensor.dtype(), expected) << name;
        const auto values = tensor.converted<double>();
        EXPECT_EQ(values, plain.at(name).data) << name;
      }
    }
  }
  EXPECT_GE(with_tensor_list, 20);
  EXPECT_EQ(f32_files, 2);  // nn/linear_f32, nn/mlp_f32
}

template <Scalar S>
void expect_linear_reproduced(const std::string& stem, S tolerance) {
  SCOPED_TRACE(stem);
  const TensorFile f = read_safetensors(test::data_path("nn/" + stem + ".safetensors"));
  const Matrix<S> w = f.matrix<S>("weight", {7, 5});
  const Matrix<S> b = f.matrix<S>("bias", {7});
  const Matrix<S> x = f.batch<S>("input", {4, 5});  // features x batch
  const Matrix<S> y = (w * x).colwise() + b.col(0);
  const Matrix<S> expected = f.batch<S>("output", {4, 7});
  EXPECT_LE((y - expected).cwiseAbs().maxCoeff(), tolerance * expected.cwiseAbs().maxCoeff());
}

template <Scalar S>
void expect_mlp_reproduced(const std::string& stem, S tolerance) {
  SCOPED_TRACE(stem);
  const TensorFile f = read_safetensors(test::data_path("nn/" + stem + ".safetensors"));
  const Matrix<S> x = f.batch<S>("input", {8, 2});
  const Matrix<S> h = ((f.matrix<S>("0.weight", {16, 2}) * x).colwise() + f.matrix<S>("0.bias").col(0)).array().tanh();
  const Matrix<S> y = (f.matrix<S>("2.weight", {2, 16}) * h).colwise() + f.matrix<S>("2.bias").col(0);
  const Matrix<S> expected = f.batch<S>("output", {8, 2});
  EXPECT_LE((y - expected).cwiseAbs().maxCoeff(), tolerance * expected.cwiseAbs().maxCoeff());
}

TEST(Safetensors, PyTorchStateDictsReproducePyTorchOutputs) {
  expect_linear_reproduced<double>("linear", 1e-14);
  expect_linear_reproduced<float>("linear_f32", 1e-5f);
  expect_mlp_reproduced<double>("mlp", 1e-14);
  expect_mlp_reproduced<float>("mlp_f32", 1e-5f);
}

TensorFile special_values() {
  const double inf = std::numeric_limits<double>::infinity();
  double payload_nan = 0.0;
  const std::uint64_t bits = 0x7ff8'0000'dead'beefULL;
  std::memcpy(&payload_nan, &bits, sizeof bits);
  TensorFile f;
  f.insert("layer.weight", Tensor({2, 3}, std::vector<double>{-0.0, inf, -inf, payload_nan, 4.9e-324, 1.0 / 3.0}));
  f.insert("layer.bias", Tensor({3}, std::vector<float>{1e-45f, -0.0f, std::numeric_limits<float>::max()}));
  f.insert("step", Tensor({}, std::vector<double>{12345.0}));
  f.insert("empty", Tensor({0, 3}, std::vector<float>{}));
  f.insert("odd", Tensor({1}, std::vector<float>{0.1f}));
  f.metadata() = {{"format", "pt"}, {"note", "ünïcödé ✓"}, {"escapes", "a\"b\\c\n\t"}};
  return f;
}

TEST(Safetensors, WriteThenReadIsBitExactForF32F64AndMetadata) {
  test::ScratchDir dir;
  const TensorFile original = special_values();
  write_safetensors(original, dir / "w.safetensors");
  const TensorFile back = read_safetensors(dir / "w.safetensors");
  EXPECT_TRUE(back.bitwise_equal(original));
  EXPECT_EQ(back.metadata(), original.metadata());
  EXPECT_EQ(back.source(), (dir / "w.safetensors").string());
  EXPECT_EQ(dir.entries(), std::set<std::string>{"w.safetensors"});
}

TEST(Safetensors, OutputIsDeterministicPaddedAndAligned) {
  const auto bytes = serialize_safetensors(special_values());
  EXPECT_EQ(serialize_safetensors(parse_safetensors(bytes)), bytes);
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  const std::string header(reinterpret_cast<const char*>(bytes.data()) + 8, n);
  EXPECT_EQ(header.find("{\"__metadata__\":{\"escapes\":"), 0u) << header;
  EXPECT_EQ(header.find_last_not_of(' '), header.find_last_of('}'));
  // F64 first, so with an 8-aligned data section every tensor is aligned.
  const auto json = nlohmann::json::parse(header);
  for (const auto& [name, entry] : json.items()) {
    if (name == "__metadata__") continue;
    const auto begin = entry["data_offsets"][0].get<std::uint64_t>();
    EXPECT_EQ(begin % (entry["dtype"] == "F64" ? 8 : 4), 0u) << name;
  }
  EXPECT_LT(header.find("\"step\""), header.find("\"empty\""));  // F64 before F32
}

// Byte layouts published with the reference implementation (huggingface/safetensors, tensor.rs tests).
TEST(Safetensors, SerializesExactlyLikeTheReferenceImplementation) {
  TensorFile f;
  f.insert("attn.0", Tensor({1, 2, 3}, std::vector<float>{0, 1, 2, 3, 4, 5}));
  const std::string header = R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})";
  ASSERT_EQ(header.size(), 64u);
  std::string expected("\x40\0\0\0\0\0\0\0", 8);
  expected += header;
  for (float v : {0.f, 1.f, 2.f, 3.f, 4.f, 5.f}) expected.append(reinterpret_cast<const char*>(&v), 4);
  const auto bytes = serialize_safetensors(f);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()), expected);

  const auto empty = serialize_safetensors(TensorFile());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(empty.data()), empty.size()),
            std::string("\x08\0\0\0\0\0\0\0{}      ", 16));
}

TEST(Safetensors, EveryReferenceFileSurvivesARewrite) {
  for (const std::string dir : {"classic", "odeint", "nn", "optim"})
    for (const auto& stem : files_in(dir, ".safetensors")) {
      const TensorFile f = read_safetensors(test::data_path(dir + "/" + stem + ".safetensors"));
      EXPECT_TRUE(parse_safetensors(serialize_safetensors(f)).bitwise_equal(f)) << dir << "/" << stem;
    }
}

TEST(Safetensors, AcceptsTensorsInAnyHeaderOrderAndEmptyTensors) {
  // b's data comes first although a comes first in the header; e is empty.
  std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                       R"("e":{"dtype":"F64","shape":[2,0],"data_offsets":[4,4]},)"
                       R"("b":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})";
  std::string file(8, '\0');
  file[0] = static_cast<char>(header.size());
  file += header;
  const float a = 2.5f, b = -1.0f;
  file.append(reinterpret_cast<const char*>(&b), 4).append(reinterpret_cast<const char*>(&a), 4);
  const TensorFile f = parse_safetensors(as_bytes(file));
  EXPECT_EQ(f.at("a").values<float>()[0], 2.5f);
  EXPECT_EQ(f.at("b").values<float>()[0], -1.0f);
  EXPECT_EQ(f.at("e").shape(), (Shape{2, 0}));
}

struct Malformed {
  const char* file;
  const char* tensor;  // FormatError::tensor(), "" for file-level problems
  const char* message;
};

// One row per file in tests/data/safetensors_malformed (make_corpus.py writes them).
constexpr Malformed kMalformed[] = {
    {"empty", "", "the file is empty"},
    {"short_length", "", "the file is 3 bytes, too short for the 8-byte header length"},
    {"header_length_beyond_file", "", "header length 1000 exceeds the 62 bytes after it (truncated file?)"},
    {"header_length_huge", "", "header length 9223372036854775808 exceeds the limit of 100000000 bytes"},
    {"header_length_zero", "", "the header is not valid JSON: "},
    {"invalid_json", "", "the header is not valid JSON: "},
    {"invalid_utf8", "", "ill-formed UTF-8"},
    {"trailing_garbage", "", "expected end of input"},
    {"nul_padding", "", "the header is not valid JSON: a NUL byte at offset 2"},
    {"header_array", "", "the header is an array, not an object"},
    {"header_null", "", "the header is null, not an object"},
    {"deeply_nested", "w", "the entry is an array, not an object"},
    {"entry_not_object", "w", "the entry is an array, not an object"},
    {"missing_dtype", "w", "missing \"dtype\""},
    {"missing_shape", "w", "missing \"shape\""},
    {"missing_data_offsets", "w", "missing \"data_offsets\""},
    {"unexpected_key", "w", "unexpected key \"offsets\""},
    {"dtype_not_string", "w", "\"dtype\" is a number, not a string"},
    {"unknown_dtype", "w", "unknown dtype \"F17\""},
    {"unsupported_dtype_bf16", "w", "dtype BF16 is not supported (odeflow reads F32 and F64)"},
    {"unsupported_dtype_i64", "w", "dtype I64 is not supported"},
    {"shape_not_array", "w", "\"shape\" is a number, not an array"},
    {"shape_fraction", "w", "shape[0] is a fraction, not an integer"},
    {"shape_string_dim", "w", "shape[0] is a string, not an integer"},
    {"shape_negative", "w", "shape[0] = -2 is negative"},
    {"shape_dim_beyond_int64", "w", "shape[0] = 18446744073709551615 exceeds the int64 range"},
    {"shape_overflow", "w", "shape [4294967296, 4294967296] is too large: its byte count overflows 64 bits"},
    {"shape_bytes_overflow", "w", "shape [2305843009213693952] is too large"},
    {"offsets_not_array", "w", "\"data_offsets\" is a string, not [begin, end]"},
    {"offsets_one_number", "w", "\"data_offsets\" is an array of 1, not [begin, end]"},
    {"offsets_negative", "w", "data_offsets[0] is -16, not a non-negative integer"},
    {"offsets_fraction", "w", "data_offsets[1] is 16.0, not a non-negative integer"},
    {"offsets_reversed", "w", "data_offsets [16, 0] end before they begin"},
    {"size_mismatch", "w", "data_offsets [0, 12] span 12 bytes, but F32 shape [2, 2] needs 16"},
    {"offsets_beyond_data", "w", "data_offsets [0, 16] reach beyond the data section of 8 bytes"},
    {"truncated_data", "b", "data_offsets [8, 16] reach beyond the data section of 13 bytes (truncated file?)"},
    {"overlap", "b", "data_offsets [8, 24] overlap tensor 'a' at [0, 16]"},
    {"hole", "b", "a hole: bytes [8, 16) of the data section, before this tensor, belong to no tensor"},
    {"hole_at_start", "a", "a hole: bytes [0, 8)"},
    {"trailing_bytes", "", "the data section has 16 bytes, but the tensors cover only the first 8 (trailing bytes)"},
    {"duplicate_tensor", "w", "appears twice in the header"},
    {"duplicate_field", "w", "duplicate key \"dtype\""},
    {"duplicate_metadata_key", "", "\"__metadata__\" has the key \"k\" twice"},
    {"metadata_not_object", "", "\"__metadata__\" is an array, not an object of strings"},
    {"metadata_non_string", "", "\"__metadata__\" value for key \"epoch\" is a number, not a string"},
};

TEST(Safetensors, EveryMalformedFileGivesItsOwnErrorNamingTheFileAndTensor) {
  std::set<std::string> listed;
  for (const Malformed& m : kMalformed) {
    SCOPED_TRACE(m.file);
    listed.insert(m.file);
    const std::string path = test::data_path(std::string("safetensors_malformed/") + m.file + ".safetensors");
    const std::string prefix = m.tensor[0] == '\0' ? path + ": " : path + ": tensor '" + m.tensor + "': ";
    const auto e = expect_error<FormatError>([&] { read_safetensors(path); }, m.message);
    ASSERT_TRUE(e);
    EXPECT_EQ(std::string(e->what()).rfind(prefix, 0), 0u) << e->what();
    EXPECT_EQ(e->tensor(), m.tensor);
    EXPECT_EQ(e->path(), path);
  }
  const auto on_disk = files_in("safetensors_malformed", ".safetensors");
  EXPECT_EQ(std::set<std::string>(on_disk.begin(), on_disk.end()), listed);
}

TEST(Safetensors, EveryTruncationOfAValidFileIsRejected) {
  for (const std::string stem : {"linear_f32", "mlp"}) {
    const auto bytes = read_file(test::data_path("nn/" + stem + ".safetensors"));
    for (std::size_t size = 0; size < bytes.size(); ++size)
      EXPECT_THROW(parse_safetensors(std::span(bytes).first(size)), FormatError) << stem << " cut to " << size;
    auto longer = bytes;
    longer.push_back(std::byte{0});
    expect_error<FormatError>([&] { parse_safetensors(longer); }, "trailing bytes");
  }
}

TEST(Safetensors, AFailedReadLeavesTheCallersTensorsUnchanged) {
  TensorFile weights = read_safetensors(test::data_path("nn/linear.safetensors"));
  const TensorFile before = weights;
  EXPECT_THROW(weights = read_safetensors(test::data_path("safetensors_malformed/overlap.safetensors")), FormatError);
  EXPECT_TRUE(weights.bitwise_equal(before));
}

TEST(Safetensors, AFailedWriteLeavesTheExistingFileAndNoTemporaryFile) {
  test::ScratchDir dir;
  TensorFile small;
  small.insert("x", Tensor({1}, std::vector<double>{1.0}));
  write_safetensors(small, dir / "model.safetensors");
  TensorFile big;
  big.insert("x", Tensor({1000}, std::vector<double>(1000, 2.0)));
  {
    const test::FileSizeLimit limit(4096);
    expect_error<IoError>([&] { write_safetensors(big, dir / "model.safetensors"); }, "File too large");
  }
  EXPECT_TRUE(read_safetensors(dir / "model.safetensors").bitwise_equal(small));
  EXPECT_EQ(dir.entries(), std::set<std::string>{"model.safetensors"});
  expect_error<IoError>([&] { read_safetensors(dir / "absent.safetensors"); }, "absent.safetensors: cannot open");
}

TEST(Safetensors, NamesThatAreNotUtf8CannotBeWritten) {
  TensorFile f;
  f.insert("bad\xff", Tensor({1}, std::vector<float>{1.0f}));
  expect_error<InvalidArgument>([&] { serialize_safetensors(f); }, "tensor name");
  TensorFile g;
  g.metadata()["k"] = "\xc3";
  expect_error<InvalidArgument>([&] { serialize_safetensors(g); }, "metadata value");
}

}  // namespace
}  // namespace odeflow::io
