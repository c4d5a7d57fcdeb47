#!/usr/bin/env bash
# Instructions per solve of the solver benchmarks, counted by callgrind: a
# noise-free comparison for a shared machine (docs/benchmarks.md).
#
#   bench/count_instructions.sh [tolerance regex, default 1e-08] [problem regex, default .]
#
# Valgrind 3.19 cannot decode AVX-512, so this needs a build without
# -march=native on AVX-512 machines; BUILD_DIR (default build-callgrind) is
# configured here when missing:
#   cmake -S . -B build-callgrind -DCMAKE_BUILD_TYPE=Release -DODEFLOW_NATIVE=OFF \
#     -DCMAKE_CXX_FLAGS=-march=x86-64-v3 -DODEFLOW_BUILD_TESTS=OFF -DODEFLOW_BUILD_CLI=OFF
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-build-callgrind}
[[ $build = /* ]] || build="$root/$build"
tol=${1:-1e-08}
problem=${2:-.}
if [[ ! -d $build ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DODEFLOW_NATIVE=OFF \
    -DCMAKE_CXX_FLAGS=-march=x86-64-v3 -DODEFLOW_BUILD_TESTS=OFF -DODEFLOW_BUILD_CLI=OFF >/dev/null
fi
cmake --build "$build" --target solvers_bench >/dev/null
exe="$build/bench/solvers_bench"
reps=4
echo "| case | instructions per solve |"
echo "|---|---:|"
"$exe" --benchmark_list_tests=true --benchmark_filter="^${problem}[^/]*/tol:${tol}/" | while read -r name; do
  # Only the solve calls are counted; `reps` repetitions of one iteration each.
  total=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    --toggle-collect='*odeflow::bench::(anonymous namespace)::odeflow_solve<*>(odeflow::Options const&)' --toggle-collect='*odeflow::bench::boost_dopri5<*' \
    --toggle-collect='*odeflow::bench::cvode_adams<*' \
    "$exe" --benchmark_filter="^${name}\$" --benchmark_min_time=0.000001 --benchmark_repetitions=$reps 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
  echo "| $name | $((total / reps)) |"
done
