// Explicit midpoint rule. Order 2.
#include <odeflow/solve/tableaus.hpp>

namespace odeflow::tableaus {
namespace {
constexpr double kC[] = {0.0, q(1, 2)};
constexpr double kA[] = {0.0, 0.0,
                         q(1, 2), 0.0};
constexpr double kB[] = {0.0, 1.0};
}  // namespace

const ButcherTableau kMidpoint{.name = "midpoint", .order = 2, .c = kC, .a = kA, .b = kB};
}  // namespace odeflow::tableaus
