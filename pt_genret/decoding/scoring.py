"""Candidate scoring: the exact teacher-forced log-likelihood of given docids for a query.

Used to re-rank a candidate list (``bm25 % 100 >> GenRetriever(index)``): every candidate
gets a score, whether or not beam search would have reached it.
"""
from __future__ import annotations

import numpy as np
import torch

from pt_genret.backbone import Backbone
from pt_genret.decoding.model_calls import encode, sequence_logprobs


def score_candidates(backbone: Backbone, query: str, candidates: list[list[int]], batch_size: int = 128,
                     max_query_length: int = 64) -> np.ndarray:
    """log P(docid | query) of each candidate token sequence, in order."""
    hidden, mask = encode(backbone, [query], max_query_length)
    out = []
    for start in range(0, len(candidates), batch_size):
        chunk = candidates[start:start + batch_size]
        h = hidden.expand(len(chunk), *hidden.shape[1:])  # states, or a causal LM's prompt ids
        m = mask.expand(len(chunk), -1)
        out.append(sequence_logprobs(backbone, h, m, chunk).cpu())
    return torch.cat(out).numpy() if out else np.zeros(0)
