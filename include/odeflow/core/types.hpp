// Scalar and matrix aliases shared by every room of odeflow.
//
// A batch of states is a column-major `features x batch` matrix: one column
// per sample. Its bytes equal a row-major PyTorch `[batch, features]` tensor.
// Times are always double, whatever the state's scalar type.
#pragma once

#include <Eigen/Core>

#include <concepts>

namespace odeflow {

template <class S>
concept Scalar = std::same_as<S, float> || std::same_as<S, double>;

template <Scalar S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

template <Scalar S>
using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;

using Time = double;

}  // namespace odeflow
