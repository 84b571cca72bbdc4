#!/usr/bin/env bash
# Every preset on Cranfield and on the SciFact dev split, on a GPU machine, in one command.
#
# Each preset of each collection is its own process (benchmarks/families_parallel.sh), all
# sharing the GPU; the two tables (examples/compare_families.py) are printed at the end.
#
# Needs the untracked bundle .devbundle/ (carried; see benchmarks/device_setup.sh).
# Env: EPOCHS (4, SciFact), NPQ (3, SciFact), CRAN_EPOCHS (10), CRAN_NPQ (5), PRESETS (all, space-separated),
# JOB_TIMEOUT (seconds per preset), SITE (/tmp/site), IDX (/tmp/families),
# OUT (what comes back: the log and a tar of the runs; set by the device tool).
# Usage: bash benchmarks/device_families.sh
set -euo pipefail

EPOCHS=${EPOCHS:-4}
NPQ=${NPQ:-3}
IDX=${IDX:-/tmp/families}  # indexes and runs; outside $OUT so a killed run brings back no index
CRAN_EPOCHS=${CRAN_EPOCHS:-10}
CRAN_NPQ=${CRAN_NPQ:-5}
export JOB_TIMEOUT=${JOB_TIMEOUT:-3000}
# shellcheck source=benchmarks/device_setup.sh
source benchmarks/device_setup.sh

# bring back what is done so far even if the command is killed at its time limit
(while sleep 20; do snapshot_families "$IDX"; done) &
snapshot_pid=$!

launch_families "$IDX" "--epochs $CRAN_EPOCHS --num-pseudo-queries $CRAN_NPQ" "--epochs $EPOCHS --num-pseudo-queries $NPQ"
(while sleep 60; do nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; done) &
smi=$!
status=0
for pid in "${FAMILY_PIDS[@]}"; do wait "$pid" || status=$?; done
kill "$snapshot_pid" "$smi" 2>/dev/null || true
snapshot_families "$IDX"
cat "$OUT"/families-cranfield.log "$OUT"/families-scifact.log | grep -v "it/s\|batch/s\|s/it\|s/batch"
ls -la "$OUT"
exit $status
