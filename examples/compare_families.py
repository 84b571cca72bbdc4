"""Build every GR preset on one collection and compare them with BM25 in one ``pt.Experiment``.

    python examples/compare_families.py ../shared/data/cranfield --epochs 10 --out runs/families
    python examples/compare_families.py quickstart --epochs 15

Each preset (DSI atomic/naive, DSI-SE, NCI, Ultron-URL, Ultron-PQ, TIGER-RQ) is a docid scheme
and decoder over the same backbone, pseudo-queries and training budget, so rows differ only in
the family's mechanism. Indexes and their runs are saved under ``--out`` and reused on a second run. BM25
(PISA) is the baseline of the significance tests (paired t-test, Holm correction). The
training budget of every row is printed under the table.
"""
from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pandas as pd  # noqa: E402
import pyterrier as pt  # noqa: E402

from pt_genret.baselines import bm25_pisa  # noqa: E402
from pt_genret.datasets import load_dataset  # noqa: E402
from pt_genret.experiment import parse_metrics, usable_docs  # noqa: E402
from pt_genret.index import GenIndex  # noqa: E402
from pt_genret.presets import PRESETS, preset_indexer, preset_retriever  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", help="a BEIR folder, irds:<id> or quickstart")
    parser.add_argument("--split", default="test")
    parser.add_argument("--train-split", help="also train every preset on this split's queries")
    parser.add_argument("--presets", default=",".join(PRESETS),
                        help="comma-separated preset names ('' for BM25 alone, e.g. to build its index first)")
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--num-pseudo-queries", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--metrics", default="nDCG@10,R@100,Success@10,RR@10")
    parser.add_argument("--out", help="folder for the indexes (default: temporary)")
    args = parser.parse_args()

    dataset = load_dataset(args.dataset)
    topics, qrels = dataset.get_topics(args.split), dataset.get_qrels(args.split)
    train = {}
    if args.train_split:
        train = {"train_topics": dataset.get_topics(args.train_split), "train_qrels": dataset.get_qrels(args.train_split)}
    out = args.out or tempfile.mkdtemp(prefix="pt-genret-families-")
    docs = pd.DataFrame(list(usable_docs(dataset)))

    systems, names, budgets = [bm25_pisa(docs.to_dict("records"), os.path.join(out, "pisa"))], ["BM25"], []
    for name in [p for p in args.presets.split(",") if p]:
        path = os.path.join(out, name)
        if not GenIndex(path).built():
            preset_indexer(path, name, backbone=args.backbone, epochs=args.epochs, seed=args.seed,
                           num_pseudo_queries=args.num_pseudo_queries, **train).index(docs)
        meta = GenIndex(path).meta
        budgets.append(f"{name}: scheme={meta['scheme']} backbone={meta['backbone']} epochs={meta['train']['epochs']} "
                       f"examples={meta['examples']} build={meta['build_seconds']}s")
        valid = set(GenIndex(path).table().docnos)
        saved = os.path.join(out, f"{name}.{args.split}.res.gz")  # a second run reuses the run
        if os.path.exists(saved):
            run = pt.io.read_results(saved)
        else:
            run = preset_retriever(path, name, num_results=100, verbose=True)(topics)
            pt.io.write_results(run, saved)
        assert set(run["docno"]) <= valid and not run.duplicated(["qid", "docno"]).any()
        systems.append(pt.Transformer.from_df(run, uniform=True))
        names.append(name)

    table = pt.Experiment(systems, topics, qrels, parse_metrics(args.metrics), names=names, baseline=0,
                          correction="holm")
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(table.to_string(index=False))
    print("\ntraining budget per row:")
    print("\n".join(budgets))


if __name__ == "__main__":
    main()
