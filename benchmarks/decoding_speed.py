"""Constrained decoding with and without the key/value cache, side by side in one run.

    python benchmarks/decoding_speed.py runs/cranfield-minilm ../shared/data/cranfield --queries 16
    python benchmarks/decoding_speed.py runs/zerogr/zerogr ../shared/data/cranfield --decoder annealed

Both runs decode the same queries with the same index and beam width, alternating; the script
prints seconds per query for each, their ratio, and whether the rankings agree.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from pt_genret.datasets import load_dataset
from pt_genret.decoding import ConstrainedBeamSearch
from pt_genret.decoding.sampling import AnnealedSampling
from pt_genret.index import GenIndex


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("index")
    p.add_argument("dataset")
    p.add_argument("--split", default="test")
    p.add_argument("--queries", type=int, default=16)
    p.add_argument("--beams", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--decoder", choices=("beam", "annealed"), default="beam",
                   help="beam search (--beams wide) or reverse-annealed sampling (--beams draws)")
    args = p.parse_args()
    index = GenIndex(args.index)
    backbone, trie = index.backbone(), index.trie()
    steps = int(index.meta["max_docid_length"]) + 1
    queries = load_dataset(args.dataset).get_topics(args.split)["query"].head(args.queries).tolist()
    seconds = {True: 0.0, False: 0.0}
    results = {True: [], False: []}
    for start in range(0, len(queries), args.batch_size):
        batch = queries[start:start + args.batch_size]
        for use_cache in (True, False):
            t = time.perf_counter()
            decoder = (ConstrainedBeamSearch(num_beams=args.beams, use_cache=use_cache) if args.decoder == "beam"
                       else AnnealedSampling(use_cache=use_cache))
            results[use_cache] += decoder.decode(backbone, trie, batch, args.beams, steps)
            seconds[use_cache] += time.perf_counter() - t
    same = all([d for d, _ in a] == [d for d, _ in b] for a, b in zip(results[True], results[False]))
    diff = max(abs(x - y) for a, b in zip(results[True], results[False]) for (_, x), (_, y) in zip(a, b))
    n = len(queries)
    print(f"{args.decoder}: {n} queries, {args.beams} beams/draws, batches of {args.batch_size}, index {args.index}")
    print(f"with cache:    {seconds[True] / n:.3f} s/query")
    print(f"without cache: {seconds[False] / n:.3f} s/query")
    print(f"speed-up: {seconds[False] / seconds[True]:.2f}x; same rankings: {same}; max score difference {diff:.2e}")


if __name__ == "__main__":
    main()
