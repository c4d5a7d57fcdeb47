// Explicit Euler: y1 = y0 + dt·f(t0, y0). Order 1.
#include <odeflow/solve/tableaus.hpp>

namespace odeflow::tableaus {
namespace {
constexpr double kC[] = {0.0};
constexpr double kA[] = {0.0};
constexpr double kB[] = {1.0};
}  // namespace

const ButcherTableau kEuler{.name = "euler", .order = 1, .c = kC, .a = kA, .b = kB};
}  // namespace odeflow::tableaus
