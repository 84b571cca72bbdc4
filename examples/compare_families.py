"""Build every GR preset on one collection and compare them with BM25 in one ``pt.Experiment``.

    python examples/compare_families.py ../shared/data/cranfield --time-budget 30 --out runs/families
    python examples/compare_families.py quickstart --time-budget 2

Each preset (DSI atomic/naive, DSI-SE, NCI, Ultron-URL, Ultron-PQ, TIGER-RQ, ...) is a docid scheme
and decoder over the same backbone, pseudo-queries and training budget, so rows differ only in
the family's mechanism. Indexes and their runs are saved under ``--out`` and reused on a second run. BM25
(PISA) is the baseline of the significance tests (paired t-test, Holm correction). The
training budget of every row is printed under the table. The name ``default`` in ``--presets``
adds the row of ``pt-genret index``'s own recipe (the backbone's default docid scheme, its learning
rate and beam search) under the same budget, for comparison with the families.
"""
from __future__ import annotations

import argparse
import json
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
from pt_genret.retriever import GenRetriever  # noqa: E402

DEFAULT = "default"  # the row of pt-genret's own recipe (GenIndex.indexer's defaults)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", help="a BEIR folder, irds:<id> or quickstart")
    parser.add_argument("--split", default="test")
    parser.add_argument("--train-split", help="also train every preset on this split's queries")
    parser.add_argument("--presets", default=",".join(PRESETS),
                        help="comma-separated preset names, 'default' for pt-genret's default recipe "
                        "('' for BM25 alone, e.g. to build its index first)")
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--time-budget", type=float, default=30.0, metavar="MIN",
                        help="every preset's build budget in minutes (default: %(default)s; 0: exactly --epochs)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (a cap under --time-budget)")
    parser.add_argument("--num-pseudo-queries", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--metrics", default="nDCG@10,R@100,Success@10,RR@10")
    parser.add_argument("--out", help="folder for the indexes (default: temporary)")
    parser.add_argument("--decode-batch-size", type=int, default=8, help="queries decoded together")
    args = parser.parse_args()

    chosen = [p for p in args.presets.split(",") if p]
    unknown = [p for p in chosen if p != DEFAULT and p not in PRESETS]
    if unknown:  # checked before any build starts
        parser.error(f"--presets: unknown {', '.join(unknown)}; choose from {DEFAULT}, {', '.join(PRESETS)}")
    dataset = load_dataset(args.dataset)
    topics, qrels = dataset.get_topics(args.split), dataset.get_qrels(args.split)
    train = {}
    if args.train_split:
        train = {"train_topics": dataset.get_topics(args.train_split), "train_qrels": dataset.get_qrels(args.train_split)}
    out = args.out or tempfile.mkdtemp(prefix="pt-genret-families-")
    docs = pd.DataFrame(list(usable_docs(dataset)))

    systems, names, budgets = [bm25_pisa(docs.to_dict("records"), os.path.join(out, "pisa"))], ["BM25"], []
    for name in chosen:
        path = os.path.join(out, name)
        if not GenIndex(path).built():
            options = dict(backbone=args.backbone, epochs=args.epochs, seed=args.seed,
                           max_minutes=args.time_budget if args.time_budget > 0 else None,
                           num_pseudo_queries=args.num_pseudo_queries, **train)
            indexer = GenIndex(path).indexer(**options) if name == DEFAULT else preset_indexer(path, name, **options)
            indexer.index(docs)
        with open(os.path.join(path, "pt_meta.json")) as f:  # the budget of the row (also for a copied run)
            meta = json.load(f)
        saved = os.path.join(out, f"{name}.{args.split}.res.gz")  # a second run reuses the run
        if os.path.exists(saved):
            run = pt.io.read_results(saved)  # checked for valid, distinct docnos when it was made
        else:
            retriever = GenRetriever(path, num_results=100, batch_size=args.decode_batch_size, verbose=True) \
                if name == DEFAULT else \
                preset_retriever(path, name, num_results=100, batch_size=args.decode_batch_size, verbose=True)
            run = retriever(topics)
            valid = set(GenIndex(path).table().docnos)
            assert set(run["docno"]) <= valid and not run.duplicated(["qid", "docno"]).any(), name
            pt.io.write_results(run, saved)
        trained = len(meta.get("epoch_losses", [])) or meta["train"]["epochs"]
        budgets.append(f"{name}: scheme={meta['scheme']} backbone={meta['backbone']} epochs={trained} "
                       f"(budget {meta['train'].get('max_minutes')} min) "
                       f"examples={meta['examples']} build={meta['build_seconds']}s")
        systems.append(pt.Transformer.from_df(run, uniform=True))
        names.append(name)

    table = pt.Experiment(systems, topics, qrels, parse_metrics(args.metrics), names=names, baseline=0,
                          correction="holm")
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(table.to_string(index=False))
    print("\n" + compact(table, parse_metrics(args.metrics)))
    print("\ntraining budget per row:")
    print("\n".join(budgets))


def compact(table: pd.DataFrame, metrics) -> str:
    """The measures as a Markdown table, each GR row's nDCG@10 marked † where it differs from BM25's
    significantly (paired t-test, Holm-corrected, p < 0.05)."""
    names = [str(m) for m in metrics]
    lines = ["| system | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for _, row in table.iterrows():
        cells = []
        for m in names:
            mark = "†" if row.get(f"{m} reject") is True else ""
            cells.append(f"{row[m]:.3f}{mark}")
        lines.append(f"| {row['name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
