#!/usr/bin/env bash
# The budgeted recipe on a GPU machine, in one command: every preset on Cranfield and on the
# SciFact dev split at one equal time budget (the families table), and the Cranfield recipe sweep
# (pseudo-queries per document; distillation teachers) at the same budget.
#
# Every build is a process of its own, all sharing the GPU and the 16 cores, all started together,
# so each gets the same wall-clock budget under the same contention. What is done so far comes
# back even if the command is killed at its time limit ($OUT/families-runs.tar.gz, $OUT/sweep.tar.gz).
# Needs the carried bundle .devbundle/ (benchmarks/make_devbundle.sh; see benchmarks/device_setup.sh).
# Env: MINUTES (4: the budget of every build), NPQ (10: pseudo-queries per document of the families),
# COUNTS (5 10 20 50), TEACHERS (bm25 dense rrf, at 10 per document), PRESETS (all), JOB_TIMEOUT (s),
# FAMILIES (1; 0: the sweep alone).
# Usage: bash benchmarks/device_recipe.sh
set -uo pipefail
MINUTES=${MINUTES:-4}
NPQ=${NPQ:-10}
COUNTS=${COUNTS-5 10 20 50}  # set but empty (COUNTS=): no pseudo-query sweep
TEACHERS=${TEACHERS-bm25 dense rrf}  # TEACHERS=: no teacher sweep
IDX=/tmp/families
SWEEP=/tmp/sweep
export JOB_TIMEOUT=${JOB_TIMEOUT:-480}
# shellcheck source=benchmarks/device_setup.sh
source benchmarks/device_setup.sh
mkdir -p "$IDX" "$SWEEP"

snapshot_sweep() {
  (cd "$SWEEP" && files=$(ls -d */sweep-*.csv *.log */*/pt_meta.json 2>/dev/null || true) && [ -n "$files" ] \
    && tar -czf "$OUT"/.sw.tmp $files && mv "$OUT"/.sw.tmp "$OUT"/sweep.tar.gz) || true
}
(while sleep 20; do snapshot_families "$IDX"; snapshot_sweep; done) &
snapshot_pid=$!
(while sleep 60; do nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; done) &
smi=$!

FAMILY_PIDS=()
if [ "${FAMILIES:-1}" != 0 ]; then
  launch_families "$IDX" "--time-budget $MINUTES --num-pseudo-queries $NPQ" "--time-budget $MINUTES --num-pseudo-queries $NPQ"
fi
SWEEP_PIDS=()
sweep() {  # $1 pseudo-queries per document, $2 teacher
  timeout "$JOB_TIMEOUT" python3 benchmarks/recipe_sweep.py /tmp/cranfield "$SWEEP/pq$1-$2" --counts "$1" \
    --teachers "$2" --minutes "$MINUTES" --decode-batch-size 32 > "$SWEEP/pq$1-$2.log" 2>&1 &
  SWEEP_PIDS+=($!)
}
for n in $COUNTS; do sweep "$n" none; done
for t in $TEACHERS; do sweep 10 "$t"; done

status=0
for pid in "${FAMILY_PIDS[@]}" "${SWEEP_PIDS[@]}"; do wait "$pid" || status=$?; done
kill "$snapshot_pid" "$smi" 2>/dev/null || true
snapshot_families "$IDX"
snapshot_sweep
cat "$OUT"/families-*.log 2>/dev/null | grep -v "it/s\|batch/s\|s/it\|s/batch"
for f in "$SWEEP"/*/sweep-*.csv; do tail -n +2 "$f" | sed "s|^|$(basename "$(dirname "$f")"),|"; done
ls -la "$OUT"
exit $status
