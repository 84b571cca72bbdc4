"""Constrained beam search over a prefix trie, a batch of queries at once.

Each beam carries one trie node; at every step the model's log-probabilities are masked to
the node's live children, the best ``2 × beams`` expansions per query are taken, those that
complete a docid (reach a terminal node) are set aside as results and the rest continue. A
completed docid is never extended, and each trie path is reached by one beam at most, so a
query never gets the same document twice. Beams whose node has no live children cannot arise
(counts are kept per node), and a query whose beams all end simply stops.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pt_genret.backbone import Backbone
from pt_genret.constraints.trie import DEAD, ROOT, PrefixTrie
from pt_genret.decoding.model_calls import encode, next_token_logits


@dataclass
class ConstrainedBeamSearch:
    """Top-``num_results`` docids by beam search; ``num_beams`` defaults to ``num_results``.

    ``temperature`` divides the logits before normalisation (1 = the model's distribution).
    """

    num_beams: int | None = None
    max_query_length: int = 64
    temperature: float = 1.0
    name: str = "beam"

    def decode(self, backbone: Backbone, trie: PrefixTrie, queries: list[str], num_results: int,
               max_steps: int) -> list[list[tuple[int, float]]]:
        """For each query, ``(document index, log-probability)`` pairs, best first."""
        beams = max(self.num_beams or num_results, 1)
        hidden, mask = encode(backbone, queries, self.max_query_length)
        nq = len(queries)
        vocab = backbone.vocab_size
        # flat beam layout: row q * beams + b
        hidden = hidden.repeat_interleave(beams, dim=0)
        mask = mask.repeat_interleave(beams, dim=0)
        states = np.full(nq * beams, DEAD, dtype=np.int64)
        states[::beams] = ROOT
        scores = torch.full((nq, beams), float("-inf"))
        scores[:, 0] = 0.0
        prefixes = torch.full((nq * beams, 1), backbone.decoder_start_token_id, dtype=torch.long)
        finished: list[dict[int, float]] = [{} for _ in range(nq)]
        for _ in range(max_steps):
            alive_rows = torch.from_numpy(states >= 0)
            if not alive_rows.any():
                break
            logits = next_token_logits(backbone, hidden, mask, prefixes.to(hidden.device)).cpu()
            logp = torch.log_softmax(logits / self.temperature, dim=-1)
            allowed = trie.allowed_mask(states, logp.shape[1])
            logp = logp.masked_fill(~allowed, float("-inf"))
            cand = (scores.reshape(-1, 1) + logp).reshape(nq, beams * logp.shape[1])
            top_scores, top_idx = cand.topk(min(2 * beams, cand.shape[1]), dim=1)
            parent = (top_idx // logp.shape[1]).numpy()
            token = (top_idx % logp.shape[1]).numpy()
            rows = np.arange(nq)[:, None] * beams + parent
            nxt = trie.advance(states[rows.ravel()], token.ravel()).reshape(nq, -1)
            done_doc = trie.doc_at(nxt.ravel()).reshape(nq, -1)
            new_states = np.full((nq, beams), DEAD, dtype=np.int64)
            new_scores = np.full((nq, beams), -np.inf, dtype=np.float32)
            new_rows = np.zeros((nq, beams), dtype=np.int64)
            new_tokens = np.full((nq, beams), backbone.pad_token_id, dtype=np.int64)
            ts = top_scores.numpy()
            for q in range(nq):
                kept = 0
                for j in range(ts.shape[1]):
                    if not np.isfinite(ts[q, j]) or nxt[q, j] == DEAD:
                        continue
                    if done_doc[q, j] >= 0:
                        finished[q].setdefault(int(done_doc[q, j]), float(ts[q, j]))
                    elif kept < beams:
                        new_states[q, kept], new_scores[q, kept] = nxt[q, j], ts[q, j]
                        new_rows[q, kept], new_tokens[q, kept] = rows[q, j], token[q, j]
                        kept += 1
                # stop a query once its results cannot change: scores only decrease with length
                if len(finished[q]) >= num_results:
                    worst = sorted(finished[q].values(), reverse=True)[num_results - 1]
                    if kept == 0 or new_scores[q, 0] <= worst:
                        new_states[q, :] = DEAD
                        new_scores[q, :] = -np.inf
            states = new_states.ravel()
            scores = torch.from_numpy(new_scores)
            prefixes = torch.cat([prefixes[torch.from_numpy(new_rows.ravel())],
                                  torch.from_numpy(new_tokens.ravel()).unsqueeze(1)], dim=1)
        return [sorted(f.items(), key=lambda kv: -kv[1])[:num_results] for f in finished]
