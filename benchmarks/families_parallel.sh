#!/usr/bin/env bash
# Every preset of examples/compare_families.py in its own process, then one table from the saved runs.
#
#   bash benchmarks/families_parallel.sh DATASET OUT [compare_families options...]
#   PRESETS="SEAL MINDER" JOB_TIMEOUT=600 bash benchmarks/families_parallel.sh ../shared/data/cranfield runs/fam --epochs 5
#
# For a machine with many cores and/or a GPU: presets share nothing but the BM25 index, which
# is built first. Each preset logs to OUT/<preset>.log; a preset that fails or passes
# JOB_TIMEOUT seconds is left out of the final table (its log says why). The table is the
# same as a sequential `compare_families.py` run over the same OUT (it reuses indexes and runs).
set -uo pipefail
DATASET=$1
OUT=$2
shift 2
PRESETS=${PRESETS:-$(python3 -c 'from pt_genret.presets import PRESETS; print(" ".join(PRESETS))')}
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} TOKENIZERS_PARALLELISM=false

python3 examples/compare_families.py "$DATASET" --presets "" --out "$OUT" "$@" > "$OUT/bm25.log" 2>&1 \
    || { cat "$OUT/bm25.log"; exit 1; }
for preset in $PRESETS; do
    (
        start=$SECONDS
        timeout "${JOB_TIMEOUT:-3000}" python3 examples/compare_families.py "$DATASET" --presets "$preset" \
            --out "$OUT" "$@" > "$OUT/$preset.log" 2>&1
        echo "$preset: exit $?, $((SECONDS - start)) s wall" >> "$OUT/$preset.log"
    ) &
done
wait
finished=()
for preset in $PRESETS; do
    if ls "$OUT/$preset".*.res.gz > /dev/null 2>&1; then
        finished+=("$preset")
    else
        echo "== $preset did not finish; the end of its log:"; tail -n 20 "$OUT/$preset.log"
    fi
    grep -h "s wall" "$OUT/$preset.log" || true
done
IFS=,
python3 examples/compare_families.py "$DATASET" --presets "${finished[*]}" --out "$OUT" "$@"
