"""Do text identifiers generalise best to new documents? SEAL/MINDER vs keywords under updates.

On a BEIR folder: build each index on a seeded 80% of the documents with a small fixed time
budget, add the other 20% through the updater (``incremental``: their examples plus replayed
old pseudo-queries), then score queries about old documents (every relevant document in the
first 80%) and about new ones (some relevant document among the added 20%) side by side.

    python benchmarks/ngram_updates.py ../shared/data/cranfield --minutes 3 --queries 40
"""
from __future__ import annotations

import argparse
import os
import random
import tempfile
import time

import pandas as pd
import pyterrier as pt
import transformers
from ir_measures import R, nDCG

from pt_genret import GenIndex, GenRetriever
from pt_genret.datasets import load_dataset
from pt_genret.documents import collect_documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", help="a BEIR folder, e.g. ../shared/data/cranfield")
    parser.add_argument("--schemes", default="ngrams,keywords", help="comma-separated (default: %(default)s)")
    parser.add_argument("--minutes", type=float, default=3.0, help="build time budget per index (default: %(default)s)")
    parser.add_argument("--update-epochs", type=int, default=1, help="epochs of the update (default: %(default)s)")
    parser.add_argument("--queries", type=int, default=40, help="queries per group, seeded sample (default: %(default)s)")
    parser.add_argument("--split", default="test", help="qrels split (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", help="work folder (default: a new temporary folder)")
    args = parser.parse_args()
    transformers.logging.set_verbosity_error()
    out = args.out or tempfile.mkdtemp(prefix="ngram-updates-")

    dataset = load_dataset(args.dataset)
    docs = collect_documents(dataset.get_corpus_iter())
    order = list(range(len(docs)))
    random.Random(args.seed).shuffle(order)
    cut = int(0.8 * len(docs))
    old, new = docs.iloc[sorted(order[:cut])], docs.iloc[sorted(order[cut:])]
    new_docnos = set(new["docno"])
    topics, qrels = dataset.get_topics(args.split), dataset.get_qrels(args.split)
    relevant = qrels[qrels["label"] > 0]
    about_new = relevant.groupby("qid")["docno"].apply(lambda d: bool(set(d) & new_docnos))
    groups = {"old": about_new[~about_new].index, "new": about_new[about_new].index}
    groups = {g: topics[topics["qid"].isin(q)].sample(n=min(args.queries, len(q)), random_state=args.seed)
              for g, q in groups.items()}
    print(f"{len(old)} documents indexed, {len(new)} added; queries about old / new documents: "
          f"{len(groups['old'])} / {len(groups['new'])} (of {int((~about_new).sum())} / {int(about_new.sum())})")

    rows = []
    for scheme in args.schemes.split(","):
        started = time.time()
        index = GenIndex(os.path.join(out, scheme)).indexer(scheme=scheme, max_minutes=args.minutes, seed=args.seed,
                                                            overwrite=True, verbose=False).index(old)
        built = time.time() - started
        started = time.time()
        index = index.updater(method="incremental", epochs=args.update_epochs, seed=args.seed,
                              verbose=False).index(new)
        updated = time.time() - started
        gr = GenRetriever(index, num_results=10, verbose=False)
        for group, queries in groups.items():
            table = pt.Experiment([gr], queries, qrels, [R @ 10, nDCG @ 10], names=[scheme])
            rows.append({"scheme": scheme, "queries": group, "R@10": table["R@10"].iloc[0],
                         "nDCG@10": table["nDCG@10"].iloc[0], "build s": round(built), "update s": round(updated)})
        print(pd.DataFrame(rows).tail(2).to_string(index=False), flush=True)
    print()
    print(pd.DataFrame(rows).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
