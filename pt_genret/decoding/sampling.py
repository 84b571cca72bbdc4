"""Reverse-annealed constrained sampling without replacement (ZeroGR).

Each query draws ``num_results`` docids one after another. Every draw samples a whole docid
token by token under the trie constraint; the drawn document is then removed from that query's
trie, so no document is drawn twice. The temperature rises across draws, from
``start_temperature`` (close to greedy: the first draws are the model's confident choices) to
``end_temperature`` (flatter: later draws explore documents beam search would not reach).
Results are ranked in draw order; ``score`` is ``-draw``. Each query has its own random
generator, seeded from ``seed`` and the query text, so results do not depend on batching.
Each draw steps the model one token at a time from its key/value cache
(:class:`~pt_genret.decoding.model_calls.IncrementalDecoder`), as beam search does.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch

from pt_genret.backbone import Backbone
from pt_genret.constraints.trie import DEAD, ROOT, PrefixTrie
from pt_genret.decoding.model_calls import IncrementalDecoder, encode, next_token_logits


def query_seed(seed: int, query: str) -> int:
    """A stable 63-bit seed from the decoder seed and the query text."""
    return int.from_bytes(hashlib.sha256(f"{seed}\t{query}".encode()).digest()[:8], "little") >> 1


@dataclass
class AnnealedSampling:
    """Constrained sampling without replacement with a temperature rising across draws."""

    start_temperature: float = 0.1
    end_temperature: float = 1.5
    seed: int = 42
    max_query_length: int = 64
    use_cache: bool = True  # False recomputes unfinished draws' whole prefixes (the earlier way, for comparison)
    name: str = "annealed"
    constraint: str = field(default="trie", repr=False)

    def temperature(self, draw: int, draws: int) -> float:
        if draws <= 1:
            return self.start_temperature
        return self.start_temperature + (self.end_temperature - self.start_temperature) * draw / (draws - 1)

    def decode(self, backbone: Backbone, trie: PrefixTrie, queries: list[str], num_results: int,
               max_steps: int) -> list[list[tuple[int, float]]]:
        # one generator per query, seeded by (seed, query): a query's draws do not depend on batching
        generators = [torch.Generator().manual_seed(query_seed(self.seed, q)) for q in queries]
        hidden, mask = encode(backbone, queries, self.max_query_length)
        # one trie view per query: a drawn document is removed from that query's view only
        views = [trie.restrict(np.arange(trie.num_docs)) for _ in queries]
        results: list[list[tuple[int, float]]] = [[] for _ in queries]
        draws = min(num_results, len(trie))
        for draw in range(draws):
            temp = self.temperature(draw, draws)
            states = np.full(len(queries), ROOT, dtype=np.int64)
            step = np.full(len(queries), backbone.decoder_start_token_id, dtype=np.int64)
            done = np.full(len(queries), DEAD, dtype=np.int64)
            decoder = IncrementalDecoder(backbone, hidden, mask) if self.use_cache else None  # all rows each step
            prefixes = torch.from_numpy(step).unsqueeze(1)
            for _ in range(max_steps):
                active = np.flatnonzero((done == DEAD) & (states >= 0))
                if len(active) == 0:
                    break
                if decoder is not None:
                    logits = decoder.step(torch.from_numpy(step))[torch.from_numpy(active).to(hidden.device)]
                else:  # whole prefixes of the unfinished draws only
                    rows = prefixes[active].to(hidden.device)
                    logits = next_token_logits(backbone, hidden[active], mask[active], rows)
                logits = logits.cpu() / temp
                allowed = torch.stack([views[q].allowed_mask(states[q:q + 1], logits.shape[1])[0] for q in active])
                probs = torch.softmax(logits.masked_fill(~allowed, float("-inf")), dim=-1)
                tokens = [int(torch.multinomial(probs[i], 1, generator=generators[q])) for i, q in enumerate(active)]
                step = np.full(len(queries), backbone.pad_token_id, dtype=np.int64)  # finished rows: padding
                for q, tok in zip(active, tokens):
                    states[q] = views[q].advance(states[q:q + 1], np.array([tok]))[0]
                    doc = views[q].doc_at(states[q:q + 1])[0]
                    if doc >= 0:
                        done[q] = doc
                    step[q] = tok
                prefixes = torch.cat([prefixes, torch.from_numpy(step).unsqueeze(1)], dim=1)
            for q, doc in enumerate(done):
                if doc >= 0:
                    results[q].append((int(doc), -float(draw)))
                    views[q].remove([int(doc)])
        return results
