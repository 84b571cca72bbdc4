"""``memit``: MEMIT (Meng et al., 2023) as a baseline under the update interface.

Edit vectors with hard labels only (``λ = 1``) at the top of a fixed range of decoder layers
(default: all of them), then the same closed-form least-squares update as DOME with the
old-key covariance, spread *evenly*: each layer, bottom first, takes ``1/(layers left)`` of
the residual still missing at the top layer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from pt_genret.options import option
from pt_genret.updates.editing import FFNSite
from pt_genret.updates.model_edit import EditUpdate, layer_list


@dataclass(kw_only=True, eq=False, repr=False)
class MemitUpdate(EditUpdate):
    """MEMIT over ``layers`` (default: every decoder layer); further options: see
    :class:`~pt_genret.updates.model_edit.EditUpdate`."""

    name = "memit"
    spread = "even"

    layers: Sequence[int] | None = option(None)
    lambda_start: float = field(default=1.0, init=False)  # hard labels only: not options of MEMIT
    lambda_end: float = field(default=1.0, init=False)
    anneal: float = field(default=0.5, init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.layers = list(self.layers) if self.layers is not None else None

    def choose_layers(self, ctx, sites: list[FFNSite], probe, state: dict):
        return layer_list(self.layers, sites), {}
