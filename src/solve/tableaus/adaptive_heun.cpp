// Heun–Euler 2(1): Heun's method with explicit Euler as the embedded solution.
#include <odeflow/solve/tableaus.hpp>

namespace odeflow::tableaus {
namespace {
constexpr double kC[] = {0.0, 1.0};
constexpr double kA[] = {0.0, 0.0,
                         1.0, 0.0};
constexpr double kB[] = {q(1, 2), q(1, 2)};
// b − b̂ with b̂ = (1, 0).
constexpr double kE[] = {q(-1, 2), q(1, 2)};
}  // namespace

const ButcherTableau kAdaptiveHeun{
    .name = "adaptive_heun", .order = 2, .embedded_order = 1, .c = kC, .a = kA, .b = kB, .b_error = kE};
}  // namespace odeflow::tableaus
