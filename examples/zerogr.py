"""ZeroGR: one instructed GR model trained over several corpora, evaluated on a corpus it never saw.

    python examples/zerogr.py --train ../shared/data/scifact ../shared/data/vaswani \\
        --target ../shared/data/cranfield --out runs/zerogr --base-minutes 6 --minutes 3

1. The ZeroGR base model is trained over the ``--train`` corpora (docnos namespaced per corpus,
   each with its default instruction, their real training queries and instructed
   pseudo-queries; ``--max-train-docs`` documents per corpus, those with relevance judgements
   first), within ``--base-minutes``.
2. ZeroGR indexes the ``--target`` corpus from its documents and instructed pseudo-queries
   alone (no real query, no qrels), training on from the base model for ``--minutes``.
3. A GR model with the same settings is trained on the target alone from scratch, for the same
   ``--minutes``.

``--scheme`` and ``--decoder`` swap the preset's keyword-sentence docids and reverse-annealed
decoding for another scheme and decoder in all three models, e.g. ``--scheme dense_init --decoder
beam``: atomic docids whose rows start as the documents' encodings, so the target's model starts
from the base model's trained decoder with rows computed from the target's documents alone.

Prints nDCG@10, R@100 and Success@1 of BM25, dense (MiniLM), ZeroGR and the target-only GR
model on the target's evaluation split, and writes ``OUT/results.csv`` (a ``name`` column and
one column per metric). Indexes already built under ``--out`` are reused.
"""
from __future__ import annotations

import argparse
import os
import time

import pandas as pd
import pyterrier as pt

from pt_genret.datasets import load_dataset
from pt_genret.experiment import baselines, usable_docs
from pt_genret.index import GenIndex
from pt_genret.instructions import corpus_name, default_instruction
from pt_genret.metrics import parse_metrics
from pt_genret.multicorpus import Corpus, build_multi_corpus_index, index_new_corpus
from pt_genret.presets import PRESETS, preset_retriever
from pt_genret.registry import DECODERS, SCHEMES

METRICS = ("nDCG@10", "R@100", "Success@1")


def pick_split(dataset, wanted: str | None, prefer: tuple[str, ...]) -> str:
    """``wanted`` if given, else the first of ``prefer`` the dataset has, else its first split."""
    splits = dataset.splits()
    if wanted:
        return wanted
    for split in prefer:
        if split in splits:
            return split
    if not splits:
        raise ValueError(f"dataset {dataset.name!r} has no qrels: nothing to train or evaluate on")
    return splits[0]


def train_corpus(path: str, split: str | None, max_docs: int | None, seed: int) -> Corpus:
    """A training corpus: its judged documents first, then a seeded sample, ``max_docs`` in all."""
    dataset = load_dataset(path)
    split = pick_split(dataset, split, ("train", "dev", "test"))
    topics, qrels = dataset.get_topics(split), dataset.get_qrels(split)
    docs = pd.DataFrame(list(usable_docs(dataset)))
    if max_docs is not None and len(docs) > max_docs:
        judged = docs["docno"].isin(set(qrels.loc[qrels["label"] > 0, "docno"].astype(str)))
        rest = docs[~judged].sample(frac=1.0, random_state=seed)
        docs = pd.concat([docs[judged], rest]).head(max_docs).reset_index(drop=True)
        qrels = qrels[qrels["docno"].astype(str).isin(set(docs["docno"]))]
    return Corpus(corpus_name(path), docs, topics[["qid", "query"]], qrels)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", nargs="+", required=True, help="BEIR folders (or irds:<id>) to train the base model on")
    p.add_argument("--target", required=True, help="the unseen corpus: a BEIR folder or irds:<id>")
    p.add_argument("--out", required=True, help="output folder (indexes, runs, results.csv)")
    p.add_argument("--base-minutes", type=float, default=10.0, help="time budget of the multi-corpus base model")
    p.add_argument("--minutes", type=float, default=5.0, help="time budget of each target model (ZeroGR, target-only)")
    p.add_argument("--max-train-docs", type=int, default=2000, help="documents per training corpus (judged first)")
    p.add_argument("--num-pseudo-queries", type=int, default=10, help="instructed pseudo-queries per document")
    p.add_argument("--train-split", help="qrels split of the training corpora (default: train, dev or test)")
    p.add_argument("--split", help="evaluation split of the target (default: test, dev or train)")
    p.add_argument("--max-queries", type=int, help="evaluate on a seeded sample of this many target queries")
    p.add_argument("--hits", type=int, default=100, help="docids decoded per query")
    p.add_argument("--start-temperature", type=float, default=PRESETS["ZeroGR"].decoder_options["start_temperature"])
    p.add_argument("--end-temperature", type=float, default=PRESETS["ZeroGR"].decoder_options["end_temperature"])
    p.add_argument("--scheme", default=PRESETS["ZeroGR"].scheme, choices=SCHEMES.names(),
                   help="docid scheme of the three models (default: the ZeroGR preset's, %(default)s)")
    p.add_argument("--decoder", default=PRESETS["ZeroGR"].decoder, choices=DECODERS.names(),
                   help="decoder of the GR rows (default: the ZeroGR preset's, %(default)s; beam for atomic docids)")
    p.add_argument("--backbone", default="minilm", help="minilm, t5-scratch or a HF seq2seq name/path")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    metrics = parse_metrics(METRICS)
    os.makedirs(args.out, exist_ok=True)
    started = time.time()

    target = load_dataset(args.target)
    split = pick_split(target, args.split, ("test", "dev", "train"))
    topics, qrels = target.get_topics(split), target.get_qrels(split)
    if args.max_queries and len(topics) > args.max_queries:
        topics = topics.sample(n=args.max_queries, random_state=args.seed).reset_index(drop=True)
    instruction = default_instruction(args.target)
    common = dict(scheme=args.scheme, num_pseudo_queries=args.num_pseudo_queries, seed=args.seed,
                  backbone=args.backbone, **PRESETS["ZeroGR"].indexer_options)

    for name in ("base", "zerogr", "target_only"):  # indexes reused from an earlier run must match --scheme
        earlier = GenIndex(os.path.join(args.out, name))
        if earlier.built() and earlier.meta["scheme"] != args.scheme:
            p.error(f"{earlier.path} was built with scheme {earlier.meta['scheme']!r}, not --scheme {args.scheme!r}: "
                    "use another --out")
    base = GenIndex(os.path.join(args.out, "base"))
    if not base.built():
        corpora = [train_corpus(d, args.train_split, args.max_train_docs, args.seed) for d in args.train]
        for c in corpora:
            print(f"train corpus {c.name}: {len(c.docs)} documents, {len(c.topics)} queries; {c.instruction!r}")
        base = build_multi_corpus_index(base.path, corpora, max_minutes=args.base_minutes, **common)
    zerogr = GenIndex(os.path.join(args.out, "zerogr"))
    if not zerogr.built():  # the target's documents and pseudo-queries only
        zerogr = index_new_corpus(base, zerogr.path, usable_docs(target), instruction, max_minutes=args.minutes,
                                  **common)
    alone = GenIndex(os.path.join(args.out, "target_only"))
    if not alone.built():
        alone = alone.indexer(instruction=instruction, max_minutes=args.minutes, **common).index(usable_docs(target))
    print(f"indexes built in {(time.time() - started) / 60:.1f} min; target {corpus_name(args.target)}, split "
          f"{split}, {len(topics)} queries; instruction {instruction!r}")

    bm25, dense = baselines(target, os.path.join(args.out, "baselines"))
    schedule = {"start_temperature": args.start_temperature, "end_temperature": args.end_temperature}
    decoding = dict(num_results=args.hits, decoder=args.decoder)
    if args.decoder == PRESETS["ZeroGR"].decoder:
        decoding["decoder_options"] = schedule
    systems = {"BM25": bm25, "dense": dense,
               "ZeroGR": preset_retriever(zerogr, "ZeroGR", **decoding),
               "GR (target only)": preset_retriever(alone, "ZeroGR", **decoding)}
    table = pt.Experiment(list(systems.values()), topics, qrels, metrics, names=list(systems))
    table = table[["name", *[str(m) for m in metrics]]]
    table.to_csv(os.path.join(args.out, "results.csv"), index=False)
    with pd.option_context("display.width", 200, "display.float_format", "{:.3f}".format):
        print(table.to_string(index=False))
    print(f"\nwrote {os.path.join(args.out, 'results.csv')}; {(time.time() - started) / 60:.1f} min in all")


if __name__ == "__main__":
    main()
