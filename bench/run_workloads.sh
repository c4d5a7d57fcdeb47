#!/usr/bin/env bash
# Runs the peer workloads W1, W2 and W4 (../shared/bench/WORKLOADS.md) on
# odeflow (odeflow_workloads) and prints JSON lines and the summary tables of
# docs/benchmarks.md ("Workloads").
#
# Side by side with torchdiffeq: when TORCHDIFFEQ_DIR points to a torchdiffeq
# checkout outside this project and $PY can import torch, the shared peer
# scripts (w1_spiral.py, w2_mlp.py, w4_memory.py) run first, one after the
# other, and the runner takes its ratios from their figures (same run).
# Otherwise it says why and compares with ../shared/bench/RESULTS.md's
# figures, labelled "not same run".
#
#   bench/run_workloads.sh [odeflow_workloads flags...]
#     e.g. bench/run_workloads.sh --workloads w1 --w1-iters 200
#
# The runner runs RUNS times (default 3; the machine is shared and noisy), each
# run's output in run-<i>.jsonl and run-<i>.txt; the summary printed at the end
# (summary.txt) merges them: per configuration the median of the run medians,
# the min and max over all runs.
#
# Environment: BUILD_DIR (default: build, relative to the repository root),
# RUNS, OUT_DIR (default: $BUILD_DIR/workloads/<date-time>; receives the runs,
# summary.txt and peer/*.jsonl), PEER_BENCH_DIR (default: ../shared/bench
# next to the repository), PY (default: /usr/bin/python3, Debian's, which
# sees python3-torch), PEER_THREADS (default: "1 2").
# Build first: cmake --build "$BUILD_DIR" --target odeflow_workloads
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-build}
[[ $build = /* ]] || build="$root/$build"
exe="$build/bench/odeflow_workloads"
if [[ ! -x $exe ]]; then
  echo "run_workloads.sh: $exe not found; build it with: cmake --build $build --target odeflow_workloads" >&2
  exit 1
fi
out=${OUT_DIR:-$build/workloads/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
peer_dir=${PEER_BENCH_DIR:-$root/../shared/bench}
PY=${PY:-/usr/bin/python3}

peer_args=()
run_peers() {
  local td
  td=$(cd "$TORCHDIFFEQ_DIR" 2>/dev/null && pwd) || { echo "TORCHDIFFEQ_DIR=$TORCHDIFFEQ_DIR is not a folder" >&2; return 1; }
  case "$td/" in
    "$root"/*) echo "TORCHDIFFEQ_DIR must be outside the project (it is $td)" >&2; return 1 ;;
  esac
  if [[ ! -f $peer_dir/w1_spiral.py ]]; then
    echo "peer scripts not found in $peer_dir (set PEER_BENCH_DIR)" >&2
    return 1
  fi
  if ! "$PY" -c "import torch" 2>/dev/null; then
    echo "$PY cannot import torch (Debian: python3-torch)" >&2
    return 1
  fi
  mkdir -p "$out/peer"
  echo "== torchdiffeq (peer scripts in $peer_dir, results in $out/peer)" >&2
  (
    cd "$peer_dir"
    export TORCHDIFFEQ_DIR="$td"
    for th in ${PEER_THREADS:-1 2}; do
      "$PY" w1_spiral.py --threads "$th" --iters 100 --warmup 5 --full-reps 20 --out "$out/peer/w1.jsonl" > /dev/null
      for dt in float64 float32; do
        # Two cores as RESULTS.md's best configuration: torch 1 thread, OpenBLAS 2.
        "$PY" w2_mlp.py --threads 1 --blas-threads "$th" --dtype "$dt" --iters 20 --warmup 3 \
          --out "$out/peer/w2.jsonl" > /dev/null
      done
    done
    "$PY" w4_memory.py --ks 1,4,16 --reps 1 --out "$out/peer/w4.jsonl" > /dev/null
  )
  peer_args=(--peer "$out/peer")
}

if [[ -z ${TORCHDIFFEQ_DIR:-} ]]; then
  echo "TORCHDIFFEQ_DIR is not set: torchdiffeq's figures come from RESULTS.md (not the same run)" >&2
elif ! run_peers; then
  echo "torchdiffeq not run: its figures come from RESULTS.md (not the same run)" >&2
fi

runs=()
for i in $(seq "${RUNS:-3}"); do
  echo "== odeflow run $i ($exe, results in $out)" >&2
  status=0
  "$exe" --json "$out/run-$i.jsonl" "${peer_args[@]}" "$@" > "$out/run-$i.txt" || status=$?
  # Status 2: a check value did not match (reported in the summary); anything else is a failure.
  if [[ $status -ne 0 && $status -ne 2 ]]; then
    cat "$out/run-$i.txt" >&2
    exit "$status"
  fi
  runs+=("$out/run-$i.jsonl")
done
joined=$(IFS=,; echo "${runs[*]}")
"$exe" --summarize "$joined" "${peer_args[@]}" | tee "$out/summary.txt"
