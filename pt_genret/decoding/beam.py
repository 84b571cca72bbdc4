"""Constrained beam search over a prefix trie, a batch of queries at once.

Each beam carries one trie node; at every step the model's log-probabilities are read only
at the node's live children (the trie's allowed edges, never a vocabulary-wide mask), the best ``2 × beams`` expansions per query are taken, those that
complete a docid (reach a terminal node) are set aside as results and the rest continue. A
completed docid is never extended, and each trie path is reached by one beam at most, so a
query never gets the same document twice. Beams whose node has no live children cannot arise
(counts are kept per node), and a query whose beams all end simply stops.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from pt_genret.backbone import Backbone
from pt_genret.constraints.trie import DEAD, ROOT, PrefixTrie
from pt_genret.decoding.model_calls import IncrementalDecoder, encode
from pt_genret.decoding.transforms import StepTransform, Temperature, apply_transforms
from pt_genret.docid_head import compact_logits


@dataclass
class ConstrainedBeamSearch:
    """Top-``num_results`` docids by beam search; ``num_beams`` defaults to ``num_results``.

    ``step_transforms`` change each step's logits before normalisation, in order (e.g.
    ``(Temperature(0.5),)``; none: the model's distribution); ``temperature`` is shorthand for a
    final :class:`~pt_genret.decoding.transforms.Temperature`.

    ``max_rows`` caps the decoder rows (queries × beams) of one forward pass: a larger batch is
    decoded in groups of queries under the cap. On a CPU a wide batch is slower per query, not
    faster (at 100 beams, 0.71 queries/s at batch 4 and 16 against 1.45 at batch 1): its
    key/value cache outgrows the CPU caches, and every query keeps its rows until the slowest
    one stops. Default: 128 rows on a CPU, 4,096 on a GPU. Results do not depend on it.
    """

    num_beams: int | None = None
    max_query_length: int = 64
    temperature: float = 1.0
    name: str = "beam"
    use_cache: bool = True  # False recomputes the decoder over whole prefixes (for comparison)
    compact: bool = True  # False reads a docid head's full-width logits, the same distribution (for comparison)
    step_transforms: tuple[StepTransform, ...] = ()
    constraint: str = field(default="trie", repr=False)
    # called after each step with the step and the ``(queries, beams)`` trie states kept (analysis)
    on_step: Callable[[int, np.ndarray], None] | None = field(default=None, repr=False, compare=False)
    max_rows: int | None = None

    def transforms(self) -> tuple[StepTransform, ...]:
        """The step transforms applied, ``temperature`` last."""
        return tuple(self.step_transforms) + ((Temperature(self.temperature),) if self.temperature != 1.0 else ())

    def decode(self, backbone: Backbone, trie: PrefixTrie, queries: list[str], num_results: int,
               max_steps: int) -> list[list[tuple[int, float]]]:
        """For each query, ``(document index, log-probability)`` pairs, best first."""
        # with a docid head the model computes the docid tokens' logits only: the trie allows no other
        beams = max(self.num_beams or num_results, 1)
        cap = self.max_rows or (128 if backbone.device.type == "cpu" else 4096)
        # with on_step the caller sees the whole batch's states at each step: no groups
        group = max(1, len(queries)) if self.on_step is not None else max(1, cap // beams)
        out: list[list[tuple[int, float]]] = []
        with compact_logits(backbone.model) if self.compact else nullcontext() as head:
            for start in range(0, len(queries), group):
                out.extend(self._decode(backbone, trie, queries[start:start + group], num_results, max_steps, head))
        return out

    def _decode(self, backbone: Backbone, trie: PrefixTrie, queries: list[str], num_results: int,
                max_steps: int, head) -> list[list[tuple[int, float]]]:
        beams = max(self.num_beams or num_results, 1)
        hidden, mask = encode(backbone, queries, self.max_query_length)
        nq = len(queries)
        # flat beam layout: row q * beams + b (the decoder copies the query's states to its beams)
        states = np.full(nq * beams, DEAD, dtype=np.int64)
        states[::beams] = ROOT
        flat_scores = np.full(nq * beams, -np.inf, dtype=np.float32)
        flat_scores[::beams] = 0.0
        decoder = IncrementalDecoder(backbone, hidden, mask, self.use_cache, group=beams)
        step_tokens = torch.full((nq * beams,), backbone.decoder_start_token_id, dtype=torch.long)
        finished: list[dict[int, float]] = [{} for _ in range(nq)]
        transforms = self.transforms()
        for step in range(max_steps):
            if not (states >= 0).any():
                break
            logits = apply_transforms(transforms, decoder.step(step_tokens), step)
            # only the allowed continuations are candidates: a few per beam, not the vocabulary
            # (read on the model's device: only they, not rows × vocabulary, cross to the CPU);
            # log P = logit − logsumexp, without materialising a log-softmax of every row
            rows, tokens, nxt = trie.allowed_edges(states)
            columns = tokens if head is None else head.columns(tokens)
            live = np.unique(rows)  # normalise only the rows read (dead beams' rows are skipped)
            r = torch.from_numpy(np.searchsorted(live, rows)).to(logits.device)
            # (all rows live, as in the first steps: no gathered copy of the logits)
            read = logits if len(live) == len(logits) else logits[torch.from_numpy(live).to(logits.device)]
            norm = torch.logsumexp(read, dim=-1)
            picked = logits[torch.from_numpy(rows).to(logits.device), torch.from_numpy(columns).to(logits.device)] - norm[r]
            cand = flat_scores[rows] + picked.cpu().numpy()
            query_of = rows // beams
            order = np.lexsort((-cand, query_of))  # by query, best first
            first = np.searchsorted(query_of[order], np.arange(nq + 1))
            done_doc = trie.doc_at(nxt)
            new_states = np.full((nq, beams), DEAD, dtype=np.int64)
            new_scores = np.full((nq, beams), -np.inf, dtype=np.float32)
            new_rows = np.arange(nq * beams, dtype=np.int64).reshape(nq, beams)  # a dead slot keeps its row
            new_tokens = np.full((nq, beams), backbone.pad_token_id, dtype=np.int64)
            for q in range(nq):
                kept = 0
                for j in order[first[q]:first[q + 1]][: 2 * beams]:
                    if not np.isfinite(cand[j]):
                        continue
                    if done_doc[j] >= 0:
                        finished[q].setdefault(int(done_doc[j]), float(cand[j]))
                    elif kept < beams:
                        new_states[q, kept], new_scores[q, kept] = nxt[j], cand[j]
                        new_rows[q, kept], new_tokens[q, kept] = rows[j], tokens[j]
                        kept += 1
                # stop a query once its results cannot change: scores only decrease with length
                if len(finished[q]) >= num_results:
                    worst = sorted(finished[q].values(), reverse=True)[num_results - 1]
                    if kept == 0 or new_scores[q, 0] <= worst:
                        new_states[q, :] = DEAD
                        new_scores[q, :] = -np.inf
            if self.on_step is not None:
                self.on_step(step, new_states)
            states = new_states.ravel()
            flat_scores = new_scores.ravel()
            decoder.reorder(torch.from_numpy(new_rows.ravel()))
            step_tokens = torch.from_numpy(new_tokens.ravel())
        return [sorted(f.items(), key=lambda kv: -kv[1])[:num_results] for f in finished]


def sharpened(temperature: float = 0.5, **kwargs) -> ConstrainedBeamSearch:
    """Beam search on step distributions sharpened by 1/T: a :class:`Temperature` step transform
    (the registry's ``sharpened``)."""
    transforms = (*kwargs.pop("step_transforms", ()), Temperature(temperature))
    return ConstrainedBeamSearch(name=kwargs.pop("name", "sharpened"), step_transforms=transforms, **kwargs)
