// The spiral demo's figures (PNG, PLplot), as ode_demo's: true against
// learned trajectories over time, the phase portrait, the learned vector
// field, and the loss curve.
#pragma once

#include <Eigen/Core>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace odeflow::cli {

struct SpiralFigures {
  std::vector<double> ts;        // n data times
  Eigen::MatrixXd true_y;        // 2 x n
  Eigen::MatrixXd learned_y;     // 2 x n, from the true y0
  // The learned field at a batch of points (2 x m -> 2 x m).
  std::function<Eigen::MatrixXd(const Eigen::MatrixXd&)> field;
  // Loss history: iterations, the training (batch) loss (NaN where none,
  // e.g. at iteration 0) and the full-trajectory loss at those iterations.
  std::vector<double> iterations;
  std::vector<double> batch_loss;
  std::vector<double> total_loss;
  std::string title;  // e.g. "iteration 2000, dopri5, direct"
};

// Writes trajectories.png, phase.png, vector_field.png and loss.png into
// `dir` (which must exist) and returns their file names. Throws
// InvalidArgument for inconsistent data, std::runtime_error when a file
// cannot be written.
std::vector<std::string> write_spiral_figures(const std::filesystem::path& dir, const SpiralFigures& figures);

}  // namespace odeflow::cli
