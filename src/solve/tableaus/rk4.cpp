// Kutta's 3/8 rule, order 4: torchdiffeq's "rk4" (rk4_alt_step_func).
#include <odeflow/solve/tableaus.hpp>

namespace odeflow::tableaus {
namespace {
constexpr double kC[] = {0.0, q(1, 3), q(2, 3), 1.0};
constexpr double kA[] = {0.0, 0.0, 0.0, 0.0,
                         q(1, 3), 0.0, 0.0, 0.0,
                         q(-1, 3), 1.0, 0.0, 0.0,
                         1.0, -1.0, 1.0, 0.0};
constexpr double kB[] = {q(1, 8), q(3, 8), q(3, 8), q(1, 8)};
}  // namespace

const ButcherTableau kRk4{.name = "rk4", .order = 4, .c = kC, .a = kA, .b = kB};
}  // namespace odeflow::tableaus
