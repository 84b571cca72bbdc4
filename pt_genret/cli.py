"""The ``pt-genret`` command: quickstart, index, update, remove, search, run, evaluate, dynamic.

Every list of names in the help and choices comes from the registries (:mod:`pt_genret.registry`,
:data:`pt_genret.presets.PRESETS`), and every name and metric is checked before any work.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from pt_genret.storage.lock import IndexLockedError

DEFAULT_METRICS = "nDCG@10,R@100,RR@10,Success@10"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where there is none to show (None, False, [])."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False, []) or "default" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def metrics_arg(spec: str) -> str:
    """``--metrics``: checked when the command line is read (before any dataset is opened)."""
    from pt_genret.metrics import parse_metrics

    try:
        parse_metrics(spec)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return spec


def _quiet_logs() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.logging.set_verbosity_error()


def cmd_index(args: argparse.Namespace) -> None:
    from pt_genret.datasets import load_dataset
    from pt_genret.distillation import named_teacher
    from pt_genret.experiment import usable_docs
    from pt_genret.index import GenIndex
    from pt_genret.storage import check_target, check_writable

    protect = [args.corpus] if os.path.exists(args.corpus) else []
    check_target(args.index, args.overwrite, protect)  # before the dataset is read or anything trains
    check_writable(args.index)
    dataset = load_dataset(args.corpus)
    topics = qrels = None
    if args.train_split:
        topics, qrels = dataset.get_topics(args.train_split), dataset.get_qrels(args.train_split)
    valid_topics = valid_qrels = None
    if args.valid_split:
        valid_topics, valid_qrels = dataset.get_topics(args.valid_split), dataset.get_qrels(args.valid_split)
    started = time.time()
    teacher_dir = os.path.abspath(args.index) + ".teacher"
    teacher = named_teacher(args.teacher, lambda: usable_docs(dataset), teacher_dir)
    index = _indexer(args)(
        backbone=args.backbone, instruction=args.instruction,
        # a preset's own generator (ZeroGR: instructed) unless one is given
        **({"query_generator": args.query_generator or "extractive"} if args.query_generator or not args.preset else {}),
        num_pseudo_queries=args.num_pseudo_queries, train_topics=topics, train_qrels=qrels, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, seed=args.seed, freeze_encoder=args.freeze_encoder,
        backbone_options=parse_key_values(args.backbone_option, "backbone option"), overwrite=args.overwrite,
        max_minutes=args.time_budget if args.time_budget > 0 else None, patience=args.patience,
        validation_queries=args.validation_queries, valid_topics=valid_topics, valid_qrels=valid_qrels,
        output_head=args.output_head, teacher=teacher, teacher_k=args.teacher_k, verbose=True,
        protect=protect, wait=args.wait,
    ).index(usable_docs(dataset))
    if teacher is not None:
        import shutil

        shutil.rmtree(teacher_dir, ignore_errors=True)  # the teacher's indexes: only needed while building
    meta = index.meta
    training = meta.get("training", {})
    kept = f", kept epoch {training['best_epoch']} ({training['stopped']})" if training.get("validation") else ""
    print(f"indexed {meta['num_docs']} documents into {args.index} in {time.time() - started:.0f}s "
          f"(scheme={meta['scheme']}, backbone={meta['backbone']}, examples={meta['examples']}, "
          f"{len(meta['epoch_losses'])} epochs{kept}, final loss={meta['epoch_losses'][-1]:.3f})")


def _indexer(args: argparse.Namespace):
    """``GenIndex(...).indexer`` with ``--scheme``, or with ``--preset``'s scheme (and LTR phase)."""
    from functools import partial

    from pt_genret.index import GenIndex
    from pt_genret.presets import preset_indexer

    if args.preset:
        if args.scheme:
            raise ValueError(f"--preset {args.preset} sets the scheme: drop --scheme {args.scheme}")
        return partial(preset_indexer, args.index, args.preset)
    return partial(GenIndex(args.index).indexer, scheme=args.scheme)  # None: the indexer's default


def _option_value(raw: str):
    """An option's value from the command line: JSON where it parses (numbers, booleans, lists,
    ``null``), else the text itself."""
    import json

    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def parse_key_values(pairs: list[str], what: str = "method option") -> dict:
    """``KEY=VALUE`` pairs (method or backbone options, named ``what`` in errors) as keyword
    arguments (see :func:`_option_value`)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{what} {pair!r} is not KEY=VALUE")
        out[key.strip().replace("-", "_")] = _option_value(value)
    return out


def cmd_update(args: argparse.Namespace) -> None:
    from pt_genret.datasets import read_beir_corpus
    from pt_genret.index import GenIndex

    index = GenIndex(args.index)
    options = parse_key_values(args.option)
    started = time.time()
    index = index.updater(method=args.method, seed=args.seed, verbose=True, wait=args.wait, **options).index(
        read_beir_corpus(args.new_docs))
    g = index.meta["generations"][-1]
    print(f"generation {g['generation']} of {args.index}: added {g['docs_added']} documents with {g['method']} "
          f"in {time.time() - started:.0f}s ({g['seconds_per_added_doc']}s per document); "
          f"{index.meta['num_docs']} documents in the index")


def cmd_remove(args: argparse.Namespace) -> None:
    from pt_genret.index import GenIndex

    index = GenIndex(args.index).remove(args.docnos, wait=args.wait)
    print(f"generation {index.meta['generation']} of {args.index}: removed {len(set(args.docnos))} documents; "
          f"{index.meta['num_docs']} documents in the index")


def _retriever(args: argparse.Namespace):
    """The GenRetriever of ``search`` and ``run``; the index and the decoder options are checked here."""
    from pt_genret.index import GenIndex
    from pt_genret.retriever import GenRetriever

    index = GenIndex(args.index, device=args.device)
    index.meta  # noqa: B018 - a missing or foreign index fails now, before the topics are read
    return GenRetriever(index, num_results=args.hits, decoder=args.decoder, num_beams=args.num_beams,
                        batch_size=args.batch_size)


def cmd_search(args: argparse.Namespace) -> None:
    import pandas as pd

    res = _retriever(args)(pd.DataFrame({"qid": ["1"], "query": [args.query]}))
    with pd.option_context("display.max_colwidth", 80, "display.width", 160):
        print(res[["rank", "docno", "score", "gr_docid"]].to_string(index=False))


def cmd_run(args: argparse.Namespace) -> None:
    import pyterrier as pt

    from pt_genret.datasets import load_topics

    retriever = _retriever(args)
    topics = load_topics(args.topics, args.split)
    started = time.time()
    res = retriever(topics)
    from pt_genret import distributed

    if not distributed.is_main():  # across processes every one holds the whole run; the main one writes it
        return
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    pt.io.write_results(res, args.output, format="trec", run_name=args.run_name)
    print(f"wrote {len(res)} results for {len(topics)} queries ({res['qid'].nunique()} with results) to "
          f"{args.output} in {time.time() - started:.0f}s")


def fit_split(requested: str | None, split: str, splits: list[str]) -> str | None:
    """The split the interpolation weight is fitted on: the one asked for (``none``: the index's
    pseudo-queries), else ``train`` when the dataset has it and it is not the evaluation split
    (real training queries are the better signal: fitted on SciFact's pseudo-queries the weight was 0,
    on its train queries 0.75, nDCG@10 0.727 → 0.801 on dev), else the pseudo-queries."""
    if requested is not None:
        return None if requested.lower() == "none" else requested
    return "train" if "train" in splits and split != "train" else None


def cmd_evaluate(args: argparse.Namespace) -> None:
    import pandas as pd

    from pt_genret.datasets import load_dataset
    from pt_genret.experiment import compare, system_position

    if args.baseline:
        system_position(args.baseline)  # before any work

    dataset = load_dataset(args.dataset)
    train_split = fit_split(args.train_split, args.split, dataset.splits())
    work_dir = args.work_dir or tempfile.mkdtemp(prefix="pt-genret-baselines-")
    table = compare(args.index, dataset, work_dir, split=args.split, metrics=args.metrics, save_dir=args.save_dir,
                    train_split=train_split, fit_queries=args.fit_queries or None, baseline=args.baseline)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False))
    fit = table.attrs["interpolation"]
    on = "of the index's pseudo-queries" if fit["fitted_on"] == "pseudo-queries" else f"{fit['fitted_on']} queries"
    print(f"\nBM25 >> GR (interpolated): alpha={fit['alpha']:g} (the weight of GR), fitted on {fit['num_queries']} "
          f"{on} ({fit['metric']} {fit['best_score']:.4f} there)")


def cmd_quickstart(args: argparse.Namespace) -> None:
    import pandas as pd

    from pt_genret.datasets import quickstart_dataset
    from pt_genret.experiment import compare
    from pt_genret.index import GenIndex

    out = args.out or tempfile.mkdtemp(prefix="pt-genret-quickstart-")
    dataset = quickstart_dataset()
    print(f"quickstart: {dataset.corpus_size()} embedded documents, {len(dataset.get_topics('test'))} queries; "
          f"writing to {out}")
    index_path = os.path.join(out, "gr-index")
    index = GenIndex(index_path)
    if not index.built():
        # 10 pseudo-queries per document (not the default 20): the 80 short documents need no
        # more, and the first command stays near five minutes
        index.indexer(scheme=args.scheme, epochs=args.epochs, seed=args.seed, num_pseudo_queries=10,
                      verbose=True).index(
            dataset.get_corpus_iter())
    res = index.retriever(num_results=3)(dataset.get_topics("test").head(3))
    print("\nexample queries:")
    with pd.option_context("display.max_colwidth", 60, "display.width", 160):
        print(res[["qid", "query", "rank", "docno", "gr_docid"]].to_string(index=False))
    table = compare(index, dataset, os.path.join(out, "baselines"), split="test", metrics=args.metrics,
                    save_dir=os.path.join(out, "runs"), verbose=False)
    print("\npt.Experiment on the embedded corpus:")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False))


def non_negative_minutes(value: str) -> float:
    """``--time-budget``: minutes >= 0 (0: no budget, exactly ``--epochs``), checked while the
    command line is read."""
    try:
        minutes = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected minutes (a number), got {value!r}") from None
    if not minutes >= 0 or minutes == float("inf"):
        raise argparse.ArgumentTypeError(f"must be >= 0 minutes (0: exactly --epochs epochs), got {value}")
    return minutes


def parse_method_options(specs: list[str], methods: list[str]) -> dict[str, dict]:
    """``["dome.num_pseudo_queries=10", "lr=1e-3"]`` → per-method options; a bare key applies to every
    GR method (not ``bm25``/``dense``). Values as in :func:`_option_value`."""
    from pt_genret.evaluation.systems import BASELINES

    gr = [m for m in methods if m not in BASELINES]
    out: dict[str, dict] = {m: {} for m in gr}
    for spec in specs:
        key, sep, raw = spec.partition("=")
        if not sep or not key:
            raise ValueError(f"--option {spec!r}: expected KEY=VALUE or METHOD.KEY=VALUE")
        value = _option_value(raw)
        method, dot, name = key.partition(".")
        if dot:
            if method not in out:
                raise ValueError(f"--option {spec!r}: {method!r} is not one of the GR methods run ({', '.join(gr)})")
            out[method][name] = value
        else:
            for m in gr:
                out[m][key] = value
    return {m: o for m, o in out.items() if o}


def cmd_analyze(args: argparse.Namespace) -> None:
    from pt_genret.analysis import run_analysis

    if (args.index is None) != (args.dataset is None):
        raise SystemExit("pt-genret analyze: --index and --dataset go together (the judged queries of the dataset)")
    report = run_analysis(args.output, args.index, args.dataset, args.split, args.max_queries, args.num_beams,
                          args.trials, relevance=args.relevance, relevance_depth=args.relevance_depth,
                          relevance_temperature=args.relevance_temperature)
    print("step-wise constraints (first-step KL vs A/p):")
    for r in report["stepwise"]:
        print(f"  alpha={r['alpha']:<5g} p={r['p']:<5g} KL={r['kl']:.4f}  A={r['concentration']:.4f}  A/p={r['bound']:.4f}")
    print("beam search on sparse relevance (top-n recall, precision@1):")
    for r in report["beam"]:
        print(f"  k={r['k']:<3d} n={r['n']:<3d} irrelevant={r['irrelevant']:<6.3g} T={r['temperature']:<4g} "
              f"beams={r['beams']:<4d} recall={r['recall']:.3f}  P@1={r['precision_at_1']:.3f}")
    if "concentration" in report:
        c = report["concentration"]
        print(f"concentration on {args.index} ({c['relevance']} relevance, {c['queries']} queries): "
              f"mean A={c['mean_A']:.4g} (median {c['median_A']:.4g}), log10 p={c['log10_p']:.2f}, "
              f"log10(mean A / p)={c['log10_bound_of_mean_A']:.2f}; per query in concentration.csv")
    if "pruning" in report:
        print(f"pruning on {args.index}: {report['pruning']}")
    print(f"plots and analysis.json in {args.output}")


def cmd_dynamic(args: argparse.Namespace) -> None:
    import pandas as pd

    from pt_genret.datasets import load_dataset
    from pt_genret.evaluation import run_dynamic, subsample, summary_table, write_report
    from pt_genret.evaluation.systems import BASELINES, update_methods
    from pt_genret.experiment import usable_docs
    from pt_genret.evaluation.report import to_markdown

    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else \
        [*update_methods(), *BASELINES]
    if args.train_split and args.train_split == args.split:
        raise ValueError(f"--train-split {args.train_split!r} is the evaluation split: the queries would be trained on")
    dataset = load_dataset(args.dataset)
    docs = pd.DataFrame(list(usable_docs(dataset)))
    topics, qrels = dataset.get_topics(args.split), dataset.get_qrels(args.split)
    docs, topics, qrels = subsample(docs, topics, qrels, args.max_docs, args.max_queries, args.seed)
    train_topics = train_qrels = None
    if args.train_split:
        train_topics, train_qrels = dataset.get_topics(args.train_split), dataset.get_qrels(args.train_split)
    index_options = {"scheme": args.scheme, "backbone": args.backbone, "query_generator": args.query_generator,
                     "num_pseudo_queries": args.num_pseudo_queries, "epochs": args.epochs,
                     "batch_size": args.batch_size, "lr": args.lr, "freeze_encoder": args.freeze_encoder}
    if args.backbone_option:  # only when given, so earlier runs' saved D0 indexes stay reusable
        index_options["backbone_options"] = parse_key_values(args.backbone_option, "backbone option")
    print(f"dynamic corpus: {len(docs)} documents, {len(topics)} {args.split} queries, "
          f"methods {', '.join(methods)}; writing to {args.out}")
    started = time.time()
    result = run_dynamic(docs, topics, qrels, methods, args.work_dir or os.path.join(args.out, "work"),
                         steps=args.steps, initial_fraction=args.initial_fraction, seed=args.seed,
                         measures=args.metrics, mixed=args.mixed, index_options=index_options,
                         method_options=parse_method_options(args.option, methods),
                         train_topics=train_topics, train_qrels=train_qrels, keep_indexes=args.keep_indexes,
                         all_groups=args.all_groups, resume=args.resume, verbose=True)
    paths = write_report(result, args.out)
    print(f"\n{to_markdown(summary_table(result))}")
    print(f"done in {time.time() - started:.0f}s; tables, curves and raw scores in {args.out} "
          f"({os.path.basename(paths['report.md'])} gathers the tables)")


def _retrieval_options(p: argparse.ArgumentParser, hits: int) -> None:
    """The retriever options ``search`` and ``run`` share."""
    from pt_genret.registry import DECODERS

    p.add_argument("-k", "--hits", type=int, default=hits, help="results per query")
    p.add_argument("--decoder", choices=DECODERS.names(), default="beam",
                   help="decoder (docs/decoding.md); on an n-gram index (SEAL, MINDER) 'beam' means 'ngram'")
    p.add_argument("--num-beams", type=int, help="beam width of the beam decoders (default: --hits; 10 for ngram)")
    p.add_argument("--batch-size", type=int, default=8, help="queries decoded together")
    p.add_argument("--device", help="torch device, e.g. cpu or cuda (default: cuda when available)")


def build_parser() -> argparse.ArgumentParser:
    from pt_genret.presets import PRESETS
    from pt_genret.registry import SCHEMES, UPDATE_METHODS

    parser = argparse.ArgumentParser(prog="pt-genret", description="Generative retrieval for PyTerrier.",
                                     formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, formatter_class=HelpFormatter, **kwargs)

    q = add("quickstart", help="build a GR index on the embedded corpus and compare it with BM25 and dense")
    q.add_argument("--out", help="output folder (default: a new temporary folder)")
    q.add_argument("--scheme", choices=SCHEMES.names(), default="dense_init", help="docid scheme")
    q.add_argument("--epochs", type=int, default=15, help="training epochs")
    q.add_argument("--seed", type=int, default=42, help="random seed")
    q.add_argument("--metrics", type=metrics_arg, default=DEFAULT_METRICS, help="ir_measures names, comma-separated")
    q.set_defaults(func=cmd_quickstart)

    i = add("index", help="build a GR index from a BEIR folder or irds:<id>")
    i.add_argument("corpus", help="a BEIR folder, irds:<id> or quickstart")
    i.add_argument("index", help="the index folder to write")
    i.add_argument("--scheme", choices=SCHEMES.names(), help="docid scheme (docs/docids.md; default: dense_init "
                   "with the minilm backbone, keywords with others, or the preset's)")
    i.add_argument("--preset", choices=list(PRESETS), help="a system of the literature as settings: its scheme, "
                   "options and (LTRGR) learning-to-rank phase (docs/presets.md)")
    i.add_argument("--backbone", default="minilm", help="minilm, t5-scratch, or a HF seq2seq name / local path")
    i.add_argument("-b", "--backbone-option", action="append", default=[], metavar="KEY=VALUE",
                   help="backbone option (repeatable), e.g. decoder_ffn=6144 for minilm (docs/backbones.md)")
    i.add_argument("--query-generator", help="extractive (default; a preset's own, e.g. ZeroGR's instructed), "
                   "instructed, none, or a doc2query model")
    i.add_argument("--instruction", help="task instruction: pseudo- and training queries are trained as "
                   "instruction ⊕ query, and queries read it by default (docs/zerogr.md)")
    i.add_argument("--num-pseudo-queries", type=int, default=20, help="pseudo-queries per document (default: %(default)s)")
    i.add_argument("--train-split", help="also train on this split's queries and qrels")
    i.add_argument("--time-budget", type=non_negative_minutes, default=30.0, metavar="MIN",
                   help="train until MIN minutes of building are spent or validation stops improving, keeping "
                        "the best epoch (default: %(default)s; 0: exactly --epochs epochs)")
    i.add_argument("--epochs", type=int, default=None,
                   help="epochs (a cap under --time-budget; default: 100 with a budget, 10 without)")
    i.add_argument("--patience", type=int, default=3, help="epochs without a better validation score before "
                   "stopping (default: %(default)s)")
    i.add_argument("--validation-queries", type=int, default=200,
                   help="pseudo-queries held out and decoded after each epoch (default: %(default)s)")
    i.add_argument("--valid-split", help="validate on this split's queries and qrels (nDCG@10) instead")
    i.add_argument("--teacher", choices=["none", "bm25", "dense", "rrf"], default="none",
                   help="distil the ranking of BM25 (PISA), dense (MiniLM) or RRF of both, built over the corpus "
                        "beside the index (default: %(default)s)")
    i.add_argument("--teacher-k", type=int, default=5, help="teacher documents per training query (default: %(default)s)")
    i.add_argument("--output-head", choices=["docid", "full"], default="docid",
                   help="score only the docid tokens (docid) or the whole vocabulary (full) (default: %(default)s)")
    i.add_argument("--batch-size", type=int, default=32, help="training batch size")
    i.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: the scheme's own, 7e-5 for dense_init; else 2e-3 with a frozen "
                   "encoder, 5e-4 when the encoder trains)")
    i.add_argument("--seed", type=int, default=42, help="random seed")
    i.add_argument("--freeze-encoder", action=argparse.BooleanOptionalAction, default=None,
                   help="train only the decoder (default: yes for minilm, no otherwise)")
    i.add_argument("--overwrite", action="store_true",
                   help="replace an existing pt-genret index (or fill an empty folder) at the path; any other "
                        "folder, and the corpus, are refused")
    _wait_option(i)
    i.set_defaults(func=cmd_index)

    u = add("update", help="add documents to a GR index without rebuilding it (a new generation)")
    u.add_argument("index", help="the index folder")
    u.add_argument("new_docs", help="a BEIR corpus.jsonl file or a BEIR folder with the new documents")
    u.add_argument("--method", choices=UPDATE_METHODS.names(), default="dome", help="update method (docs/updates.md)")
    u.add_argument("--seed", type=int, default=42, help="random seed")
    u.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a method option, e.g. -o epochs=5 -o replay_ratio=2 (repeatable)")
    _wait_option(u)
    u.set_defaults(func=cmd_update)

    r = add("remove", help="stop retrieving documents (docid indexes: their docids leave the trie; "
                         "n-gram indexes: they are masked out); the model is unchanged")
    r.add_argument("index", help="the index folder")
    r.add_argument("docnos", nargs="+", help="the documents to remove")
    _wait_option(r)
    r.set_defaults(func=cmd_remove)

    s = add("search", help="retrieve for one query")
    s.add_argument("index", help="the index folder")
    s.add_argument("query", help="the query text")
    _retrieval_options(s, hits=10)
    s.set_defaults(func=cmd_search)

    rn = add("run", help="retrieve for a topics file and write a TREC run file (pt.io.read_results reads it)")
    rn.add_argument("index", help="the index folder")
    rn.add_argument("topics", help="a BEIR folder, a BEIR queries.jsonl, a TREC topics file (SGML or 'qid query' "
                    "lines) or irds:<id>")
    rn.add_argument("--output", "-o", required=True, help="the run file to write")
    rn.add_argument("--split", help="with a BEIR folder: only this split's queries (default: all)")
    rn.add_argument("--run-name", default="pt-genret", help="the run's tag (last column)")
    _retrieval_options(rn, hits=100)
    rn.set_defaults(func=cmd_run)

    e = add("evaluate", help="BM25, dense, GR, BM25 >> GR, BM25 >> GR (interpolated), RRF(BM25, GR) "
                             "and RRF(BM25, dense) in one pt.Experiment")
    e.add_argument("index", help="the index folder")
    e.add_argument("dataset", help="a BEIR folder, irds:<id> or quickstart")
    e.add_argument("--split", default="test", help="evaluation queries")
    e.add_argument("--train-split", help="fit the interpolation weight on this split's queries and qrels; none: on "
                                         "the index's pseudo-queries (default: train when the dataset has it and "
                                         "it is not --split, else the pseudo-queries)")
    e.add_argument("--fit-queries", type=int, default=200,
                   help="at most this many queries to fit the interpolation weight on (0: all)")
    e.add_argument("--metrics", type=metrics_arg, default=DEFAULT_METRICS, help="ir_measures names, comma-separated")
    e.add_argument("--baseline", help="significance tests against this system (pt.Experiment's baseline): bm25, "
                   "dense, gr, bm25_rerank_gr, bm25_interp_gr, rrf_bm25_gr, rrf_bm25_dense or a display name")
    e.add_argument("--save-dir", help="write runs and results.csv here")
    e.add_argument("--work-dir", help="where baseline indexes are built and reused (default: temporary)")
    e.set_defaults(func=cmd_evaluate)

    d = add("dynamic", help="dynamic-corpus protocol: train on D0, add D1..Dn per update method, F_n / GA_n")
    d.add_argument("dataset", help="a BEIR folder, irds:<id> or quickstart")
    d.add_argument("--methods", help="comma-separated GR update methods and baselines (bm25, dense); default: all")
    d.add_argument("--steps", type=int, default=5, help="number of new-document batches D1..Dn")
    d.add_argument("--initial-fraction", type=float, default=0.5, help="share of the documents in D0")
    d.add_argument("--out", required=True, help="output folder for tables (CSV, Markdown), curves (PNG), scores")
    d.add_argument("--work-dir", help="indexes (default: OUT/work; the D0 GR index there is reused)")
    d.add_argument("--split", default="test", help="evaluation queries")
    d.add_argument("--train-split", help="real training queries for the D0 GR index")
    d.add_argument("--metrics", type=metrics_arg, default="Success@1,Success@10", help="ir_measures names")
    d.add_argument("--mixed", choices=["exclude", "split"], default="exclude",
                   help="queries with relevant documents in several batches: leave out, or score per batch")
    d.add_argument("--max-docs", type=int, help="subsample: judged documents of sampled queries plus random others")
    d.add_argument("--max-queries", type=int, help="subsample the evaluation queries")
    d.add_argument("--scheme", choices=SCHEMES.names(), default="keywords", help="docid scheme of the D0 index")
    d.add_argument("--backbone", default="minilm", help="minilm, t5-scratch, or a HF seq2seq name / local path")
    d.add_argument("-b", "--backbone-option", action="append", default=[], metavar="KEY=VALUE",
                   help="backbone option (repeatable), e.g. decoder_ffn=6144 for minilm (docs/backbones.md)")
    d.add_argument("--query-generator", default="extractive", help="extractive, none, or a doc2query model")
    d.add_argument("--num-pseudo-queries", type=int, default=5, help="pseudo-queries per document")
    d.add_argument("--epochs", type=int, default=10, help="training epochs of the D0 index")
    d.add_argument("--batch-size", type=int, default=32, help="training batch size")
    d.add_argument("--lr", type=float, default=5e-4, help="learning rate")
    d.add_argument("--freeze-encoder", action=argparse.BooleanOptionalAction, default=None,
                   help="train only the decoder (default: yes for minilm, no otherwise)")
    d.add_argument("-o", "--option", action="append", default=[], metavar="[METHOD.]KEY=VALUE",
                   help="extra updater argument (repeatable); without METHOD. it applies to every GR method")
    d.add_argument("--keep-indexes", action="store_true", help="keep every method's final index under the work dir")
    d.add_argument("--no-resume", dest="resume", action="store_false",
                   help="run every method again instead of reusing results saved in the work dir by a run with "
                        "the same settings")
    d.add_argument("--all-groups", action="store_true",
                   help="after step i also score the queries of D1..D(i-1) (scores.csv); slower")
    d.add_argument("--seed", type=int, default=42, help="random seed")
    d.set_defaults(func=cmd_dynamic)
    a = add("analyze", help="the seed's analysis of constrained decoding (PNG plots; docs/analysis.md)")
    a.add_argument("--output", "-O", default="analysis", help="folder for the plots and analysis.json")
    a.add_argument("--index", help="also measure where beam search prunes relevant docids on this index")
    a.add_argument("--dataset", help="the dataset whose judged queries --index is measured on")
    a.add_argument("--split", default="test", help="dataset split")
    a.add_argument("--max-queries", type=int, default=50, help="judged queries measured on --index")
    a.add_argument("--num-beams", type=int, default=10, help="beam width measured on --index")
    a.add_argument("--trials", type=int, default=100, help="synthetic distributions per setting")
    a.add_argument("--relevance", choices=["bm25", "qrels"], default="bm25",
                   help="relevance distribution for A on --index: BM25 softmax over its top documents, or the qrels")
    a.add_argument("--relevance-depth", type=int, default=100, help="BM25 documents per query in the distribution")
    a.add_argument("--relevance-temperature", type=float, default=1.0, help="softmax temperature on BM25 scores")
    a.set_defaults(func=cmd_analyze)
    return parser


def _wait_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", nargs="?", type=float, const=True, default=False, metavar="SECONDS",
                        help="when another writer holds the index's write.lock, wait for it (at most SECONDS) "
                             "instead of failing at once")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_logs()
    try:
        args.func(args)
    except (ValueError, OSError, KeyError, IndexLockedError) as e:  # OSError: permissions, a full disk
        message = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
        print(f"pt-genret {args.command}: error: {message.splitlines()[0] if message else type(e).__name__}",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
