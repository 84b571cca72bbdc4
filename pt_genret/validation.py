"""Validation during training: constrained decoding of held-out queries, scored by ir_measures.

A budgeted build (:class:`pt_genret.training.Budget`) scores the model after every epoch and
keeps the best epoch. Without real dev queries, the held-out queries are a seeded sample of the
pseudo-queries (each relevant to the document it was cut from), left out of training so that
the score measures generalisation to unseen phrasings, not memorisation.
"""
from __future__ import annotations

import ir_measures
import numpy as np
import pandas as pd

from pt_genret import distributed
from pt_genret.backbone import Backbone
from pt_genret.constraints.trie import PrefixTrie
from pt_genret.decoding.beam import ConstrainedBeamSearch


class DecodingValidator:
    """Score a model by decoding ``queries`` under the trie: ``measure`` (an ir_measures name)
    against ``qrels`` (``qid, docno, label``, docnos given as document indices in the trie)."""

    def __init__(self, trie: PrefixTrie, queries: pd.DataFrame, qrels: pd.DataFrame, max_steps: int,
                 measure: str = "RR@10", num_beams: int = 10, batch_size: int = 32) -> None:
        if len(queries) == 0:
            raise ValueError("no validation queries")
        self.trie, self.max_steps, self.batch_size = trie, max_steps, batch_size
        self.queries = queries.assign(qid=queries["qid"].astype(str))
        self.qrels = qrels.assign(query_id=qrels["qid"].astype(str), doc_id=qrels["docno"].astype(str),
                                  relevance=qrels["label"].astype(int))[["query_id", "doc_id", "relevance"]]
        self.measure = ir_measures.parse_measure(measure)
        self.search = ConstrainedBeamSearch(num_beams=num_beams)

    def __call__(self, backbone: Backbone) -> float:
        rows = []
        qids, texts = self.queries["qid"].tolist(), self.queries["query"].astype(str).tolist()
        found = distributed.in_batches(  # shared out across processes; every process gets every result
            lambda batch: self.search.decode(backbone, self.trie, batch, self.search.num_beams, self.max_steps),
            texts, self.batch_size)
        for qid, res in zip(qids, found):
            rows.extend((qid, str(d), s) for d, s in res)
        run = pd.DataFrame(rows, columns=["query_id", "doc_id", "score"])
        if len(run) == 0:
            return 0.0
        return float(ir_measures.calc_aggregate([self.measure], self.qrels, run).get(self.measure, 0.0))


def hold_out(kinds: list[str], n: int, seed: int, share: float = 0.1) -> np.ndarray:
    """Indices of at most ``n`` pseudo-query examples (and at most ``share`` of them) to hold out."""
    candidates = np.flatnonzero(np.asarray(kinds) == "query")
    take = min(n, int(len(candidates) * share))
    if take <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.sort(np.random.default_rng([seed, 7]).choice(candidates, size=take, replace=False))


def plot_curve(curve: list[dict], path: str, title: str = "training") -> bool:
    """Loss and validation score against training time, as a PNG (``False`` without matplotlib
    or an empty curve)."""
    if not curve:
        return False
    from pt_genret.plotting import has_matplotlib, pyplot

    if not has_matplotlib():
        return False
    plt = pyplot()
    minutes = [c["seconds"] / 60 for c in curve]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(minutes, [c["loss"] for c in curve], "o-", color="tab:blue", label="training loss")
    ax.set_xlabel("training time (minutes)")
    ax.set_ylabel("loss", color="tab:blue")
    scores = [(m, c["score"]) for m, c in zip(minutes, curve) if c.get("score") is not None]
    if scores:
        other = ax.twinx()
        other.plot(*zip(*scores), "s-", color="tab:red", label="validation")
        other.set_ylabel("validation score", color="tab:red")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
