#include <odeflow/core/error.hpp>
#include <odeflow/solve/registry.hpp>
#include <odeflow/solve/tableaus.hpp>

#include <fmt/format.h>

#include <array>

namespace odeflow {
namespace {

using tableaus::kAdaptiveHeun, tableaus::kBosh3, tableaus::kDopri5, tableaus::kEuler,
    tableaus::kFehlberg2, tableaus::kHeun2, tableaus::kHeun3, tableaus::kMidpoint, tableaus::kRalston,
    tableaus::kRk4, tableaus::kRk4Classic;

constexpr MethodKind kRk = MethodKind::kExplicitRk;

const std::array kMethods{
    MethodInfo{"dopri5", kRk, true, 5, &kDopri5, "Dormand–Prince 5(4); the default"},
    MethodInfo{"tsit5", kRk, true, 5, &tableaus::kTsit5, "Tsitouras 5(4)"},
    MethodInfo{"dopri8", kRk, true, 8, &tableaus::kDopri8, "Dormand–Prince 8(5,3) (Hairer's DOP853)"},
    MethodInfo{"bosh3", kRk, true, 3, &kBosh3, "Bogacki–Shampine 3(2)"},
    MethodInfo{"fehlberg2", kRk, true, 2, &kFehlberg2, "Runge–Kutta–Fehlberg 2(1)"},
    MethodInfo{"adaptive_heun", kRk, true, 2, &kAdaptiveHeun, "Heun–Euler 2(1)"},
    MethodInfo{"euler", kRk, false, 1, &kEuler, "explicit Euler"},
    MethodInfo{"midpoint", kRk, false, 2, &kMidpoint, "explicit midpoint"},
    MethodInfo{"heun2", kRk, false, 2, &kHeun2, "Heun's 2nd order (explicit trapezoid)"},
    MethodInfo{"ralston", kRk, false, 2, &kRalston, "Ralston's 2nd order"},
    MethodInfo{"heun3", kRk, false, 3, &kHeun3, "Heun's 3rd order"},
    MethodInfo{"rk4", kRk, false, 4, &kRk4, "Kutta's 3/8 rule (torchdiffeq's rk4)"},
    MethodInfo{"rk4_classic", kRk, false, 4, &kRk4Classic, "classical Runge–Kutta"},
    MethodInfo{"explicit_adams", MethodKind::kAdamsBashforth, false, 4, nullptr,
               "Adams–Bashforth, fixed step, order max_order (default 4)"},
    MethodInfo{"implicit_adams", MethodKind::kAdamsMoulton, false, 4, nullptr,
               "Adams–Bashforth–Moulton PECE, fixed step, order max_order (default 4)"},
    MethodInfo{"adams", MethodKind::kAdamsVariable, true, 12, nullptr,
               "variable-step, variable-order Adams PECE, orders 1 to max_order (default 12)"},
};

}  // namespace

std::span<const MethodInfo> methods() { return kMethods; }

const MethodInfo& find_method(std::string_view name) {
  for (const MethodInfo& m : kMethods)
    if (m.name == name) return m;
  std::string names;
  for (const MethodInfo& m : kMethods) names += fmt::format("{}{}", names.empty() ? "" : ", ", m.name);
  throw UnknownMethod(fmt::format("unknown method '{}'; known methods: {}", name, names));
}

}  // namespace odeflow
