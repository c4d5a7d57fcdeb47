// Heun's second-order method (explicit trapezoidal rule).
#include <odeflow/solve/tableaus.hpp>

namespace odeflow::tableaus {
namespace {
constexpr double kC[] = {0.0, 1.0};
constexpr double kA[] = {0.0, 0.0,
                         1.0, 0.0};
constexpr double kB[] = {q(1, 2), q(1, 2)};
}  // namespace

const ButcherTableau kHeun2{.name = "heun2", .order = 2, .c = kC, .a = kA, .b = kB};
}  // namespace odeflow::tableaus
