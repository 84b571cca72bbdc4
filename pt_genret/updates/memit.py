"""``memit``: MEMIT (Meng et al., 2023) as a baseline under the update interface.

Edit vectors with hard labels only (``λ = 1``) at the top of a fixed range of decoder layers
(default: all of them), then the same closed-form least-squares update as DOME with the
old-key covariance, spread *evenly*: each layer, bottom first, takes ``1/(layers left)`` of
the residual still missing at the top layer.
"""
from __future__ import annotations

from typing import Sequence

from pt_genret.updates.editing import FFNSite
from pt_genret.updates.model_edit import EditUpdate, layer_list


class MemitUpdate(EditUpdate):
    """MEMIT over ``layers`` (default: every decoder layer); further options: see
    :class:`~pt_genret.updates.model_edit.EditUpdate`."""

    name = "memit"
    spread = "even"

    def __init__(self, layers: Sequence[int] | None = None, steps: int = 40, lr: float = 0.1,
                 weight_decay: float = 1e-3, stop_prob: float | None = None, docid_softmax: bool = True,
                 softmax_top_k: int = 32, preservation: float = 0.3,
                 cov_queries: int = 2000, batch_rows: int = 256, max_source_length: int = 64,
                 check_rows: int = 128, sources: str = "all", seed: int = 42, verbose: bool = True) -> None:
        super().__init__(steps=steps, lr=lr, weight_decay=weight_decay, lambda_start=1.0, lambda_end=1.0,
                         stop_prob=stop_prob, docid_softmax=docid_softmax, softmax_top_k=softmax_top_k,
                         preservation=preservation, cov_queries=cov_queries, batch_rows=batch_rows,
                         max_source_length=max_source_length, check_rows=check_rows, sources=sources, seed=seed,
                         verbose=verbose)
        self.layers = list(layers) if layers is not None else None

    def choose_layers(self, ctx, sites: list[FFNSite], probe, state: dict):
        return layer_list(self.layers, sites), {}
