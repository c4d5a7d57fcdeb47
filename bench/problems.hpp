// The benchmark problems: small non-stiff systems solved on a fixed interval
// [0, kT1] from kY0. Each is a type with a static, inlinable right-hand side
// `rhs(y, dy)` on raw arrays of kDim values (templated on the scalar so the
// long-double reference can reuse it), so that every solver gets the same
// arithmetic and none pays an indirect call it would not pay in real use.
#pragma once

#include <array>
#include <cmath>
#include <numbers>
#include <string_view>
#include <tuple>

namespace odeflow::bench {

// Largest kDim below; results carry end states in arrays of this size.
inline constexpr int kMaxDim = 4;

// Lorenz (1963), σ = 10, ρ = 28, β = 8/3: chaotic, so end-state errors grow
// like e^{0.9 t} from the local errors (the shared W3 workload).
struct Lorenz {
  static constexpr std::string_view kName = "lorenz";
  static constexpr int kDim = 3;
  static constexpr double kT1 = 20.0;
  static constexpr std::array<double, kDim> kY0{1.0, 1.0, 1.0};
  template <class T>
  static void rhs(const T* y, T* dy) {
    dy[0] = T(10) * (y[1] - y[0]);
    dy[1] = y[0] * (T(28) - y[2]) - y[1];
    dy[2] = y[0] * y[1] - (T(8) / T(3)) * y[2];
  }
};

// Van der Pol, μ = 1: a non-stiff limit cycle (the shared W3 workload).
struct VanDerPol {
  static constexpr std::string_view kName = "vdp";
  static constexpr int kDim = 2;
  static constexpr double kT1 = 20.0;
  static constexpr std::array<double, kDim> kY0{2.0, 0.0};
  template <class T>
  static void rhs(const T* y, T* dy) {
    dy[0] = y[1];
    dy[1] = (T(1) - y[0] * y[0]) * y[1] - y[0];
  }
};

// Kepler two-body problem in the plane, μ = 1, state (q1, q2, p1, p2),
// eccentricity 0.5 started at pericentre (semi-major axis 1, period 2π);
// integrated over 3 periods, so the exact end state is the initial state.
struct Kepler {
  static constexpr std::string_view kName = "kepler";
  static constexpr int kDim = 4;
  static constexpr double kEccentricity = 0.5;
  static constexpr double kT1 = 3 * 2 * std::numbers::pi;
  static inline const std::array<double, kDim> kY0{
      1.0 - kEccentricity, 0.0, 0.0, std::sqrt((1.0 + kEccentricity) / (1.0 - kEccentricity))};
  static std::array<double, kDim> exact_end_state() { return kY0; }
  template <class T>
  static void rhs(const T* y, T* dy) {
    using std::sqrt;
    const T r2 = y[0] * y[0] + y[1] * y[1];
    const T inv_r3 = T(1) / (r2 * sqrt(r2));
    dy[0] = y[2];
    dy[1] = y[3];
    dy[2] = -y[0] * inv_r3;
    dy[3] = -y[1] * inv_r3;
  }
};

using Problems = std::tuple<Lorenz, VanDerPol, Kepler>;

}  // namespace odeflow::bench
