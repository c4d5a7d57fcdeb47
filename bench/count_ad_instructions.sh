#!/usr/bin/env bash
# Instructions per forward+backward pass of ad_bench's MLP cases, odeflow's
# and the hand-written Eigen code's, counted by callgrind: a noise-free
# comparison for a shared machine (docs/benchmarks.md, "Autodiff").
#
#   bench/count_ad_instructions.sh [case regex, default 'mlp/2-50-2/batch:(1|20)/float']
#
# A run calls the benchmark function a few times, and each call starts with
# passes on fresh buffers (the gradient check and a warm-up). Each case runs
# for growing lengths until two consecutive runs make the same number of
# calls; then the difference in the instructions of odeflow_pass (or
# HandMlp::run), callees included, over the difference in passes is a steady
# pass's cost.
# Valgrind 3.19 cannot decode AVX-512, so
# this needs a build without -march=native on AVX-512 machines; BUILD_DIR
# (default build-callgrind) is configured here when missing:
#   cmake -S . -B build-callgrind -DCMAKE_BUILD_TYPE=Release -DODEFLOW_NATIVE=OFF \
#     -DCMAKE_CXX_FLAGS=-march=x86-64-v3 -DODEFLOW_BUILD_TESTS=OFF -DODEFLOW_BUILD_CLI=OFF
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-build-callgrind}
[[ $build = /* ]] || build="$root/$build"
cases=${1:-'mlp/2-50-2/batch:(1|20)/float'}
if [[ ! -d $build ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DODEFLOW_NATIVE=OFF \
    -DCMAKE_CXX_FLAGS=-march=x86-64-v3 -DODEFLOW_BUILD_TESTS=OFF -DODEFLOW_BUILD_CLI=OFF >/dev/null
fi
cmake --build "$build" --target ad_bench >/dev/null
exe="$build/bench/ad_bench"
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# "calls inclusive-instructions" of every call to a function whose name
# contains $1, from a callgrind output file (names are compressed to "(id)"
# after their first use).
calls_and_cost() {
  awk -v want="$1" '
    /^c?fn=\(/ {
      id = $1; sub(/^c?fn=/, "", id); name = $0; sub(/^c?fn=\([0-9]+\) ?/, "", name)
      if (name != "") names[id] = name
      if ($0 ~ /^cfn=/) callee = names[id]
      next
    }
    /^calls=/ { split($0, f, /[= ]/); pending = f[2]; next }
    pending != "" { if (index(callee, want)) { calls += pending; cost += $2 } pending = "" }
    END { print calls + 0, cost + 0 }' "$2"
}

# "calls cost" of the pass function, then the calls of the benchmark function.
count() {
  valgrind --tool=callgrind --callgrind-out-file="$out" --dump-instr=no --dump-line=no \
    "$exe" --benchmark_filter="^${1}\$" --benchmark_min_time="$2" >/dev/null 2>&1
  echo "$(calls_and_cost "$3" "$out") $(calls_and_cost "run_mlp<$4>" "$out" | cut -d' ' -f1)"
}

echo "| case | instructions per pass |"
echo "|---|---:|"
"$exe" --benchmark_list_tests=true --benchmark_filter="^(${cases})/" | while read -r name; do
  scalar=$([[ $name == */float/* ]] && echo float || echo double)
  fn=$([[ $name == */odeflow ]] && echo "odeflow_pass<$scalar>" || echo "HandMlp<$scalar>::run")
  read -r p1 c1 f1 < <(count "$name" 0.002 "$fn" "$scalar")
  for length in 0.004 0.008 0.016 0.032 0.064 0.128; do
    read -r p2 c2 f2 < <(count "$name" "$length" "$fn" "$scalar")
    ((f1 == f2 && p2 > p1)) && break
    p1=$p2 c1=$c2 f1=$f2
  done
  if ((f1 != f2 || p2 <= p1)); then
    echo "count_ad_instructions.sh: $name: no two runs of the same number of calls" >&2
    exit 1
  fi
  echo "| $name | $(( (c2 - c1) / (p2 - p1) )) |"
done
