#include "spiral_plot.hpp"

#include "plot.hpp"

#include <odeflow/core/error.hpp>

#include <fmt/format.h>
#include <plplot.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace odeflow::cli {
namespace {

constexpr int kTrueColor = 0;     // line_color index: blue
constexpr int kLearnedColor = 1;  // orange
constexpr int kGray = 7;          // line_color(7) is the palette's gray
constexpr int kSolid = 1;
constexpr int kDashed = 3;  // PLplot's built-in long dashes

std::pair<double, double> padded(double lo, double hi) {
  const double span = hi - lo;
  const double pad = span > 0.0 ? 0.05 * span : 1.0;
  return {lo - pad, hi + pad};
}

void line(const Eigen::VectorXd& x, const Eigen::VectorXd& y, int color, int style, double width) {
  plcol0(line_color(static_cast<std::size_t>(color)));
  pllsty(style);
  plwidth(width);
  plline(static_cast<PLINT>(x.size()), x.data(), y.data());
  pllsty(kSolid);
}

struct LegendEntry {
  std::string text;
  int color;
  int style;
};

void legend(const std::vector<LegendEntry>& entries, PLINT position) {
  const auto n = static_cast<PLINT>(entries.size());
  std::vector<PLINT> opts(entries.size(), PL_LEGEND_LINE), text_colors(entries.size(), kInkColor),
      colors(entries.size()), styles(entries.size());
  std::vector<PLFLT> widths(entries.size(), 2.0);
  std::vector<const char*> texts(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    colors[i] = line_color(static_cast<std::size_t>(entries[i].color));
    styles[i] = entries[i].style;
    texts[i] = entries[i].text.c_str();
  }
  PLFLT w = 0, h = 0;
  plwidth(1.0);
  pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, position | PL_POSITION_INSIDE, 0.01, 0.01, 0.06, 0,
           kInkColor, 1, 0, 0, n, opts.data(), 0.8, 0.8, 1.8, 0.0, text_colors.data(), texts.data(), nullptr, nullptr,
           nullptr, nullptr, colors.data(), styles.data(), widths.data(), nullptr, nullptr, nullptr, nullptr);
}

void axes(double xlo, double xhi, double ylo, double yhi, const char* xlabel, const char* ylabel,
          const std::string& title, const char* yopts = "bcnstv") {
  plwind(xlo, xhi, ylo, yhi);
  plcol0(kInkColor);
  plwidth(1.0);
  plbox("bcnst", 0.0, 0, yopts, 0.0, 0);
  pllab(xlabel, ylabel, title.c_str());
}

void trajectories(const std::string& path, const SpiralFigures& f) {
  const Eigen::Map<const Eigen::VectorXd> t(f.ts.data(), static_cast<Eigen::Index>(f.ts.size()));
  const auto [ylo, yhi] = padded(std::min(f.true_y.minCoeff(), f.learned_y.minCoeff()),
                                 std::max(f.true_y.maxCoeff(), f.learned_y.maxCoeff()));
  begin_png(path, 1000, 560);
  plvpor(0.08, 0.97, 0.13, 0.90);
  axes(t.minCoeff(), t.maxCoeff(), ylo, yhi, "t", "x, y", "Trajectories: " + f.title);
  for (int r = 0; r < 2; ++r) {
    line(t, f.true_y.row(r).transpose(), r == 0 ? kTrueColor : kLearnedColor, kSolid, 2.0);
    line(t, f.learned_y.row(r).transpose(), r == 0 ? kTrueColor : kLearnedColor, kDashed, 2.0);
  }
  legend({{"x (true)", kTrueColor, kSolid},
          {"y (true)", kLearnedColor, kSolid},
          {"x (learned)", kTrueColor, kDashed},
          {"y (learned)", kLearnedColor, kDashed}},
         PL_POSITION_RIGHT | PL_POSITION_TOP);
  end_png();
}

void phase(const std::string& path, const SpiralFigures& f) {
  const auto [xlo, xhi] = padded(std::min(f.true_y.row(0).minCoeff(), f.learned_y.row(0).minCoeff()),
                                 std::max(f.true_y.row(0).maxCoeff(), f.learned_y.row(0).maxCoeff()));
  const auto [ylo, yhi] = padded(std::min(f.true_y.row(1).minCoeff(), f.learned_y.row(1).minCoeff()),
                                 std::max(f.true_y.row(1).maxCoeff(), f.learned_y.row(1).maxCoeff()));
  begin_png(path, 720, 640);
  plvpas(0.12, 0.96, 0.11, 0.92, (yhi - ylo) / (xhi - xlo));
  axes(xlo, xhi, ylo, yhi, "x", "y", "Phase portrait: " + f.title);
  line(f.true_y.row(0).transpose(), f.true_y.row(1).transpose(), kTrueColor, kSolid, 2.0);
  line(f.learned_y.row(0).transpose(), f.learned_y.row(1).transpose(), kLearnedColor, kDashed, 2.0);
  legend({{"true", kTrueColor, kSolid}, {"learned", kLearnedColor, kDashed}}, PL_POSITION_RIGHT | PL_POSITION_TOP);
  end_png();
}

// Unit arrows of the learned field on a 21 x 21 grid over [-2, 2]² (ode_demo's
// grid; ode_demo draws streamlines of the same normalized field).
void vector_field(const std::string& path, const SpiralFigures& f) {
  constexpr int kN = 21;
  constexpr double kLo = -2.0, kHi = 2.0;
  std::vector<PLFLT> grid(kN);
  for (int i = 0; i < kN; ++i) grid[static_cast<std::size_t>(i)] = kLo + (kHi - kLo) * i / (kN - 1);
  Eigen::MatrixXd points(2, kN * kN);
  for (int i = 0; i < kN; ++i)
    for (int j = 0; j < kN; ++j) points.col(i * kN + j) << grid[static_cast<std::size_t>(i)], grid[static_cast<std::size_t>(j)];
  const Eigen::MatrixXd dy = f.field(points);
  if (dy.rows() != 2 || dy.cols() != points.cols() || !dy.allFinite())
    throw InvalidArgument(fmt::format("vector field: the field returned {}x{} values{} for 2x{} points", dy.rows(),
                                      dy.cols(), dy.allFinite() ? "" : " (non-finite)", points.cols()));

  // u[i][j], v[i][j]: the arrow at (grid[i], grid[j]), unit length (zero stays zero).
  std::vector<std::vector<PLFLT>> u(kN, std::vector<PLFLT>(kN)), v(kN, std::vector<PLFLT>(kN));
  std::vector<PLFLT*> u_rows(kN), v_rows(kN);
  for (int i = 0; i < kN; ++i) {
    for (int j = 0; j < kN; ++j) {
      const Eigen::Vector2d d = dy.col(i * kN + j);
      const double norm = d.norm();
      u[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)] = norm > 0 ? d[0] / norm : 0.0;
      v[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)] = norm > 0 ? d[1] / norm : 0.0;
    }
    u_rows[static_cast<std::size_t>(i)] = u[static_cast<std::size_t>(i)].data();
    v_rows[static_cast<std::size_t>(i)] = v[static_cast<std::size_t>(i)].data();
  }
  PLcGrid cgrid{grid.data(), grid.data(), nullptr, kN, kN, 0};

  begin_png(path, 720, 640);
  plvpas(0.12, 0.96, 0.11, 0.92, 1.0);
  axes(kLo - 0.15, kHi + 0.15, kLo - 0.15, kHi + 0.15, "x", "y", "Learned vector field: " + f.title);
  line(f.true_y.row(0).transpose(), f.true_y.row(1).transpose(), kGray, kSolid, 1.5);
  plcol0(line_color(kTrueColor));
  plwidth(1.2);
  plsvect(nullptr, nullptr, 0, 0);  // PLplot's default arrow
  plvect(u_rows.data(), v_rows.data(), kN, kN, 0.3, pltr1, &cgrid);
  legend({{"true trajectory", kGray, kSolid}}, PL_POSITION_RIGHT | PL_POSITION_TOP);
  end_png();
}

void loss_curve(const std::string& path, const SpiralFigures& f) {
  // Log axis: PLplot plots log10 values. The batch loss is NaN where no
  // training preceded (iteration 0) and is then left out.
  std::vector<double> it, total, batch_it, batch;
  for (std::size_t i = 0; i < f.iterations.size(); ++i) {
    it.push_back(f.iterations[i]);
    total.push_back(std::log10(std::max(f.total_loss[i], 1e-300)));
    if (std::isnan(f.batch_loss[i])) continue;
    batch_it.push_back(f.iterations[i]);
    batch.push_back(std::log10(std::max(f.batch_loss[i], 1e-300)));
  }
  const auto [xlo, xhi] = padded(*std::min_element(it.begin(), it.end()), *std::max_element(it.begin(), it.end()));
  double lo = *std::min_element(total.begin(), total.end()), hi = *std::max_element(total.begin(), total.end());
  for (double b : batch) lo = std::min(lo, b), hi = std::max(hi, b);
  lo = std::floor(lo);
  hi = std::ceil(hi) + 1;  // a decade of headroom for the legend
  const auto as_vector = [](const std::vector<double>& v) {
    return Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(v.size())).eval();
  };
  begin_png(path, 1000, 560);
  plvpor(0.08, 0.97, 0.13, 0.90);
  axes(xlo, xhi, lo, hi, "iteration", "mean |error|", "Loss: " + f.title, "bcnstvl");
  line(as_vector(it), as_vector(total), kTrueColor, kSolid, 2.0);
  if (!batch.empty()) line(as_vector(batch_it), as_vector(batch), kLearnedColor, kDashed, 1.5);
  plcol0(line_color(kTrueColor));
  plssym(0.0, 0.6);
  plpoin(static_cast<PLINT>(it.size()), it.data(), total.data(), 17);
  legend({{"full trajectory", kTrueColor, kSolid}, {"training batches (mean since previous point)", kLearnedColor, kDashed}},
         PL_POSITION_RIGHT | PL_POSITION_TOP);
  end_png();
}

void check(const SpiralFigures& f) {
  const auto n = static_cast<Eigen::Index>(f.ts.size());
  if (n < 2 || f.true_y.rows() != 2 || f.true_y.cols() != n || f.learned_y.rows() != 2 || f.learned_y.cols() != n)
    throw InvalidArgument(fmt::format("spiral figures: {} times with {}x{} true and {}x{} learned states", n,
                                      f.true_y.rows(), f.true_y.cols(), f.learned_y.rows(), f.learned_y.cols()));
  if (!f.true_y.allFinite() || !f.learned_y.allFinite())
    throw InvalidArgument("spiral figures: the trajectories contain non-finite values");
  if (f.iterations.empty() || f.batch_loss.size() != f.iterations.size() || f.total_loss.size() != f.iterations.size())
    throw InvalidArgument(fmt::format("spiral figures: loss history of {} iterations, {} batch and {} total losses",
                                      f.iterations.size(), f.batch_loss.size(), f.total_loss.size()));
}

}  // namespace

std::vector<std::string> write_spiral_figures(const std::filesystem::path& dir, const SpiralFigures& figures) {
  check(figures);
  trajectories((dir / "trajectories.png").string(), figures);
  phase((dir / "phase.png").string(), figures);
  vector_field((dir / "vector_field.png").string(), figures);
  loss_curve((dir / "loss.png").string(), figures);
  return {"trajectories.png", "phase.png", "vector_field.png", "loss.png"};
}

}  // namespace odeflow::cli
