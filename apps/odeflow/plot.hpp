// PNG plots of trajectories, drawn by PLplot's pngcairo driver.
//
// A trajectory plot has one panel with every component against time and, when
// `phase` names two components, a second panel with the phase portrait (one
// component against the other; for 3-D systems a 2-D projection).
//
// Throws odeflow::InvalidArgument when the data are inconsistent and
// std::runtime_error when PLplot lacks the pngcairo driver or the file cannot
// be written.
#pragma once

#include <Eigen/Core>

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace odeflow::cli {

struct TrajectoryPlot {
  std::string title;
  std::vector<std::string> components;  // one name per state row
  std::vector<double> ts;               // size n
  Eigen::MatrixXd states;               // components × n: column k is y(ts[k])
  std::optional<std::array<int, 2>> phase;
  bool equal_aspect = false;  // same scale on both phase axes (e.g. a planar orbit)
};

void write_trajectory_png(const std::string& path, const TrajectoryPlot& plot);

// For other figures (the spiral demo's): begin_png opens a width x height
// pixel page with the palette and text size of every odeflow plot (throws as
// above); draw with PLplot calls, then end_png() writes the file.
void begin_png(const std::string& path, int width, int height);
void end_png();
// Palette (cmap0) indices: the axes and text colour, and line colour i.
constexpr int kInkColor = 1;
int line_color(std::size_t i);

}  // namespace odeflow::cli
