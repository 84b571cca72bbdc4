"""Split a BEIR folder's training queries into train and dev qrels (seeded, by query).

SciFact ships here with its train queries only; GR needs real training queries and a held-out
set to report on. The output folder links the corpus and queries and writes
``qrels/train.tsv`` and ``qrels/dev.tsv``.

    python benchmarks/make_dev_split.py ../shared/data/scifact /tmp/scifact-split --dev-fraction 0.2
"""
from __future__ import annotations

import argparse
import os

import numpy as np
import pandas as pd


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("source")
    p.add_argument("out")
    p.add_argument("--split", default="train")
    p.add_argument("--dev-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    qrels = pd.read_csv(os.path.join(args.source, "qrels", f"{args.split}.tsv"), sep="\t", dtype=str)
    qids = np.array(sorted(qrels["query-id"].unique()))
    rng = np.random.default_rng(args.seed)
    dev = set(rng.choice(qids, size=int(round(len(qids) * args.dev_fraction)), replace=False))
    os.makedirs(os.path.join(args.out, "qrels"), exist_ok=True)
    for name in ("corpus.jsonl", "queries.jsonl"):
        target = os.path.join(args.out, name)
        if not os.path.exists(target):
            os.symlink(os.path.abspath(os.path.join(args.source, name)), target)
    is_dev = qrels["query-id"].isin(dev)
    qrels[~is_dev].to_csv(os.path.join(args.out, "qrels", "train.tsv"), sep="\t", index=False)
    qrels[is_dev].to_csv(os.path.join(args.out, "qrels", "dev.tsv"), sep="\t", index=False)
    print(f"{len(qids) - len(dev)} train queries, {len(dev)} dev queries -> {args.out}")


if __name__ == "__main__":
    main()
