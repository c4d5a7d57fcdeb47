#!/usr/bin/env bash
# Runs the autodiff benchmarks (ad_bench) with repetitions and prints the
# summary tables of docs/benchmarks.md ("Autodiff") at the end of the output:
# per-op overhead (ns/op, recorded and not) and MLP forward+backward, odeflow
# against hand-written Eigen, medians with min–max and ratios of medians.
#
#   bench/run_ad.sh [Google Benchmark flags...]
#     e.g. bench/run_ad.sh --benchmark_filter='batch:1/'
#
# Environment: BUILD_DIR (default: build, relative to the repository root),
# REPS (repetitions, default 10), MIN_TIME (seconds per repetition, default 0.2).
# Repetitions of all cases run in random order (random interleaving), so that a
# burst of load on a shared machine spreads over the cases instead of hitting one.
# Build first: cmake --build "$BUILD_DIR" --target ad_bench
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-build}
[[ $build = /* ]] || build="$root/$build"
exe="$build/bench/ad_bench"
if [[ ! -x $exe ]]; then
  echo "run_ad.sh: $exe not found; build it with: cmake --build $build --target ad_bench" >&2
  exit 1
fi
exec "$exe" --benchmark_repetitions="${REPS:-10}" --benchmark_min_time="${MIN_TIME:-0.2}" \
  --benchmark_enable_random_interleaving=true --benchmark_display_aggregates_only=true "$@"
