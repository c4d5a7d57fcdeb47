// Reading the reference data under tests/data (safetensors + JSON sidecars).
#pragma once

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace odeflow::test {

struct RefTensor {
  std::vector<std::int64_t> shape;
  std::vector<double> data;  // row-major, converted to double

  // A 2-D tensor [a, b] (or 1-D [a] as a×1) as a row-major-faithful Eigen matrix.
  Eigen::MatrixXd matrix() const;
  // Row `i` of the leading dimension, reshaped as [features x batch]
  // column-major: a PyTorch [batch, features] slice has exactly these bytes.
  Eigen::MatrixXd slice_as_state(std::int64_t i) const;
  // The whole tensor as a PyTorch [batch, features] -> odeflow features x batch.
  Eigen::MatrixXd as_state() const;
};

// Absolute path of a file under tests/data.
std::string data_path(const std::string& relative);

std::map<std::string, RefTensor> load_safetensors(const std::string& relative);
nlohmann::json load_json(const std::string& relative);

}  // namespace odeflow::test
