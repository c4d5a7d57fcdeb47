#include "plot.hpp"

#include <odeflow/core/error.hpp>

#include <fmt/format.h>
#include <plplot.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)
// LeakSanitizer: fontconfig's font cache and the PLplot driver that libltdl
// loads live until exit by design; they are not leaks of ours.
extern "C" const char* __lsan_default_suppressions() {  // NOLINT(bugprone-reserved-identifier)
  return "leak:libfontconfig.so\nleak:libltdl.so\n";
}
extern "C" const char* __lsan_default_options() { return "print_suppressions=0"; }  // NOLINT
#endif

namespace odeflow::cli {
namespace {

// cmap0 indices: 0 background, 1 axes and text, 2.. line colours (Tableau 10).
constexpr int kBackground = 0;
constexpr int kInk = kInkColor;
constexpr int kFirstLine = 2;
constexpr std::array<std::array<int, 3>, 12> kPalette{{{255, 255, 255},
                                                       {30, 30, 30},
                                                       {31, 119, 180},
                                                       {255, 127, 14},
                                                       {44, 160, 44},
                                                       {214, 39, 40},
                                                       {148, 103, 189},
                                                       {140, 86, 75},
                                                       {227, 119, 194},
                                                       {127, 127, 127},
                                                       {188, 189, 34},
                                                       {23, 190, 207}}};
constexpr int kLineColors = static_cast<int>(kPalette.size()) - kFirstLine;

// Vertical extent of the panels (normalized page coordinates).
constexpr double kBottom = 0.13;
constexpr double kTop = 0.90;

// PLplot exits the process on fatal errors; make that exit look like ours.
int on_plplot_exit(const char* message) {
  std::fprintf(stderr, "odeflow: error: PLplot: %s\n", message);
  return 2;
}

void require_pngcairo() {
  std::array<const char*, 128> menus{}, names{};
  const char** menu_ptr = menus.data();
  const char** name_ptr = names.data();
  int count = static_cast<int>(names.size());
  plgDevs(&menu_ptr, &name_ptr, &count);
  for (int i = 0; i < count; ++i)
    if (names[static_cast<std::size_t>(i)] != nullptr && std::string(names[static_cast<std::size_t>(i)]) == "pngcairo")
      return;
  throw std::runtime_error("PLplot has no pngcairo driver (install plplot-driver-cairo)");
}

// [lo, hi] padded by 5% (or by 1 when the data are constant).
std::pair<double, double> padded(double lo, double hi) {
  const double span = hi - lo;
  const double pad = span > 0.0 ? 0.05 * span : 1.0;
  return {lo - pad, hi + pad};
}

void draw_time_panel(const TrajectoryPlot& plot, double x0, double x1) {
  const auto n = static_cast<PLINT>(plot.ts.size());
  const auto [tmin, tmax] = std::minmax_element(plot.ts.begin(), plot.ts.end());
  const auto [ylo, yhi] = padded(plot.states.minCoeff(), plot.states.maxCoeff());
  plvpor(x0, x1, kBottom, kTop);
  plwind(*tmin, *tmax, ylo, yhi);
  plcol0(kInk);
  plwidth(1.0);
  plbox("bcnst", 0.0, 0, "bcnstv", 0.0, 0);
  pllab("t", "state", plot.title.c_str());

  plwidth(2.0);
  Eigen::VectorXd row;
  for (Eigen::Index r = 0; r < plot.states.rows(); ++r) {
    row = plot.states.row(r).transpose();
    plcol0(line_color(static_cast<std::size_t>(r)));
    plline(n, plot.ts.data(), row.data());
  }

  const auto count = static_cast<PLINT>(plot.states.rows());
  std::vector<PLINT> opts(static_cast<std::size_t>(count), PL_LEGEND_LINE);
  std::vector<PLINT> text_colors(opts.size(), kInk), colors(opts.size()), styles(opts.size(), 1);
  std::vector<PLFLT> widths(opts.size(), 2.0);
  std::vector<const char*> texts(opts.size());
  for (std::size_t i = 0; i < opts.size(); ++i) {
    colors[i] = line_color(i);
    texts[i] = plot.components[i].c_str();
  }
  PLFLT legend_width = 0, legend_height = 0;
  plwidth(1.0);
  pllegend(&legend_width, &legend_height, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
           PL_POSITION_RIGHT | PL_POSITION_TOP | PL_POSITION_INSIDE, 0.01, 0.01, 0.04, kBackground, kInk, 1, 0, 0,
           count, opts.data(), 0.8, 0.8, 1.8, 0.0, text_colors.data(), texts.data(), nullptr, nullptr, nullptr,
           nullptr, colors.data(), styles.data(), widths.data(), nullptr, nullptr, nullptr, nullptr);
}

void draw_phase_panel(const TrajectoryPlot& plot, int i, int j, double x0, double x1) {
  const Eigen::VectorXd xs = plot.states.row(i).transpose();
  const Eigen::VectorXd ys = plot.states.row(j).transpose();
  const auto [xlo, xhi] = padded(xs.minCoeff(), xs.maxCoeff());
  const auto [ylo, yhi] = padded(ys.minCoeff(), ys.maxCoeff());
  if (plot.equal_aspect)
    plvpas(x0, x1, kBottom, kTop, (yhi - ylo) / (xhi - xlo));
  else
    plvpor(x0, x1, kBottom, kTop);
  plwind(xlo, xhi, ylo, yhi);
  plcol0(kInk);
  plwidth(1.0);
  plbox("bcnst", 0.0, 0, "bcnstv", 0.0, 0);
  const std::string title = fmt::format("phase portrait ({}, {})", plot.components[static_cast<std::size_t>(i)],
                                        plot.components[static_cast<std::size_t>(j)]);
  pllab(plot.components[static_cast<std::size_t>(i)].c_str(), plot.components[static_cast<std::size_t>(j)].c_str(),
        title.c_str());
  plwidth(1.5);
  plcol0(kFirstLine);
  plline(static_cast<PLINT>(xs.size()), xs.data(), ys.data());
  // Mark the initial state.
  plcol0(kFirstLine + 3);
  plssym(0.0, 1.8);
  PLFLT x_start = xs[0], y_start = ys[0];
  plpoin(1, &x_start, &y_start, 17);
}

void check(const TrajectoryPlot& plot) {
  const auto n = static_cast<Eigen::Index>(plot.ts.size());
  if (n < 2) throw InvalidArgument(fmt::format("a plot needs at least 2 output times, got {}", n));
  if (plot.states.cols() != n || plot.states.rows() != static_cast<Eigen::Index>(plot.components.size()))
    throw InvalidArgument(fmt::format("plot data: {}x{} states for {} components and {} times", plot.states.rows(),
                                      plot.states.cols(), plot.components.size(), n));
  if (!plot.states.allFinite()) throw InvalidArgument("plot data contain non-finite values");
  if (plot.phase)
    for (int c : *plot.phase)
      if (c < 0 || c >= plot.states.rows())
        throw InvalidArgument(fmt::format("phase component {} out of range [0, {})", c, plot.states.rows()));
}

}  // namespace

int line_color(std::size_t i) { return kFirstLine + static_cast<int>(i % kLineColors); }

void begin_png(const std::string& path, int width, int height) {
  if (!std::ofstream(path)) throw std::runtime_error(fmt::format("cannot write plot file '{}'", path));
  require_pngcairo();

  plsexit(on_plplot_exit);
  plsdev("pngcairo");
  plsfnam(path.c_str());
  plspage(0.0, 0.0, width, height, 0, 0);
  plscmap0n(static_cast<PLINT>(kPalette.size()));
  for (std::size_t i = 0; i < kPalette.size(); ++i)
    plscol0(static_cast<PLINT>(i), kPalette[i][0], kPalette[i][1], kPalette[i][2]);
  plinit();
  pladv(0);
  plschr(0.0, 0.8);
}

void end_png() { plend(); }

void write_trajectory_png(const std::string& path, const TrajectoryPlot& plot) {
  check(plot);
  const bool phase = plot.phase.has_value();
  begin_png(path, phase ? 1500 : 1000, 560);
  if (phase) {
    draw_time_panel(plot, 0.06, 0.56);
    draw_phase_panel(plot, (*plot.phase)[0], (*plot.phase)[1], 0.64, 0.98);
  } else {
    draw_time_panel(plot, 0.08, 0.97);
  }
  end_png();
}

}  // namespace odeflow::cli
