// Options of odeint. Plain data with defaults; `validate()` checks it.
//
// Defaults reproduce torchdiffeq's `odeint` (dopri5, rtol 1e-7, atol 1e-9,
// I controller with safety 0.9, ifactor 10, dfactor 0.2, RMS error norm).
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

namespace odeflow {

// A tolerance: one scalar for every component, or one value per component
// (per row of the state; shared by all columns of a batch).
class Tolerance {
 public:
  Tolerance(double value) : values_(1) { values_[0] = value; }  // NOLINT
  Tolerance(Eigen::VectorXd values) : values_(std::move(values)) {}  // NOLINT
  Tolerance(std::initializer_list<double> values) : values_(values.size()) {
    Eigen::Index i = 0;
    for (double v : values) values_[i++] = v;
  }

  bool is_scalar() const { return values_.size() == 1; }
  const Eigen::VectorXd& values() const { return values_; }
  // Tolerance of state row `row`.
  double operator[](Eigen::Index row) const { return is_scalar() ? values_[0] : values_[row]; }

 private:
  Eigen::VectorXd values_;
};

// Step-size controller of the adaptive Runge–Kutta methods.
enum class Controller {
  kI,   // dt·min(ifactor, max(safety·r^(-1/q), dfactor)); never shrinks after an accept (torchdiffeq)
  kPI,  // Gustafsson's PI: safety·r_n^(-(p+i)/q)·r_{n-1}^(p/q), as diffrax's PIDController
};

// Norm of the scaled error (and of the initial-step heuristic).
enum class Norm {
  kRms,  // sqrt(mean(x²)) over every element of the batched state
  kMax,  // max |x|
};

// Interpolation between the grid points of fixed-step methods.
enum class FixedInterpolation {
  kHermite,  // cubic Hermite from y and f at both ends (f at the end is the next step's first stage)
  kLinear,   // straight line (torchdiffeq's default)
};

// What a step-callback sees: one attempted step (times in the caller's
// direction; dt is negative when integrating backwards).
struct StepInfo {
  double t0;
  double dt;
  double error_ratio;  // 0 for fixed-step methods
  bool accepted;
};

struct Options {
  std::string method = "dopri5";

  // Adaptive error control: accept when ‖err / (atol + rtol·max(|y0|,|y1|))‖ ≤ 1.
  Tolerance rtol = 1e-7;
  Tolerance atol = 1e-9;
  Norm norm = Norm::kRms;
  // 0: every component enters the error norm. n > 0: only the first n
  // elements of the (column-major) state do, a seminorm; with per-component
  // tolerances the state must then be one column. The adjoint solve uses it
  // to leave the parameter integrals out of error control.
  std::int64_t controlled_rows = 0;

  // Step-size control.
  Controller controller = Controller::kI;
  double safety = 0.9;
  double ifactor = 10.0;  // largest growth factor per step
  double dfactor = 0.2;   // smallest shrink factor per step
  double pcoeff = 0.4;    // PI controller: proportional coefficient
  double icoeff = 0.3;    // PI controller: integral coefficient
  double first_step = 0.0;  // 0: Hairer's initial step selection
  double min_step = 0.0;    // a step this small is accepted whatever its error
  double max_step = std::numeric_limits<double>::infinity();
  std::int64_t max_num_steps = std::numeric_limits<std::int32_t>::max();

  // Steps land on these times (no re-evaluation of f).
  std::vector<double> step_t;
  // Steps land on these times and f is re-evaluated just after them, for
  // right-hand sides with discontinuities there.
  std::vector<double> jump_t;

  // Fixed-step methods: a step size, or an explicit grid (which must start at
  // ts.front() and end at ts.back()). With neither, the grid is ts itself.
  double step_size = 0.0;
  std::vector<double> grid_points;
  FixedInterpolation interpolation = FixedInterpolation::kHermite;

  // Multistep (Adams) methods: the highest order used (0 = method default).
  int max_order = 0;

  // Called after every attempted step, accepted or rejected.
  std::function<void(const StepInfo&)> on_step;

  // Throws InvalidArgument naming the first bad field.
  void validate() const;
};

}  // namespace odeflow
