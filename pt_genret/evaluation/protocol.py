"""The dynamic-corpus protocol: train on D0, add D1..Dn one batch at a time, score after each step.

For every method the protocol records, after each step ``i`` (``i = 0`` is ``D0`` alone), the mean of
each measure over the queries of group 0 (queries about initial documents) and of group ``i`` (queries
about the documents new at step ``i``; every group ``g <= i`` with ``all_groups``; see
:func:`~.split.query_groups`), judged only against documents present at step ``i``. Summary figures (:mod:`.report`) read this table:

* ``F_n  = mean_{i=1..n} (S_0(D0) - S_0(Di))`` -- forgetting of the initial documents,
* ``GA_n = mean_{i=1..n} S_i(Di)`` -- effectiveness on the documents new at each step,

where ``S_g(Di)`` is the score of group ``g`` after step ``i``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field

import ir_measures
import pandas as pd
import pyterrier as pt

from pt_genret.documents import collect_documents
from pt_genret.evaluation.split import doc_steps, mixed_queries, query_groups, split_corpus
from pt_genret.evaluation.systems import (BASELINES, DynamicSystem, GRUpdateSystem, ReindexSystem,
                                          check_methods)
from pt_genret.experiment import parse_metrics
from pt_genret.index import GenIndex

DEFAULT_MEASURES = ("Success@1", "Success@10")


@dataclass
class DynamicResult:
    """Everything one protocol run measured (tables and plots are made from it by :mod:`.report`)."""

    batches: list[list[str]]
    groups: pd.DataFrame
    excluded: list[str]
    scores: pd.DataFrame   # method, step, group, measure, value, queries
    timings: pd.DataFrame  # method, step, docs, seconds, seconds_per_doc, reported_seconds, stages (JSON)
    methods: list[str]
    docid_types: dict[str, str]
    measures: list[str]
    settings: dict = field(default_factory=dict)
    # method, step, group, measure, qid, value: what the means in ``scores`` average (for
    # confidence intervals, :mod:`.intervals`); empty for results resumed from older records
    query_scores: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def steps(self) -> int:
        return len(self.batches) - 1

    def score(self, method: str, measure: str, group: int, step: int) -> float:
        """``S_group(D_step)`` for ``method`` (NaN where the group has no queries)."""
        s = self.scores
        row = s[(s["method"] == method) & (s["measure"] == measure) & (s["group"] == group) & (s["step"] == step)]
        if len(row) != 1:
            raise KeyError(f"no score for method={method!r} measure={measure!r} group={group} step={step}")
        return float(row["value"].iloc[0])


def per_query(measures: list, qrels: pd.DataFrame, run: pd.DataFrame, qids: list[str]) -> pd.DataFrame:
    """``qids`` × measure values; a query the run has no document for scores 0."""
    names = [str(m) for m in measures]
    out = pd.DataFrame(0.0, index=pd.Index(qids, name="qid"), columns=names)
    if len(run) == 0 or len(qids) == 0:
        return out
    q = pd.DataFrame({"query_id": qrels["qid"].astype(str), "doc_id": qrels["docno"].astype(str),
                      "relevance": qrels["label"].astype(int)})
    r = pd.DataFrame({"query_id": run["qid"].astype(str), "doc_id": run["docno"].astype(str),
                      "score": run["score"].astype(float)})
    r = r[r["query_id"].isin(set(qids))]
    for m in ir_measures.iter_calc(measures, q, r):
        if m.query_id in out.index:
            out.loc[m.query_id, str(m.measure)] = float(m.value)
    return out


def score_step(run: pd.DataFrame, groups: pd.DataFrame, present: set[str], step: int, measures: list,
               which: list[int] | None = None) -> list[dict]:
    """Mean of each measure per group ``g <= step`` (or per group in ``which``), judged against the
    documents in ``present``."""
    return score_step_queries(run, groups, present, step, measures, which)[0]


def score_step_queries(run: pd.DataFrame, groups: pd.DataFrame, present: set[str], step: int, measures: list,
                       which: list[int] | None = None) -> tuple[list[dict], list[dict]]:
    """:func:`score_step`'s means, and the per-query values they average (``step, group, measure,
    qid, value``)."""
    rows, query_rows = [], []
    judged = groups[groups["docno"].isin(present)]
    for g in (range(step + 1) if which is None else which):
        qrels = judged[judged["group"] == g]
        qids = sorted(qrels[qrels["label"] > 0]["qid"].unique())
        values = per_query(measures, qrels, run, qids)
        for m in values.columns:
            rows.append({"step": step, "group": g, "measure": m,
                         "value": float(values[m].mean()) if qids else float("nan"), "queries": len(qids)})
            query_rows.extend({"step": step, "group": g, "measure": m, "qid": q, "value": float(v)}
                              for q, v in values[m].items())
    return rows, query_rows


def _d0_spec(docnos: list[str], index_options: dict, seed: int, train_qids: list[str]) -> str:
    from pt_genret.index import default_scheme

    scheme = index_options.get("scheme") or default_scheme(index_options.get("backbone", "minilm"))
    options = {**index_options, "scheme": scheme if isinstance(scheme, str) else repr(scheme)}
    blob = json.dumps({"docs": sorted(docnos), "options": options, "seed": seed, "train": sorted(train_qids)},
                      sort_keys=True, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()


def build_d0_index(path: str, docs: pd.DataFrame, index_options: dict, seed: int,
                   train_topics: pd.DataFrame | None, train_qrels: pd.DataFrame | None, verbose: bool) -> GenIndex:
    """Train the GR index on ``D0`` (reused when ``path`` holds one built from the same inputs)."""
    d0 = set(docs["docno"])
    if train_qrels is not None:
        train_qrels = train_qrels[train_qrels["docno"].astype(str).isin(d0)]
    train_qids = [] if train_qrels is None else train_qrels["qid"].astype(str).unique().tolist()
    spec = _d0_spec(docs["docno"].tolist(), index_options, seed, train_qids)
    spec_file = path + ".spec"
    index = GenIndex(path, verbose=verbose)
    if index.built() and os.path.exists(spec_file):
        with open(spec_file) as f:
            if f.read().strip() == spec:
                return index
    options = {"verbose": verbose, **index_options, "seed": seed, "overwrite": True}
    index = GenIndex(path).indexer(train_topics=train_topics, train_qrels=train_qrels, **options).index(docs)
    with open(spec_file, "w") as f:
        f.write(spec)
    return index


def _method_key(method: str, batches: list[list[str]], groups: pd.DataFrame, measures: list, settings: dict) -> str:
    """What a method's finished results depend on: a later run with the same key reuses them."""
    blob = json.dumps({"method": method, "batches": batches, "measures": [str(m) for m in measures],
                       "groups": groups.sort_values(["qid", "docno", "group"]).values.tolist(), **settings},
                      sort_keys=True, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()


def _load_done(path: str, key: str) -> dict | None:
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            done = json.load(f)
    except json.JSONDecodeError:
        return None
    return done if done.get("key") == key else None


def _save_done(path: str, record: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(record, f)
    os.replace(path + ".tmp", path)


def _num_results(measures: list) -> int:
    cutoffs = [m.params.get("cutoff") for m in measures]
    if any(c is None for c in cutoffs):
        return 1000
    return max(int(c) for c in cutoffs)


def run_dynamic(docs, topics: pd.DataFrame, qrels: pd.DataFrame, methods: list[str], work_dir: str, *,
                steps: int = 5, initial_fraction: float = 0.5, seed: int = 42, measures=DEFAULT_MEASURES,
                mixed: str = "exclude", index_options: dict | None = None,
                method_options: dict[str, dict] | None = None, retriever_options: dict | None = None,
                train_topics: pd.DataFrame | None = None, train_qrels: pd.DataFrame | None = None,
                keep_indexes: bool = False, all_groups: bool = False, resume: bool = True,
                verbose: bool = True) -> DynamicResult:
    """Run the dynamic-corpus protocol for ``methods`` (GR update methods and/or ``bm25``, ``dense``).

    Args:
        docs: the collection (frame or dicts with ``docno, text[, title]``).
        topics, qrels: evaluation queries (``qid, query``) and judgements (``qid, docno, label``).
        methods: names from ``pt_genret.updates.UPDATE_METHODS`` and :data:`~.systems.BASELINES`.
        work_dir: where the D0 GR index (reused by a later run with the same inputs) and the per-method
            indexes are written.
        steps, initial_fraction, seed: the split (:func:`~.split.split_corpus`); the seed also seeds
            training and every update.
        measures: ir_measures names; ``Success@k`` is Hit@k (R@k in the DOME tables).
        mixed: what to do with queries whose relevant documents arrive at several steps
            (:func:`~.split.query_groups`).
        index_options: :class:`~pt_genret.index.GenIndexer` arguments for the D0 index.
        method_options: per GR method, extra ``GenIndex.updater`` arguments.
        retriever_options: :class:`~pt_genret.retriever.GenRetriever` arguments.
        train_topics, train_qrels: real training queries for the D0 index (judgements of documents
            outside D0 are dropped; updates see documents only).
        keep_indexes: keep every method's final index under ``work_dir`` instead of deleting it.
        all_groups: after step ``i`` also score the groups ``1..i-1`` (how earlier new documents fare
            later); by default only group 0 and group ``i`` are scored, which is all the tables need
            and saves decoding their queries.
        resume: each method's scores and timings are saved in ``work_dir/done/`` when it finishes; a
            later run with the same split, queries, measures and options reuses them instead of running
            the method again (so an interrupted CPU run loses at most the method in progress).
    """
    methods = check_methods(list(methods))
    measures = parse_metrics(measures)
    docs = collect_documents(docs)
    method_options = dict(method_options or {})
    stray = set(method_options) - set(methods)
    if stray:
        raise ValueError(f"method_options for method(s) not run: {sorted(stray)}")
    batches = split_corpus(docs["docno"].tolist(), steps, initial_fraction, seed)
    steps_of = doc_steps(batches)
    groups = query_groups(qrels, steps_of, mixed)
    excluded = mixed_queries(qrels, steps_of) if mixed == "exclude" else []
    topics = topics.assign(qid=topics["qid"].astype(str))
    unknown = set(groups["qid"]) - set(topics["qid"])
    if unknown:
        raise ValueError(f"{len(unknown)} judged queries have no text in topics, e.g. {sorted(unknown)[:3]}")
    if not (groups["label"] > 0).any():
        raise ValueError("no query has a relevant document in the collection: nothing to score")
    by_step = {i: docs[docs["docno"].isin(set(b))].reset_index(drop=True) for i, b in enumerate(batches)}
    num_results = _num_results(measures)
    os.makedirs(work_dir, exist_ok=True)

    d0_index = None
    if any(m not in BASELINES for m in methods):
        d0_index = build_d0_index(os.path.join(work_dir, "d0.gr"), by_step[0], dict(index_options or {}), seed,
                                  train_topics, train_qrels, verbose)

    score_rows, query_rows, time_rows, docid_types = [], [], [], {}
    shared_d0_scores: tuple[list[dict], list[dict]] | None = None
    bar = pt.tqdm(total=len(methods) * (steps + 1), desc="dynamic corpus", unit="step", disable=not verbose)
    common = {"mixed": mixed, "all_groups": all_groups, "seed": seed, "retriever_options": retriever_options or {}}
    for method in methods:
        gr = method not in BASELINES
        key = _method_key(method, batches, groups, measures,
                          {**common, **({"index": d0_index.meta.get("created"), "index_options": index_options or {},
                                         "options": method_options.get(method, {})} if gr else {})})
        done_file = os.path.join(work_dir, "done", f"{method}.json")
        done = _load_done(done_file, key) if resume else None
        if done is not None:
            score_rows.extend(done["scores"])
            query_rows.extend(done.get("query_scores", []))
            time_rows.extend(done["timings"])
            docid_types[method] = done["docid_type"]
            if gr and shared_d0_scores is None and "query_scores" in done:
                shared_d0_scores = tuple([{k: v for k, v in r.items() if k != "method"} for r in done[part]
                                          if r["step"] == 0] for part in ("scores", "query_scores"))
            bar.update(steps + 1)
            continue
        first_score, first_query, first_time = len(score_rows), len(query_rows), len(time_rows)
        folder = os.path.join(work_dir, "systems", method)
        system: DynamicSystem
        if method in BASELINES:
            system = ReindexSystem(method, folder, num_results=num_results, keep=keep_indexes)
        else:
            system = GRUpdateSystem(method, d0_index.path, folder, seed=seed, options=method_options.get(method, {}),
                                    retriever_options=dict(retriever_options or {}), num_results=num_results,
                                    verbose=verbose, keep=keep_indexes)
        docid_types[method] = system.docid_type
        present: set[str] = set()
        try:
            for step in range(steps + 1):
                cost = system.start(by_step[0]) if step == 0 else system.add(by_step[step])
                present |= set(batches[step])
                time_rows.append({"method": method, "step": step, "docs": len(batches[step]),
                                  "seconds": cost.seconds, "seconds_per_doc": cost.seconds / len(batches[step]),
                                  "reported_seconds": cost.reported_seconds,
                                  "stages": json.dumps(cost.stages) if cost.stages else None})
                if step == 0 and method not in BASELINES and shared_d0_scores is not None:
                    rows, qrows = shared_d0_scores  # every GR method starts from the same D0 index
                else:
                    which = list(range(step + 1)) if all_groups else sorted({0, step})
                    qids = set(groups[groups["group"].isin(which)]["qid"])
                    run = system.retriever()(topics[topics["qid"].isin(qids)][["qid", "query"]])
                    rows, qrows = score_step_queries(run, groups, present, step, measures, which)
                    if step == 0 and method not in BASELINES:
                        shared_d0_scores = rows, qrows
                score_rows.extend({"method": method, **r} for r in rows)
                query_rows.extend({"method": method, **r} for r in qrows)
                bar.update(1)
                bar.set_postfix(method=method, step=step)
        finally:
            system.close()
        _save_done(done_file, {"key": key, "docid_type": docid_types[method], "scores": score_rows[first_score:],
                               "query_scores": query_rows[first_query:], "timings": time_rows[first_time:]})
    bar.close()
    if not keep_indexes:
        shutil.rmtree(os.path.join(work_dir, "systems"), ignore_errors=True)
    settings = {"steps": steps, "initial_fraction": initial_fraction, "seed": seed, "mixed": mixed,
                "num_docs": len(docs), "batch_sizes": [len(b) for b in batches],
                "index_options": index_options or {}, "method_options": method_options,
                "retriever_options": retriever_options or {}, "num_results": num_results, "all_groups": all_groups}
    return DynamicResult(batches=batches, groups=groups, excluded=excluded, scores=pd.DataFrame(score_rows),
                         timings=pd.DataFrame(time_rows), methods=methods, docid_types=docid_types,
                         measures=[str(m) for m in measures], settings=settings,
                         query_scores=pd.DataFrame(query_rows,
                                                   columns=["method", "step", "group", "measure", "qid", "value"]))
