// The classical fourth-order Runge–Kutta method.
#include <odeflow/solve/tableaus.hpp>

namespace odeflow::tableaus {
namespace {
constexpr double kC[] = {0.0, q(1, 2), q(1, 2), 1.0};
constexpr double kA[] = {0.0, 0.0, 0.0, 0.0,
                         q(1, 2), 0.0, 0.0, 0.0,
                         0.0, q(1, 2), 0.0, 0.0,
                         0.0, 0.0, 1.0, 0.0};
constexpr double kB[] = {q(1, 6), q(1, 3), q(1, 3), q(1, 6)};
}  // namespace

const ButcherTableau kRk4Classic{.name = "rk4_classic", .order = 4, .c = kC, .a = kA, .b = kB};
}  // namespace odeflow::tableaus
