#!/usr/bin/env bash
# The dynamic-corpus benchmark (benchmarks/dynamic_methods.py) on SciFact, on a GPU machine, in one command.
#
# Every update method and the re-indexed baselines run one after another in one process, so
# their seconds per added document are comparable. PRESETS (space-separated, optional) also
# rebuilds those presets of the families comparison on Cranfield and SciFact alongside, with
# FAM_ARGS_CRAN / FAM_ARGS_SCI, and brings back their runs.
# Needs the carried bundle .devbundle/ (see benchmarks/device_setup.sh).
# Env: DYN_DATA (a collection under /tmp: scifact-split, or scifact with the bundle's scifact.tar.gz),
# DYN_ARGS (dynamic_methods.py options), DYN_ARGS2 and DYN_ARGS3 (optional: later runs, by default on
# the same D0 index, e.g. one method with other options, written to out2/ and out3/; a --work-dir
# of their own builds another D0), DYN_TIMEOUT (seconds for all runs), PRESETS,
# FAM_ARGS_CRAN, FAM_ARGS_SCI.
set -euo pipefail
DYN_DATA=${DYN_DATA:-/tmp/scifact-split}
DYN_ARGS=${DYN_ARGS:---max-docs 400 --max-queries 200 --epochs 5}
# shellcheck source=benchmarks/device_setup.sh
source benchmarks/device_setup.sh
WORK=/tmp/dynamic
IDX=/tmp/families
mkdir -p "$WORK" "$IDX"

snapshot() {
  (cd "$WORK" && files=$(ls -d out*/*.csv out*/*.md out*/*.png out*/*.json out*/work/done/*.json out*/work/*/pt_meta.json 2>/dev/null || true) && [ -n "$files" ] \
    && tar -czf "$OUT"/.dyn.tmp $files && mv "$OUT"/.dyn.tmp "$OUT"/dynamic.tar.gz) || true
  snapshot_families "$IDX"
}
(while sleep 20; do snapshot; done) &
snapshot_pid=$!

FAMILY_PIDS=()
if [ -n "${PRESETS:-}" ]; then
  export PRESETS JOB_TIMEOUT=${JOB_TIMEOUT:-400}
  launch_families "$IDX" "${FAM_ARGS_CRAN:---epochs 4 --num-pseudo-queries 5}" "${FAM_ARGS_SCI:---epochs 2 --num-pseudo-queries 3}"
fi

status=0
deadline=$((SECONDS + ${DYN_TIMEOUT:-3000}))
# shellcheck disable=SC2086
timeout $((deadline - SECONDS)) python3 benchmarks/dynamic_methods.py "$DYN_DATA" --split train \
  --out "$WORK/out" --work-dir "$WORK/out/work" $DYN_ARGS > "$OUT"/dynamic.log 2>&1 || status=$?
for n in 2 3; do  # the later runs, while time is left
  more_var=DYN_ARGS$n
  more=${!more_var:-}
  left=$((deadline - SECONDS))
  if [ -n "$more" ] && [ $status -eq 0 ] && [ $left -gt 0 ]; then
    # shellcheck disable=SC2086
    timeout "$left" python3 benchmarks/dynamic_methods.py "$DYN_DATA" --split train \
      --out "$WORK/out$n" --work-dir "$WORK/out/work" $more > "$OUT"/dynamic$n.log 2>&1 || status=$?
  fi
done
for pid in "${FAMILY_PIDS[@]}"; do wait "$pid" || status=$?; done  # not the snapshot loop, which never ends
kill "$snapshot_pid" 2>/dev/null || true
snapshot
grep -hv "it/s\|batch/s\|s/it\|s/batch\|step/s\|s/step" "$OUT"/dynamic*.log | tail -n 60
[ -n "${PRESETS:-}" ] && grep -h "^| \|exit" "$OUT"/families-*.log
ls -la "$OUT"
exit $status
