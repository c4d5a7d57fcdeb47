// Ralston's second-order method (minimum local error bound among 2-stage methods).
#include <odeflow/solve/tableaus.hpp>

namespace odeflow::tableaus {
namespace {
constexpr double kC[] = {0.0, q(2, 3)};
constexpr double kA[] = {0.0, 0.0,
                         q(2, 3), 0.0};
constexpr double kB[] = {q(1, 4), q(3, 4)};
}  // namespace

const ButcherTableau kRalston{.name = "ralston", .order = 2, .c = kC, .a = kA, .b = kB};
}  // namespace odeflow::tableaus
