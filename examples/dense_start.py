"""GR that starts as dense retrieval (``dense_init`` docids), then learns; new documents join at once.

    python examples/dense_start.py quickstart --minutes 2
    python examples/dense_start.py ../shared/data/cranfield --minutes 30 --out runs/dense-start

1. builds a ``dense_init`` index (the default scheme on ``minilm``) on all but the last 10
   documents, within ``--minutes``;
2. adds the last 10 documents with DOME: each starts with its own encoding as its docid's row,
   so it is retrievable at once; prints the rank each gets for its own title as the query;
3. prints the standard comparison (BM25, dense, GR, re-ranking, interpolation, both fusions)
   of the updated index against baselines built on the whole corpus.
"""
from __future__ import annotations

import argparse
import os
import tempfile

import pandas as pd

from pt_genret.datasets import load_dataset
from pt_genret.experiment import compare, usable_docs
from pt_genret.index import GenIndex


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dataset", help="quickstart, a BEIR folder or irds:<id>")
    p.add_argument("--minutes", type=float, default=30.0, help="the build's time budget")
    p.add_argument("--split", default="test")
    p.add_argument("--new", type=int, default=10, help="documents held back and added by DOME")
    p.add_argument("--out", help="output folder (default: temporary)")
    args = p.parse_args()

    out = args.out or tempfile.mkdtemp(prefix="pt-genret-dense-start-")
    dataset = load_dataset(args.dataset)
    docs = pd.DataFrame(usable_docs(dataset))
    old, new = docs.iloc[:-args.new], docs.iloc[-args.new:]
    index = GenIndex(os.path.join(out, "gr-index")).indexer(
        scheme="dense_init", max_minutes=args.minutes, overwrite=True, verbose=True).index(old)
    training = index.meta["training"]
    print(f"trained {len(training['curve'])} epochs, kept epoch {training['best_epoch']} ({training['stopped']})")

    updated = index.updater(method="dome", verbose=True).index(new)
    title = new["title"].fillna("") if "title" in new else pd.Series("", index=new.index)
    titles = (title + " " + new["text"].str.split().str[:12].str.join(" ")).str.strip()
    res = updated.retriever(num_results=10, verbose=False)(pd.DataFrame({"qid": new["docno"].values,
                                                                        "query": titles.values}))
    found = res[res["qid"] == res["docno"]].set_index("qid")["rank"]
    print("\nnew documents, rank of each for its own title and first words (DOME, no rebuild):")
    for docno in new["docno"]:
        print(f"  {docno}: {int(found[docno]) + 1 if docno in found.index else 'not in the top 10'}")

    table = compare(updated, dataset, os.path.join(out, "baselines"), split=args.split,
                    save_dir=os.path.join(out, "runs"), verbose=False)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
