// Heun's third-order method.
#include <odeflow/solve/tableaus.hpp>

namespace odeflow::tableaus {
namespace {
constexpr double kC[] = {0.0, q(1, 3), q(2, 3)};
constexpr double kA[] = {0.0, 0.0, 0.0,
                         q(1, 3), 0.0, 0.0,
                         0.0, q(2, 3), 0.0};
constexpr double kB[] = {q(1, 4), 0.0, q(3, 4)};
}  // namespace

const ButcherTableau kHeun3{.name = "heun3", .order = 3, .c = kC, .a = kA, .b = kB};
}  // namespace odeflow::tableaus
