#!/usr/bin/env bash
# Runs the solver benchmarks (solvers_bench) with repetitions and prints the
# summary table of docs/benchmarks.md at the end of the output.
#
#   bench/run_solvers.sh [Google Benchmark flags...]
#     e.g. bench/run_solvers.sh --benchmark_filter='lorenz/tol:1e-08'
#
# Environment: BUILD_DIR (default: build, relative to the repository root),
# REPS (repetitions, default 10), MIN_TIME (seconds per repetition, default 0.2).
# Repetitions of all cases run in random order (random interleaving), so that a
# burst of load on a shared machine spreads over the cases instead of hitting one.
# Build first: cmake --build "$BUILD_DIR" --target solvers_bench
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-build}
[[ $build = /* ]] || build="$root/$build"
exe="$build/bench/solvers_bench"
if [[ ! -x $exe ]]; then
  echo "run_solvers.sh: $exe not found; build it with: cmake --build $build --target solvers_bench" >&2
  exit 1
fi
exec "$exe" --benchmark_repetitions="${REPS:-10}" --benchmark_min_time="${MIN_TIME:-0.2}" \
  --benchmark_enable_random_interleaving=true --benchmark_display_aggregates_only=true "$@"
