// Built-in initial value problems of the command-line tool: classical,
// non-stiff test equations with known parameters (and, where one exists, the
// exact solution).
//
// A problem is looked up by name and instantiated with parameter overrides:
//   Problem p = make_problem("vdp", {{"mu", 2.0}});
// Unknown names and parameters throw odeflow::InvalidArgument naming them.
#pragma once

#include <odeflow/core/types.hpp>

#include <Eigen/Core>

#include <array>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace odeflow::cli {

struct Parameter {
  std::string_view name;
  double value;  // default
  std::string_view description;
};

using ParameterValues = std::map<std::string, double, std::less<>>;

// One problem with its parameters bound.
struct Problem {
  std::string name;
  std::vector<std::string> components;  // names of the state components
  Eigen::VectorXd y0;
  Time t0 = 0.0;
  Time t1 = 1.0;
  std::function<void(Time, const Matrix<double>&, Matrix<double>&)> rhs;
  std::function<Eigen::VectorXd(Time)> exact;  // empty when no closed form is known
  std::optional<std::array<int, 2>> phase;      // components drawn against each other
  bool phase_equal_aspect = false;              // phase axes share a scale (positions in a plane)
  ParameterValues parameters;                   // every parameter, defaults filled in
};

struct ProblemInfo {
  std::string_view name;
  std::string_view description;
  std::vector<Parameter> parameters;
  Problem (*make)(const ParameterValues& p);
};

// Every built-in problem, in documentation order.
std::span<const ProblemInfo> problems();

// The problem `name` with `overrides` applied to its default parameters.
Problem make_problem(std::string_view name, const ParameterValues& overrides = {});

}  // namespace odeflow::cli
