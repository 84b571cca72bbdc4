"""ZeroGR: one instructed GR model trained over several corpora, evaluated on a corpus it never saw.

    python examples/zerogr.py --train ../shared/data/scifact ../shared/data/vaswani \\
        --target ../shared/data/cranfield --out runs/zerogr --base-minutes 5 --minutes 3

For each docid scheme of ``--scheme`` (default: the ZeroGR preset's keyword-sentence docids,
``generated``, and ``dense_init`` docids; ``-s SCHEME.KEY=VALUE`` sets a scheme's option), under
``OUT/<scheme>/``:

1. The ZeroGR base model is trained over the ``--train`` corpora (docnos namespaced per corpus,
   each with its default instruction, their real training queries and instructed
   pseudo-queries; ``--max-train-docs`` documents per corpus, those with relevance judgements
   first), within ``--base-minutes``.
2. ZeroGR zero-shot (``zeroshot``): the base model as it is, no training, decoding over the
   target's docids (the paper's setting: a new corpus needs only its docids).
3. ZeroGR indexes the ``--target`` corpus from its documents and instructed pseudo-queries
   alone (no real query, no qrels), training on from the base model for ``--minutes``.
4. A GR model with the same settings is trained on the target alone from scratch, for the same
   ``--minutes`` (or ``--target-only-minutes``: e.g. base plus target minutes, all the time
   ZeroGR had). ``--epochs N`` trains every model N epochs instead of to a time budget.
   ``--teacher bm25`` (``dense``, ``rrf``) adds a ranking loss over a teacher built from the
   target's documents to both of these target models' training (never to the base model's), so
   they learn the teacher's order of each pseudo-query's documents (docs/training.md);
   ``--base-teacher`` does the same for the base model, over the training corpora's documents.

``--max-target-docs`` indexes only part of a large target (its judged documents first, then a
seeded sample), for every system, the baselines too.

With ``dense_init`` docids an unseen corpus needs no docid generator: each document's docid row
starts as its own encoding, and the target's model starts from the decoder the base model
trained over the other corpora (one token per document: beam search, nothing to anneal).

Prints nDCG@10, R@100 and Success@1 of BM25, dense (MiniLM) and, per scheme and decoder
(``--decoder``; default: the preset's reverse annealing and beam search for ``generated``, beam
search for others), ZeroGR zero-shot, ZeroGR and the target-only GR model on the target's
evaluation split, then each ZeroGR row's difference from the target-only model with a paired
t-test per measure; writes
``OUT/results.csv`` (a ``name`` column and one column per metric). Indexes already built under
``--out`` with the same settings are reused; one built otherwise stops the script.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import time

import pandas as pd
import pyterrier as pt

from pt_genret.baselines import bm25_pisa, dense_retriever
from pt_genret.cli import parse_key_values
from pt_genret.datasets import load_dataset
from pt_genret.distillation import TEACHERS, named_teacher
from pt_genret.docids import get_scheme
from pt_genret.experiment import usable_docs
from pt_genret.index import GenIndex
from pt_genret.instructions import corpus_name, default_instruction
from pt_genret.metrics import parse_metrics
from pt_genret.multicorpus import Corpus, build_multi_corpus_index, index_new_corpus, multi_corpus
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


def judged_first(docs: pd.DataFrame, qrels: pd.DataFrame, max_docs: int | None, seed: int) -> pd.DataFrame:
    """``docs`` cut to ``max_docs``: the documents judged relevant in ``qrels`` first, then a seeded sample."""
    if max_docs is None or len(docs) <= max_docs:
        return docs
    judged = docs["docno"].isin(set(qrels.loc[qrels["label"] > 0, "docno"].astype(str)))
    rest = docs[~judged].sample(frac=1.0, random_state=seed)
    return pd.concat([docs[judged], rest]).head(max_docs).reset_index(drop=True)


def train_corpus(path: str, split: str | None, max_docs: int | None, seed: int) -> Corpus:
    """A training corpus: its judged documents first, then a seeded sample, ``max_docs`` in all."""
    dataset = load_dataset(path)
    split = pick_split(dataset, split, ("train", "dev", "test"))
    topics, qrels = dataset.get_topics(split), dataset.get_qrels(split)
    docs = judged_first(pd.DataFrame(list(usable_docs(dataset))), qrels, max_docs, seed)
    qrels = qrels[qrels["docno"].astype(str).isin(set(docs["docno"]))]
    return Corpus(corpus_name(path), docs, topics[["qid", "query"]], qrels)


def scheme_options(specs: list[str], schemes: list[str]) -> dict[str, dict]:
    """``["generated.min_words=10"]`` → ``{"generated": {"min_words": 10}}`` (values as JSON where
    they parse); every scheme named must be one of ``schemes``."""
    pairs: dict[str, list[str]] = {s: [] for s in schemes}
    for spec in specs:
        scheme, dot, pair = spec.partition(".")
        if not dot or "=" not in pair:
            raise ValueError(f"--scheme-option {spec!r}: expected SCHEME.KEY=VALUE, e.g. generated.min_words=10")
        if scheme not in pairs:
            raise ValueError(f"--scheme-option {spec!r}: {scheme!r} is not one of --scheme ({', '.join(schemes)})")
        pairs[scheme].append(pair)
    return {scheme: parse_key_values(given, f"{scheme} option") for scheme, given in pairs.items()}


def decoders_of(scheme: str, asked: list[str] | None) -> list[str]:
    """The decoders a scheme's GR rows are decoded with: ``asked``, else the preset's reverse annealing
    and beam search for its own docids (both reported: on Cranfield beam has the better nDCG@10 and
    R@100), beam for others."""
    if asked:
        return asked
    preset = PRESETS["ZeroGR"]
    return [preset.decoder, "beam"] if scheme == preset.scheme else ["beam"]


def docnos_key(docs: pd.DataFrame) -> str:
    """A short hash of ``docs``' docnos: names the document set the baselines were built over."""
    return hashlib.sha1("\n".join(sorted(docs["docno"].astype(str))).encode()).hexdigest()[:10]


def as_json(value):
    """``value`` as ``pt_meta.json`` holds it (tuples as lists, ...): recorded and asked options compare equal."""
    return json.loads(json.dumps(value, default=repr))


def teacher_name(meta: dict) -> str:
    """The named teacher (``bm25``, ...) an index was trained with, from its recorded repr, or ``none``."""
    recorded = (meta.get("distillation") or {}).get("teacher")
    if recorded is None:
        return "none"
    match = re.match(r"teacher\('(\w+)'", recorded)
    return match.group(1) if match else recorded


def built_now(teacher: pt.Transformer | None) -> pt.Transformer | None:
    """``teacher`` with its indexes built (a named teacher builds them on first use), so that no
    model's time budget pays for them."""
    if teacher is not None:
        teacher(pd.DataFrame([("warm", "index")], columns=["qid", "query"]))
    return teacher


def mismatches(earlier: GenIndex, wanted: dict[str, tuple]) -> str | None:
    """The first option ``earlier`` was built with otherwise than asked, as a one-line error."""
    for option, (was, asked) in wanted.items():
        if was != asked:
            return f"{earlier.path} was built with {option} {was}, not {asked}: use another --out"
    return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", nargs="+", required=True, help="BEIR folders (or irds:<id>) to train the base model on")
    p.add_argument("--target", required=True, help="the unseen corpus: a BEIR folder or irds:<id>")
    p.add_argument("--out", required=True, help="output folder (indexes, runs, results.csv)")
    p.add_argument("--base-minutes", type=float, default=10.0, help="time budget of the multi-corpus base model")
    p.add_argument("--minutes", type=float, default=10.0,
                   help="time budget of each target model (ZeroGR, target-only; default %(default)s: at 5 a CPU spends "
                        "most of it encoding a 5,000-document target's dense_init rows, docs/zerogr.md)")
    p.add_argument("--target-only-minutes", type=float,
                   help="time budget of the target-only models (default: --minutes, ZeroGR's own target budget; "
                        "--base-minutes plus --minutes gives them all the time ZeroGR had)")
    p.add_argument("--zerogr-lr", type=float,
                   help="learning rate of ZeroGR's training on the target, which fine-tunes the base model "
                        "(default: the scheme's, as for the target-only model)")
    p.add_argument("--teacher", choices=TEACHERS, default="none",
                   help="a teacher over the target's documents whose rankings of the pseudo-queries ZeroGR's and the "
                        "target-only model's training also learn (default: %(default)s)")
    p.add_argument("--base-teacher", choices=TEACHERS, default="none",
                   help="a teacher over the training corpora's documents for the base model's training "
                        "(default: %(default)s)")
    p.add_argument("--epochs", type=int,
                   help="train every model this many epochs instead of to --base-minutes/--minutes")
    p.add_argument("--max-train-docs", type=int, default=2000, help="documents per training corpus (judged first)")
    p.add_argument("--num-pseudo-queries", type=int, default=10, help="instructed pseudo-queries per document")
    p.add_argument("--train-split", help="qrels split of the training corpora (default: train, dev or test)")
    p.add_argument("--split", help="evaluation split of the target (default: test, dev or train)")
    p.add_argument("--max-queries", type=int, help="evaluate on a seeded sample of this many target queries")
    p.add_argument("--max-target-docs", type=int,
                   help="index and search only this many of the target's documents, those judged relevant for "
                        "the evaluation queries first (every system, baselines too): for large corpora on a CPU")
    p.add_argument("--hits", type=int, default=100, help="docids decoded per query")
    p.add_argument("--start-temperature", type=float, default=PRESETS["ZeroGR"].decoder_options["start_temperature"])
    p.add_argument("--end-temperature", type=float, default=PRESETS["ZeroGR"].decoder_options["end_temperature"])
    p.add_argument("--scheme", nargs="+", default=[PRESETS["ZeroGR"].scheme, "dense_init"], choices=SCHEMES.names(),
                   help="docid schemes, each with its own base, ZeroGR and target-only models (default: %(default)s)")
    p.add_argument("-s", "--scheme-option", action="extend", nargs="+", default=[], metavar="SCHEME.KEY=VALUE",
                   help="docid scheme options, e.g. generated.min_words=10 generated.max_words=12 (docs/docids.md)")
    p.add_argument("--decoder", nargs="+", choices=DECODERS.names(),
                   help=f"decoders of the GR rows, one row each (default: the preset's {PRESETS['ZeroGR'].decoder} "
                        f"and beam for its own {PRESETS['ZeroGR'].scheme} docids, beam for any other scheme)")
    p.add_argument("--backbone", default="minilm", help="minilm, t5-scratch or a HF seq2seq name/path")
    p.add_argument("--train-encoder", action="store_true",
                   help="fine-tune minilm's pretrained encoder too (by default it is frozen and the decoder trains; "
                        "other backbones train whole anyway)")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    if len(set(args.scheme)) != len(args.scheme):
        p.error(f"--scheme names a scheme twice: {args.scheme}")
    if args.decoder and len(set(args.decoder)) != len(args.decoder):
        p.error(f"--decoder names a decoder twice: {args.decoder}")
    if args.epochs is not None and args.epochs < 1:
        p.error(f"--epochs must be at least 1, got {args.epochs}")
    try:  # every scheme's options checked now, not at its build minutes later
        options = scheme_options(args.scheme_option, args.scheme)
        configs = {s: as_json(get_scheme(s, seed=args.seed, **options[s]).config()) for s in args.scheme}
    except (ValueError, TypeError) as e:
        p.error(f"--scheme-option: {e}")
    metrics = parse_metrics(METRICS)
    os.makedirs(args.out, exist_ok=True)
    started = time.time()

    target = load_dataset(args.target)
    split = pick_split(target, args.split, ("test", "dev", "train"))
    topics, qrels = target.get_topics(split), target.get_qrels(split)
    if args.max_queries and len(topics) > args.max_queries:
        topics = topics.sample(n=args.max_queries, random_state=args.seed).reset_index(drop=True)
        qrels = qrels[qrels["qid"].astype(str).isin(set(topics["qid"].astype(str)))]
    all_docs = pd.DataFrame(list(usable_docs(target)))
    target_docs = judged_first(all_docs, qrels, args.max_target_docs, args.seed)
    instruction = default_instruction(args.target)
    alone_minutes = args.minutes if args.target_only_minutes is None else args.target_only_minutes
    budgets = {"base": ("--base-minutes", args.base_minutes), "zerogr": ("--minutes", args.minutes),
               "target_only": ("--target-only-minutes", alone_minutes)}

    def budget(minutes: float) -> float | None:  # --epochs replaces the time budgets
        return None if args.epochs is not None else minutes

    def indexer_options(scheme: str) -> dict:
        """The options every model of ``scheme`` is built with (ZeroGR's may change the rate)."""
        common = dict(scheme=scheme, scheme_options=options[scheme], num_pseudo_queries=args.num_pseudo_queries,
                      seed=args.seed, backbone=args.backbone, **PRESETS["ZeroGR"].indexer_options)
        if args.epochs is not None:
            common["epochs"] = args.epochs
        if args.train_encoder:
            common["freeze_encoder"] = False
        return common

    for scheme in args.scheme:  # indexes reused from an earlier run must have been built as this one asks
        for name in ("base", "zeroshot", "zerogr", "target_only"):
            earlier = GenIndex(os.path.join(args.out, scheme, name))
            if not earlier.built():
                continue
            meta, (flag, minutes) = earlier.meta, budgets.get(name, (None, None))
            asked = earlier.indexer(**indexer_options(scheme), max_minutes=budget(minutes)).config
            wanted = {"scheme": (meta["scheme"], scheme), "--backbone": (meta["backbone"], args.backbone),
                      "--seed": (meta["train"]["seed"], args.seed),
                      "--train-encoder": (not meta["train"]["freeze_encoder"], not asked.freeze_encoder),
                      "--num-pseudo-queries": (meta["num_pseudo_queries"], args.num_pseudo_queries)}
            if name == "zeroshot":  # never trained: no rate, no budget
                wanted["epochs"] = (meta["train"]["epochs"], 0)
            else:
                lr = args.zerogr_lr if name == "zerogr" and args.zerogr_lr is not None else asked.lr
                wanted["learning rate (--zerogr-lr)" if name == "zerogr" else "learning rate"] = (meta["train"]["lr"], lr)
                wanted["--base-teacher" if name == "base" else "--teacher"] = (
                    teacher_name(meta), args.base_teacher if name == "base" else args.teacher)
                if args.epochs is None:
                    wanted[flag] = (meta["train"]["max_minutes"], minutes)
                else:  # trained N epochs, not to a time budget
                    wanted["--epochs"] = (meta["train"]["epochs"] if meta["train"]["max_minutes"] is None
                                          else f"a {meta['train']['max_minutes']:g} min budget", args.epochs)
            recorded = meta["scheme_config"]
            for key in sorted(set(recorded) | set(configs[scheme])):
                wanted[f"--scheme-option {scheme}.{key}"] = (recorded.get(key), configs[scheme].get(key))
            if name in ("zeroshot", "zerogr"):  # started from this very base model
                base = GenIndex(os.path.join(args.out, scheme, "base"))
                started_from, base_created = meta.get("init_from_created"), None
                if base.built():
                    base_created = base.meta["created"]
                    if started_from is None and meta["created"] >= base_created:  # built before pt-genret
                        started_from = base_created  # recorded it: at least it postdates the base
                wanted["a base model built at"] = (started_from, base_created or "(none: the base is gone)")
            error = mismatches(earlier, wanted)
            if error is None and name != "base" and set(earlier.table().docnos) != set(target_docs["docno"]):
                error = (f"{earlier.path} indexes other documents ({meta['num_docs']}) than the {len(target_docs)} "
                         f"asked (--target, --max-target-docs, --split, --max-queries): use another --out")
            if error:
                p.error(error)
    if any(GenIndex(os.path.join(args.out, name)).built() for name in ("base", "zerogr", "target_only")):
        print(f"note: {args.out} holds indexes in the earlier one-scheme layout (OUT/base, ...); they are not "
              f"reused: this script keeps each scheme's under OUT/<scheme>/")

    sampled = len(target_docs) < len(all_docs)  # the baselines search the same documents as the GR models
    work = os.path.join(args.out, f"baselines-{len(target_docs)}docs-{docnos_key(target_docs)}" if sampled else "baselines")
    # the teacher's indexes are the baselines' own, at their folder
    teacher = built_now(named_teacher(args.teacher, lambda: target_docs.to_dict("records"), work))
    corpora = None
    built = {}
    for scheme in args.scheme:
        common = indexer_options(scheme)
        folder = os.path.join(args.out, scheme)
        base = GenIndex(os.path.join(folder, "base"))
        if not base.built():
            if corpora is None:
                corpora = [train_corpus(d, args.train_split, args.max_train_docs, args.seed) for d in args.train]
                for c in corpora:
                    print(f"train corpus {c.name}: {len(c.docs)} documents, {len(c.topics)} queries; {c.instruction!r}")
            base_docs = lambda: multi_corpus(corpora)[0].to_dict("records")  # noqa: E731 (built on first use)
            base_teacher = built_now(named_teacher(args.base_teacher, base_docs, os.path.join(args.out, "base-teacher")))
            base = build_multi_corpus_index(base.path, corpora, max_minutes=budget(args.base_minutes),
                                            teacher=base_teacher, **common)
        zeroshot = GenIndex(os.path.join(folder, "zeroshot"))
        if not zeroshot.built():  # the base model as it is over the target's docids: ZeroGR's zero-shot setting
            zeroshot = index_new_corpus(base, zeroshot.path, target_docs, instruction, **{**common, "epochs": 0})
        zerogr = GenIndex(os.path.join(folder, "zerogr"))
        if not zerogr.built():  # the target's documents and pseudo-queries only
            tuned = common if args.zerogr_lr is None else {**common, "lr": args.zerogr_lr}
            zerogr = index_new_corpus(base, zerogr.path, target_docs, instruction, max_minutes=budget(args.minutes),
                                      teacher=teacher, **tuned)
        alone = GenIndex(os.path.join(folder, "target_only"))
        if not alone.built():
            alone = alone.indexer(instruction=instruction, max_minutes=budget(alone_minutes), teacher=teacher,
                                  **common).index(target_docs)
        built[scheme] = (zeroshot, zerogr, alone)
    print(f"indexes built in {(time.time() - started) / 60:.1f} min; target {corpus_name(args.target)}, split "
          f"{split}, {len(topics)} queries, {len(target_docs)} documents; instruction {instruction!r}")

    # (both index through check_documents, which reads a frame's NaN title as a missing one)
    bm25 = bm25_pisa(target_docs.to_dict("records"), os.path.join(work, "pisa"))
    dense = dense_retriever(target_docs.to_dict("records"), os.path.join(work, "dense.flex"))
    systems = {"BM25": bm25, "dense": dense}
    pairs = []
    for scheme, (zeroshot, zerogr, alone) in built.items():
        for decoder in decoders_of(scheme, args.decoder):
            decoding = dict(num_results=args.hits, decoder=decoder)
            if decoder == PRESETS["ZeroGR"].decoder:
                decoding["decoder_options"] = {"start_temperature": args.start_temperature,
                                               "end_temperature": args.end_temperature}
            names = {f"ZeroGR zero-shot ({scheme}, {decoder})": zeroshot, f"ZeroGR ({scheme}, {decoder})": zerogr,
                     f"target only ({scheme}, {decoder})": alone}
            for name, index in names.items():
                systems[name] = preset_retriever(index, "ZeroGR", **decoding)
            shot, tuned, single = names
            pairs += [(shot, single), (tuned, single)]
    results = {}  # each system runs once: the table and the paired tests read the same rankings
    for name, system in systems.items():
        print(f"retrieving with {name}")
        results[name] = system.transform(topics)
    table = pt.Experiment(list(results.values()), topics, qrels, metrics, names=list(results))
    table = table[["name", *[str(m) for m in metrics]]]
    table.to_csv(os.path.join(args.out, "results.csv"), index=False)
    with pd.option_context("display.width", 200, "display.float_format", "{:.3f}".format):
        print(table.to_string(index=False))
    scores = table.set_index("name")
    for zerogr_name, alone_name in pairs:  # paired t-tests over the target's queries
        test = pt.Experiment([results[zerogr_name], results[alone_name]], topics, qrels, metrics,
                             names=[zerogr_name, alone_name], baseline=1, filter_by_qrels=True).set_index("name")
        parts = [f"{m} {scores.at[zerogr_name, str(m)] - scores.at[alone_name, str(m)]:+.3f} "
                 f"(p={test.at[zerogr_name, f'{m} p-value']:.2f})" for m in metrics]
        print(f"{zerogr_name} - {alone_name}: " + ", ".join(parts))
    print(f"\nwrote {os.path.join(args.out, 'results.csv')}; {(time.time() - started) / 60:.1f} min in all")


if __name__ == "__main__":
    main()
