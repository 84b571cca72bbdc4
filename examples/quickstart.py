"""Quickstart in Python: the ``pt-genret quickstart`` command, written out step by step.

On the embedded corpus (80 documents, 40 test queries; nothing is downloaded) this

1. builds a generative-retrieval (GR) index in a temporary folder,
2. retrieves with it (constrained beam search writes docids),
3. re-ranks BM25's top 100 with it (``bm25 % 100 >> gr``),
4. compares BM25, dense, GR, BM25 >> GR and RRF(BM25, GR) in one ``pt.Experiment``.

Run::

    python examples/quickstart.py --epochs 10

More epochs give a better GR model (the ``pt-genret quickstart`` command uses 40).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pandas as pd  # noqa: E402
from ir_measures import RR, R, Success, nDCG  # noqa: E402
import pyterrier as pt  # noqa: E402
import transformers  # noqa: E402

from pt_genret import GenIndex, GenRetriever  # noqa: E402
from pt_genret.baselines import bm25_pisa, dense_retriever, rrf  # noqa: E402
from pt_genret.datasets import quickstart_dataset  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default: 10)")
    parser.add_argument("--scheme", default="dense_init",
                        help="docid scheme: dense_init, atomic, naive, semantic, title, keywords, ...")
    parser.add_argument("--backbone", default="minilm", help="minilm, t5-scratch, or a HF seq2seq name / path")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", help="output folder (default: a new temporary folder)")
    args = parser.parse_args()
    transformers.logging.set_verbosity_error()

    out = args.out or tempfile.mkdtemp(prefix="pt-genret-example-")
    dataset = quickstart_dataset()
    topics, qrels = dataset.get_topics("test"), dataset.get_qrels("test")
    print(f"{dataset.corpus_size()} documents, {len(topics)} queries; writing to {out}")

    # 1. index: docids -> prefix trie -> pseudo-queries -> trained seq2seq model, one artifact folder
    started = time.time()
    index = GenIndex(os.path.join(out, "gr-index")).indexer(
        scheme=args.scheme, backbone=args.backbone, epochs=args.epochs, seed=args.seed, overwrite=True,
        num_pseudo_queries=10, verbose=True,  # as `pt-genret quickstart`: 10 suffice for 80 short documents
    ).index(dataset.get_corpus_iter())
    meta = index.meta
    print(f"indexed {meta['num_docs']} documents in {time.time() - started:.0f}s "
          f"(scheme={meta['scheme']}, backbone={meta['backbone']}, examples={meta['examples']})")

    # the folder is a PyTerrier artifact: pt.Artifact.load finds GenIndex through its entry point
    index = pt.Artifact.load(index.path)

    # 2. retrieve: the model writes docids under the prefix-trie constraint
    gr = GenRetriever(index, num_results=100)
    with pd.option_context("display.max_colwidth", 60, "display.width", 160):
        print("\nGR retrieval, top 3 for the first two queries:")
        print((gr % 3)(topics.head(2))[["qid", "query", "rank", "docno", "gr_docid", "score"]].to_string(index=False))

    # 3. re-rank: each BM25 candidate is scored by log P(docid | query); no documents are added
    bm25 = bm25_pisa(dataset.get_corpus_iter(), os.path.join(out, "pisa"), num_results=1000)
    with pd.option_context("display.max_colwidth", 60, "display.width", 160):
        print("\nBM25 top 100 re-ranked by GR, top 3 for the first query:")
        reranked = ((bm25 % 100) >> gr)(topics.head(1)).sort_values(["qid", "rank"])
        print(reranked.head(3)[["qid", "rank", "docno", "gr_docid", "score"]].to_string(index=False))

    # 4. compare in one pt.Experiment; GR decodes each query once and its run feeds both the
    #    GR row and the fusion row (rrf matches documents on qid and docno, see the README)
    dense = dense_retriever(dataset.get_corpus_iter(), os.path.join(out, "dense.flex"), num_results=1000)
    gr_run = pt.Transformer.from_df(gr(topics), uniform=True)
    table = pt.Experiment(
        [bm25, dense, gr_run, (bm25 % 100) >> gr, rrf(bm25, gr_run)],
        topics, qrels,
        eval_metrics=[nDCG @ 10, R @ 100, RR @ 10, Success @ 10],
        names=["BM25", "dense", "GR", "BM25 >> GR", "RRF(BM25, GR)"],
    )
    print("\npt.Experiment on the embedded corpus:")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
