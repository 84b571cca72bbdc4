"""Beam search over an n-gram index, and SEAL's aggregation of generated n-grams into document scores.

Decoding: for each view (one for SEAL, three for MINDER) a batch of queries is decoded with
``num_beams`` beams for up to ``max_length`` tokens. A beam's state is the suffix-array
interval of the n-gram it has written, so its allowed next tokens, their own intervals and
their corpus frequencies come from one :meth:`NgramIndex.children` call. With several views
the view's marker token is fed first (and its probability left out: scores are
``log P(n | q, view)``). Every n-gram a beam holds at any step is kept as a generated n-gram.

Aggregation (SEAL, Bevilacqua et al., 2022): an n-gram ``n`` with conditional probability
``P(n|q)`` and corpus frequency ``P(n) = F(n) / |corpus|`` weighs

    w(n) = max(0, log [P(n|q) (1 - P(n))] / [P(n) (1 - P(n|q))])

and a document scores the sum of the weights of the generated n-grams it contains, counting
only the heaviest of n-grams that extend one another (one beam's successive prefixes), so
the same evidence is not counted once per prefix. The contributing n-grams come back with
each document.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from pt_genret.backbone import Backbone
from pt_genret.decoding.model_calls import IncrementalDecoder, encode
from pt_genret.ngram_views import NgramView


@dataclass
class GeneratedNgram:
    view: int
    tokens: tuple[int, ...]
    logprob: float
    lo: int
    hi: int


@dataclass
class NgramBeamSearch:
    """Constrained beam search over the views of an n-gram index, then SEAL aggregation."""

    num_beams: int = 10
    max_length: int = 10
    max_query_length: int = 64
    name: str = "ngram"
    constraint: str = field(default="ngrams", repr=False)

    def generate(self, backbone: Backbone, views: list[NgramView], queries: list[str]) -> list[list[GeneratedNgram]]:
        """Every n-gram held by a beam at any step, per query, over all views."""
        out: list[list[GeneratedNgram]] = [[] for _ in queries]
        hidden, mask = encode(backbone, queries, self.max_query_length)
        for v, view in enumerate(views):
            for q, found in enumerate(self._search(backbone, view, hidden, mask)):
                out[q].extend(GeneratedNgram(v, *g) for g in found)
        return out

    def _search(self, backbone: Backbone, view: NgramView, hidden: torch.Tensor, mask: torch.Tensor):
        beams, nq, index = max(self.num_beams, 1), hidden.shape[0], view.index
        rows = nq * beams
        decoder = IncrementalDecoder(backbone, hidden.repeat_interleave(beams, 0), mask.repeat_interleave(beams, 0))
        step = torch.full((rows,), backbone.decoder_start_token_id, dtype=torch.long)
        if view.marker is not None:
            decoder.step(step)
            step = torch.full((rows,), view.marker, dtype=torch.long)
        alive = np.zeros(rows, dtype=bool)
        alive[::beams] = True
        lo = np.zeros(rows, dtype=np.int64)
        hi = np.full(rows, len(index.suffixes), dtype=np.int64)
        score = np.zeros(rows, dtype=np.float64)
        prefix: list[tuple[int, ...]] = [()] * rows
        found: list[list[tuple]] = [[] for _ in range(nq)]
        root = None
        for depth in range(self.max_length):
            if not alive.any():
                break
            logp = torch.log_softmax(decoder.step(step), dim=-1).cpu().numpy()
            new = dict(alive=np.zeros(rows, dtype=bool), lo=np.zeros(rows, dtype=np.int64),
                       hi=np.zeros(rows, dtype=np.int64), score=np.zeros(rows), source=np.arange(rows),
                       token=np.full(rows, backbone.pad_token_id, dtype=np.int64))
            new_prefix = list(prefix)
            for q in range(nq):
                cands = []
                for r in range(q * beams, (q + 1) * beams):
                    if not alive[r]:
                        continue
                    if depth == 0:
                        root = root or index.children(0, len(index.suffixes), 0)
                        toks, starts, counts = root
                    else:
                        toks, starts, counts = index.children(lo[r], hi[r], depth)
                    if len(toks):
                        cands.append((np.full(len(toks), r), toks, starts, counts, score[r] + logp[r, toks]))
                if not cands:
                    continue
                r_, t_, s_, c_, sc_ = (np.concatenate(x) for x in zip(*cands))
                best = np.argsort(-sc_, kind="stable")[:beams]
                for k, j in enumerate(best):
                    row = q * beams + k
                    new["alive"][row], new["lo"][row], new["hi"][row] = True, s_[j], s_[j] + c_[j]
                    new["score"][row], new["source"][row], new["token"][row] = sc_[j], r_[j], t_[j]
                    new_prefix[row] = prefix[r_[j]] + (int(t_[j]),)
                    found[q].append((new_prefix[row], float(sc_[j]), int(s_[j]), int(s_[j] + c_[j])))
            alive, lo, hi, score, prefix = new["alive"], new["lo"], new["hi"], new["score"], new_prefix
            decoder.reorder(torch.from_numpy(new["source"]))
            step = torch.from_numpy(new["token"])
        return found

    def decode(self, backbone: Backbone, views: list[NgramView], queries: list[str], num_results: int,
               max_steps: int | None = None) -> list[list[tuple[int, float, list[GeneratedNgram]]]]:
        """For each query, ``(document index, score, contributing n-grams)``, best first."""
        return [aggregate(g, views)[:num_results] for g in self.generate(backbone, views, queries)]


def ngram_weight(logprob: float, count: int, num_tokens: int) -> float:
    """SEAL's weight of an n-gram from its conditional log-probability and corpus count."""
    p_q = min(max(np.exp(logprob), 1e-12), 1 - 1e-6)
    p_c = min(max(count / max(num_tokens, 1), 1e-12), 1 - 1e-6)
    return max(0.0, float(np.log(p_q) + np.log1p(-p_c) - np.log(p_c) - np.log1p(-p_q)))


def _related(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def aggregate(generated: list[GeneratedNgram], views: list[NgramView]) -> list[tuple[int, float, list[GeneratedNgram]]]:
    """Document scores from generated n-grams (see the module docstring), best first."""
    num_tokens = [v.index.num_tokens for v in views]
    weighted = [(ngram_weight(g.logprob, g.hi - g.lo, num_tokens[g.view]), g) for g in generated]
    weighted = sorted((x for x in weighted if x[0] > 0), key=lambda x: -x[0])
    scores: dict[int, float] = {}
    used: dict[int, list[GeneratedNgram]] = {}
    for w, g in weighted:
        for doc in views[g.view].index.documents_in(g.lo, g.hi).tolist():
            mine = used.setdefault(doc, [])
            if any(u.view == g.view and _related(u.tokens, g.tokens) for u in mine):
                continue
            mine.append(g)
            scores[doc] = scores.get(doc, 0.0) + w
    return sorted(((d, s, used[d]) for d, s in scores.items()), key=lambda x: (-x[1], x[0]))
