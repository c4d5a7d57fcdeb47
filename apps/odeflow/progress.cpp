#include "progress.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace odeflow::cli {
namespace {

constexpr int kBarWidth = 24;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

std::string duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(std::llround(seconds));
  return s >= 60 ? fmt::format("{}m{:02}s", s / 60, s % 60) : fmt::format("{}s", s);
}

std::string rate(const ProgressStatus& s) {
  return s.iterations_per_second > 0 ? fmt::format("{:.0f} it/s", s.iterations_per_second) : std::string("- it/s");
}

}  // namespace

ProgressBar::ProgressBar(std::int64_t total, bool enabled)
    : total_(std::max<std::int64_t>(total, 1)), enabled_(enabled), tty_(::isatty(STDERR_FILENO) == 1) {}

void ProgressBar::update(const ProgressStatus& status) {
  last_ = status;
  if (!enabled_ || !tty_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < kRedrawInterval && status.iteration != total_) return;
  last_draw_ = now;
  draw(status);
}

void ProgressBar::milestone(const ProgressStatus& status, const std::string& note) {
  last_ = status;
  if (!enabled_) return;
  clear();
  const int width = static_cast<int>(std::to_string(total_).size());
  fmt::print(stderr, "iter {:>{}}/{}  loss {:.6f}  {}  nfe {} fwd + {} bwd  {}\n", status.iteration, width, total_,
             status.loss, note, status.nfe_forward, status.nfe_backward, rate(status));
  if (tty_) draw(status);
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (enabled_) clear();
}

void ProgressBar::draw(const ProgressStatus& s) {
  const double done = std::clamp(static_cast<double>(s.iteration) / static_cast<double>(total_), 0.0, 1.0);
  const int filled = static_cast<int>(done * kBarWidth);
  const double eta = s.iterations_per_second > 0 ? static_cast<double>(total_ - s.iteration) / s.iterations_per_second
                                                 : std::nan("");
  // \r and erase-line: redraw in place.
  fmt::print(stderr, "\r\033[K[{:#<{}}{:-<{}}] {}/{}  loss {:.5f}  nfe {}+{}  {}  eta {}", "", filled, "",
             kBarWidth - filled, s.iteration, total_, s.loss, s.nfe_forward, s.nfe_backward, rate(s), duration(eta));
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::clear() {
  if (!drawn_) return;
  fmt::print(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace odeflow::cli
