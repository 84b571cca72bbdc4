"""Beam reorders of a key/value cache that copy only the rows that move.

A beam search step keeps most beams where they were once the search narrows: in a 100-beam
decode of a Cranfield index, after the first few steps 60–100 % of the rows continue their own
sequence (and the slots of finished beams keep theirs). HF's ``reorder_cache`` rebuilds every
layer's keys and values with an ``index_select`` of all rows each step, as costly as the cache's
own growth. Here an identity reorder copies nothing, and one that moves few rows overwrites just
those rows in place; only a reorder that moves most rows falls back to the full ``index_select``.
"""
from __future__ import annotations

import torch


def _layers(cache) -> list | None:
    """The cache's per-layer objects with ``keys``/``values`` tensors, or ``None`` (another layout)."""
    layers = getattr(cache, "layers", None)
    if not layers or not all(isinstance(getattr(layer, "keys", None), torch.Tensor)
                             and isinstance(getattr(layer, "values", None), torch.Tensor) for layer in layers):
        return None
    return list(layers)


@torch.inference_mode()
def reorder_rows(cache, rows: torch.Tensor) -> None:
    """Row ``i`` of every layer of ``cache`` becomes its row ``rows[i]`` (``len(rows)`` = batch)."""
    moved = torch.nonzero(rows != torch.arange(len(rows), device=rows.device)).squeeze(1)
    if len(moved) == 0:
        return
    layers = _layers(cache)
    if layers is None or 2 * len(moved) >= len(rows) or any(layer.keys.shape[0] != len(rows) for layer in layers):
        cache.reorder_cache(rows)  # most rows move (or an unknown layout): one index_select each
        return
    sources = rows[moved]
    for layer in layers:
        # the right-hand side is gathered before the write, so rows that swap read their old states
        layer.keys[moved] = layer.keys[sources]
        layer.values[moved] = layer.values[sources]
