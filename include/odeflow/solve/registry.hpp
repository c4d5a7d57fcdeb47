// The method registry: the one place that maps user-facing names (as in
// torchdiffeq: "dopri5", "rk4", "implicit_adams") to solvers. It feeds the
// CLI's method list, the typed convergence tests, the benchmarks and the docs.
#pragma once

#include <odeflow/solve/tableau.hpp>

#include <span>
#include <string_view>

namespace odeflow {

enum class MethodKind {
  kExplicitRk,      // a ButcherTableau (adaptive iff it has error weights)
  kAdamsBashforth,  // fixed-step explicit Adams–Bashforth
  kAdamsMoulton,    // fixed-step Adams–Bashforth–Moulton predictor–corrector
  kAdamsVariable,   // adaptive variable-step, variable-order Adams (orders 1–12)
};

struct MethodInfo {
  std::string_view name;
  MethodKind kind;
  bool adaptive;
  int order;  // order of accuracy (Adams: the default maximum order)
  const ButcherTableau* tableau = nullptr;  // kExplicitRk only
  std::string_view description;
};

// Every registered method, in documentation order.
std::span<const MethodInfo> methods();

// The method called `name`; throws UnknownMethod listing the valid names.
const MethodInfo& find_method(std::string_view name);

}  // namespace odeflow
