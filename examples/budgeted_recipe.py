"""The training recipe end to end: a time-budgeted build (docid head, held-out validation, best
epoch kept), optionally distilled from a teacher, then the standard comparison with the learned
BM25/GR interpolation and both fusions.

    python examples/budgeted_recipe.py quickstart --minutes 2
    python examples/budgeted_recipe.py ../shared/data/cranfield --minutes 30 --teacher rrf --out runs/recipe

Prints the training curve (epoch, minutes, loss, validation score) and the ``pt.Experiment``
table; writes the index, runs and ``results.csv`` under ``--out``.
"""
from __future__ import annotations

import argparse
import os
import tempfile

import pandas as pd

from pt_genret.datasets import load_dataset
from pt_genret.distillation import TEACHERS, named_teacher
from pt_genret.experiment import compare, usable_docs
from pt_genret.index import GenIndex


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dataset", help="quickstart, a BEIR folder or irds:<id>")
    p.add_argument("--minutes", type=float, default=30.0, help="the build's time budget")
    p.add_argument("--teacher", choices=TEACHERS, default="none")
    p.add_argument("--num-pseudo-queries", type=int, default=10)
    p.add_argument("--split", default="test")
    p.add_argument("--train-split", help="real training queries (e.g. train)")
    p.add_argument("--out", help="output folder (default: temporary)")
    args = p.parse_args()

    out = args.out or tempfile.mkdtemp(prefix="pt-genret-recipe-")
    dataset = load_dataset(args.dataset)
    train = {}
    if args.train_split:
        train = {"train_topics": dataset.get_topics(args.train_split), "train_qrels": dataset.get_qrels(args.train_split)}
    index = GenIndex(os.path.join(out, "index"))
    if not index.built():
        teacher = named_teacher(args.teacher, lambda: usable_docs(dataset), os.path.join(out, "teacher"))
        index = index.indexer(max_minutes=args.minutes, num_pseudo_queries=args.num_pseudo_queries,
                              teacher=teacher, **train).index(usable_docs(dataset))
    training = index.meta["training"]
    curve = pd.DataFrame(training["curve"])[["epoch", "seconds", "loss", "score", "lr"]]
    curve["seconds"] = (curve["seconds"] / 60).round(1)
    print(curve.rename(columns={"seconds": "minutes", "score": "validation"}).to_string(index=False))
    print(f"kept epoch {training['best_epoch']} ({training['stopped']}); validated on {training['validation']}; "
          f"curve plotted in {os.path.join(index.path, 'training_curve.png')}\n")
    table = compare(index, dataset, os.path.join(out, "baselines"), split=args.split,
                    save_dir=os.path.join(out, "runs"))
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False))
    print(f"\ninterpolation weight of GR: {table.attrs['interpolation']['alpha']} "
          f"(fitted on {table.attrs['interpolation']['fitted_on']})")


if __name__ == "__main__":
    main()
