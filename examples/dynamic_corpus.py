"""Adding documents to a GR index without retraining, and the dynamic-corpus protocol.

On the embedded corpus (80 documents, 40 test queries; nothing is downloaded) this

1. builds a GR index on half of the documents,
2. adds the other half with DOME (``index.updater(method="dome").index(new_docs)``), which
   edits the decoder's FFN output weights in closed form, and shows that new documents are
   now retrieved while the index keeps a record of the update (``generations``),
3. runs the dynamic-corpus protocol (train on D0, add D1..Dn in turn, score old and new
   queries after each step) for DOME, incremental fine-tuning and re-indexed BM25, and prints
   the seed's summary table: new-document Hit@k (GA_n), forgetting F_n, seconds per document.

Run::

    python examples/dynamic_corpus.py --epochs 10 --steps 2

Full tables, curves (PNG) and raw scores go to ``--out``. See docs/updates.md and docs/dynamic.md.
"""
from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pandas as pd  # noqa: E402
import transformers  # noqa: E402

from pt_genret import GenIndex  # noqa: E402
from pt_genret.datasets import quickstart_dataset  # noqa: E402
from pt_genret.evaluation import run_dynamic, summary_table, write_report  # noqa: E402
from pt_genret.evaluation.report import to_markdown  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10, help="training epochs of the initial index")
    parser.add_argument("--steps", type=int, default=2, help="batches of new documents in the protocol")
    parser.add_argument("--methods", default="dome,incremental,bm25", help="update methods and baselines")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", help="output folder (default: a new temporary folder)")
    args = parser.parse_args()
    transformers.logging.set_verbosity_error()

    out = args.out or tempfile.mkdtemp(prefix="pt-genret-dynamic-")
    dataset = quickstart_dataset()
    docs = pd.DataFrame(list(dataset.get_corpus_iter()))
    topics, qrels = dataset.get_topics("test"), dataset.get_qrels("test")
    old, new = docs.iloc[: len(docs) // 2], docs.iloc[len(docs) // 2:]

    # 1-2. one update by hand: build on the old half, add the new half with DOME
    options = {"scheme": "keywords", "epochs": args.epochs, "num_pseudo_queries": 3, "seed": args.seed}
    index = GenIndex(os.path.join(out, "gr-index")).indexer(overwrite=True, verbose=True, **options).index(old)
    titles = pd.DataFrame({"qid": new["docno"].astype(str), "query": new["title"]})
    before = index.retriever(num_results=10)(titles)
    index = index.updater(method="dome", seed=args.seed).index(new)
    after = index.retriever(num_results=10)(titles)
    hit = lambda run: float((run["qid"] == run["docno"]).groupby(run["qid"]).any().reindex(titles["qid"],  # noqa: E731
                                                                                        fill_value=False).mean())
    generation = index.meta["generations"][-1]
    print(f"\nnew documents whose title retrieves them in the top 10: {hit(before):.2f} before, {hit(after):.2f} "
          f"after DOME ({generation['docs_added']} added in {generation['seconds']:.1f}s, critical layers "
          f"{generation['details']['critical_layers']})")

    # 3. the protocol: D0, then D1..Dn, every method from a copy of the same D0 index
    result = run_dynamic(docs, topics, qrels, args.methods.split(","), os.path.join(out, "work"), steps=args.steps,
                         seed=args.seed, index_options={k: v for k, v in options.items() if k != "seed"},
                         verbose=True)
    write_report(result, out)
    print("\n" + to_markdown(summary_table(result)))
    print(f"\ntables, curves and raw scores in {out}")


if __name__ == "__main__":
    main()
