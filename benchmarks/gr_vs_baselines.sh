#!/usr/bin/env bash
# GR next to BM25 (PISA) and dense (MiniLM) on Cranfield and on a SciFact dev split, and the
# two offline backbones side by side on Cranfield. Figures go to docs/benchmarks.md.
#   bash benchmarks/gr_vs_baselines.sh [DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-runs}
EPOCHS=${EPOCHS:-10}
mkdir -p "$OUT"
export TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1

# Cranfield: no training queries, GR learns from documents and extractive pseudo-queries only
for bb in minilm t5-scratch; do
  [ -d "$OUT/cranfield-$bb" ] || /usr/bin/time -f "%e s index cranfield $bb" \
    pt-genret index "$DATA/cranfield" "$OUT/cranfield-$bb" --backbone "$bb" --scheme keywords --epochs "$EPOCHS"
  pt-genret evaluate "$OUT/cranfield-$bb" "$DATA/cranfield" --metrics nDCG@10,R@100,RR@10,Success@10 \
    --save-dir "$OUT/cranfield-$bb-eval" --work-dir "$OUT/cranfield-baselines"
done

# SciFact: 80/20 split of the train queries by query (seeded); GR also trains on the 80%
# (4 epochs and 3 pseudo-queries per document: what fits a 2-core CPU in half an hour)
python benchmarks/make_dev_split.py "$DATA/scifact" "$OUT/scifact-split" --dev-fraction 0.2 --seed 42
[ -d "$OUT/scifact-minilm" ] || /usr/bin/time -f "%e s index scifact minilm" \
  pt-genret index "$OUT/scifact-split" "$OUT/scifact-minilm" --train-split train --scheme keywords --epochs 4 --num-pseudo-queries 3
pt-genret evaluate "$OUT/scifact-minilm" "$OUT/scifact-split" --split dev --metrics nDCG@10,R@100,RR@10,Success@10 \
  --save-dir "$OUT/scifact-minilm-eval" --work-dir "$OUT/scifact-baselines"

# the RRF pitfall on SciFact (all train queries): plain RRFusion vs pt_genret.baselines.rrf
python benchmarks/fusion_pitfall.py "$DATA/scifact" --split train --work-dir "$OUT/scifact-baselines"
