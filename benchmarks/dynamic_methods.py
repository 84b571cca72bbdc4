"""GR update methods and re-indexed baselines side by side on a dynamic corpus, in one run on one machine.

For each method: R@1 and R@10 on the documents new at each step (GA_n of Hit@1 and Hit@10), forgetting
F_n of the initial documents, and seconds per added document -- the columns of the DOME results table.
Full tables, curves and raw scores go to OUT (see docs/dynamic.md).

    python benchmarks/dynamic_methods.py [DATASET] [--out OUT] [--max-docs 600] [--epochs 3] ...

The defaults are CPU-sized: SciFact's train queries (GR sees only pseudo-queries), their judged documents plus random others up to
``--max-docs``, the MiniLM backbone (frozen encoder) for 3 epochs, 5 steps of new documents.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dataset", nargs="?", default=os.path.join("..", "shared", "data", "scifact"))
    p.add_argument("--out", default="runs/dynamic-methods")
    p.add_argument("--work-dir", help="where the D0 index is built (default OUT/work); a later run with the same "
                                      "collection, split and index settings reuses it")
    p.add_argument("--methods", help="comma-separated; default: every GR update method, then bm25 and dense")
    p.add_argument("--split", default="train", help="evaluation queries (the shared SciFact copy has train only)")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--initial-fraction", type=float, default=0.5)
    p.add_argument("--max-docs", type=int, default=600)
    p.add_argument("--max-queries", type=int)
    p.add_argument("--scheme", default="keywords")
    p.add_argument("--backbone", default="minilm")
    p.add_argument("--backbone-option", action="append", default=[], metavar="KEY=VALUE",
                   help="backbone options of the D0 index (e.g. decoder_ffn=6144 for minilm)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--num-pseudo-queries", type=int, default=3)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("-o", "--option", action="append", default=[], metavar="[METHOD.]KEY=VALUE",
                   help="update-method options, as for pt-genret dynamic (e.g. dome.preservation=0.5)")
    args = p.parse_args(argv)

    import pandas as pd
    import torch
    import transformers

    from pt_genret.cli import parse_key_values, parse_method_options
    from pt_genret.datasets import load_dataset
    from pt_genret.evaluation import (forgetting_interval, generalization_difference, run_dynamic, subsample,
                                      summary_table, write_report)
    from pt_genret.evaluation.intervals import verdict
    from pt_genret.evaluation.report import to_markdown
    from pt_genret.evaluation.systems import BASELINES, update_methods
    from pt_genret.experiment import usable_docs

    transformers.logging.set_verbosity_error()
    methods = args.methods.split(",") if args.methods else [*update_methods(), *BASELINES]
    dataset = load_dataset(args.dataset)
    docs = pd.DataFrame(list(usable_docs(dataset)))
    docs, topics, qrels = subsample(docs, dataset.get_topics(args.split), dataset.get_qrels(args.split),
                                    args.max_docs, args.max_queries, args.seed)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    print(f"{args.dataset}: {len(docs)} documents, {len(topics)} {args.split} queries; methods {', '.join(methods)}; "
          f"{device}, torch {torch.__version__}, {platform.platform()}", flush=True)
    index_options = {"scheme": args.scheme, "backbone": args.backbone, "epochs": args.epochs,
                     "num_pseudo_queries": args.num_pseudo_queries}
    if args.backbone_option:
        index_options["backbone_options"] = parse_key_values(args.backbone_option, "backbone option")
    started = time.time()
    result = run_dynamic(docs, topics, qrels, methods, args.work_dir or os.path.join(args.out, "work"), steps=args.steps,
                         initial_fraction=args.initial_fraction, seed=args.seed,
                         index_options=index_options,
                         method_options=parse_method_options(args.option, methods), verbose=True)
    write_report(result, args.out)
    s = summary_table(result)
    table = pd.DataFrame({
        "Method": s["Method"],
        "R@1 new": s["Hit@1 new"], "R@10 new": s["Hit@10 new"],
        "R@10 new ±": s["Hit@10 new ±"], "F_n (R@10)": s["F_n Hit@10"], "F_n (R@10) ±": s["F_n Hit@10 ±"],
        "F_n (R@1)": s["F_n Hit@1"],
        "s/doc added": s["s/doc added"],
        "D0 R@10": [result.score(m, "Success@10", 0, 0) for m in result.methods],
    })
    if "incremental" in result.methods:
        ref = table[table["Method"] == "Incremental"].iloc[0]
        table["time ÷ incremental"] = (table["s/doc added"] / ref["s/doc added"]).round(2)
        table["R@10 new ÷ incremental"] = (table["R@10 new"] / ref["R@10 new"]).round(2)
    print("\n" + to_markdown(table))
    if {"dome", "incremental"} <= set(result.methods):
        # the two quality targets are judged with 95% intervals over queries: at a few dozen queries
        # per figure, one query moves F_n by 0.01-0.02
        dome = table[table["Method"] == "DOME"].iloc[0]
        forget = forgetting_interval(result, "dome")
        gap = generalization_difference(result, "dome", "incremental")
        ratio = dome["s/doc added"] / ref["s/doc added"]
        print("DOME targets (95% intervals over queries):")
        print(f"  F_n (R@10) <= 0.01: {forget}: {verdict(forget, 0.01, at_most=True)}")
        print(f"  R@10 new >= incremental: {dome['R@10 new']:.3f} vs {ref['R@10 new']:.3f}, "
              f"difference {gap}: {verdict(gap, 0.0, at_most=False)}")
        print(f"  s/doc <= half of incremental: ratio {ratio:.2f}: {'met' if ratio <= 0.5 else 'NOT met'}")
    print(f"batches {result.settings['batch_sizes']}; {len(result.excluded)} mixed queries left out; "
          f"total {time.time() - started:.0f}s; tables and curves in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
