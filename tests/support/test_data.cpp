#include "support/test_data.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace odeflow::test {

std::string data_path(const std::string& relative) {
  const char* env = std::getenv("ODEFLOW_TEST_DATA");
  return fmt::format("{}/{}", env != nullptr ? env : ODEFLOW_TEST_DATA_DIR, relative);
}

static std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::map<std::string, RefTensor> load_safetensors(const std::string& relative) {
  const std::string bytes = read_file(data_path(relative));
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  const char* base = bytes.data() + 8 + n;
  std::map<std::string, RefTensor> out;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    RefTensor t;
    t.shape = info["shape"].get<std::vector<std::int64_t>>();
    const auto begin = info["data_offsets"][0].get<std::size_t>();
    const auto end = info["data_offsets"][1].get<std::size_t>();
    const std::string dtype = info["dtype"];
    if (dtype == "F64") {
      t.data.resize((end - begin) / 8);
      std::memcpy(t.data.data(), base + begin, end - begin);
    } else {
      std::vector<float> f((end - begin) / 4);
      std::memcpy(f.data(), base + begin, end - begin);
      t.data.assign(f.begin(), f.end());
    }
    out.emplace(name, std::move(t));
  }
  return out;
}

nlohmann::json load_json(const std::string& relative) { return nlohmann::json::parse(read_file(data_path(relative))); }

Eigen::MatrixXd RefTensor::matrix() const {
  const std::int64_t rows = shape.empty() ? 1 : shape[0];
  const std::int64_t cols = shape.size() < 2 ? 1 : static_cast<std::int64_t>(data.size()) / rows;
  Eigen::MatrixXd m(rows, cols);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) m(r, c) = data[static_cast<std::size_t>(r * cols + c)];
  return m;
}

Eigen::MatrixXd RefTensor::slice_as_state(std::int64_t i) const {
  const std::int64_t features = shape.back();
  std::int64_t per = 1;
  for (std::size_t d = 1; d < shape.size(); ++d) per *= shape[d];
  Eigen::MatrixXd m(features, per / features);
  std::memcpy(m.data(), data.data() + i * per, static_cast<std::size_t>(per) * sizeof(double));
  return m;
}

Eigen::MatrixXd RefTensor::as_state() const {
  const std::int64_t features = shape.back();
  Eigen::MatrixXd m(features, static_cast<std::int64_t>(data.size()) / features);
  std::memcpy(m.data(), data.data(), data.size() * sizeof(double));
  return m;
}

}  // namespace odeflow::test
