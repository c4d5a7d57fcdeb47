// Training progress on stderr. On a terminal: one bar redrawn in place (at
// most ten times a second) with permanent lines printed above it; otherwise
// (a pipe, a log file): only the permanent lines, so logs stay readable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace odeflow::cli {

struct ProgressStatus {
  std::int64_t iteration = 0;
  double loss = 0.0;  // of the last iteration
  std::int64_t nfe_forward = 0;
  std::int64_t nfe_backward = 0;
  double iterations_per_second = 0.0;
};

class ProgressBar {
 public:
  // total: the last iteration; disabled bars print nothing (--quiet).
  ProgressBar(std::int64_t total, bool enabled);
  ~ProgressBar() { finish(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // After every iteration: redraws the bar (terminal only).
  void update(const ProgressStatus& status);
  // A permanent line: the status plus `note` (e.g. the full-trajectory loss).
  void milestone(const ProgressStatus& status, const std::string& note);
  // Clears the bar; later output starts on a clean line.
  void finish();

 private:
  void draw(const ProgressStatus& status);
  void clear();

  std::int64_t total_;
  bool enabled_;
  bool tty_;
  bool drawn_ = false;
  ProgressStatus last_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace odeflow::cli
