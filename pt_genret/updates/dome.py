"""``dome``: DocID-oriented model editing (DOME).

(a) *Critical layers*: each decoder layer's output is replaced by its mean over a sample of
old pseudo-queries (per docid position); the layers whose patching costs the most
teacher-forced retrieval accuracy (hit rate, then docid log-likelihood) are critical. A
window of consecutive layers is kept and stored in the index (``edit/state.json``), so later
updates edit the same layers. Where the window spans every decoder layer (a 2-layer decoder
with the default two), patching is skipped: it cannot change the choice.
(b) *Edit vectors* ``δ`` per new document and docid position, at the top critical layer,
minimise the cross-entropy to the hybrid target ``(1-λ)·p_orig + λ·onehot(docid token)``
with ``λ`` annealed from 0.3 to 1: the soft part keeps the vectors of documents that share
docid tokens apart, the hard part makes them write the docid.
(c) *Closed-form update* of the critical layers' FFN output weights, mapping the new keys
``K1`` to ``V1 = m1 + δ`` while keeping old keys ``K0 → V0`` (their covariance is stored in
the index), spread over the layers in proportion to ``1/dist(j, l)``.
"""
from __future__ import annotations

from dataclasses import dataclass

from pt_genret.options import option
from pt_genret.updates.editing import FFNSite, critical_window, layer_patching
from pt_genret.updates.model_edit import EditUpdate, default_num_critical


@dataclass(kw_only=True, eq=False, repr=False)
class DomeUpdate(EditUpdate):
    """DOME (see the module docstring).

    Args:
        num_critical_layers: consecutive critical layers to edit (default: 5/24 of the
            decoder's layers, as in the paper, and at least two).
        probe_queries: old pseudo-queries used to find the critical layers.
        relocate: find the critical layers again even if the index has them stored.
        lambda_start, lambda_end, anneal: the hybrid-label schedule: λ from 0.3 to 1 over the
            first half of the steps, then held at 1.
        Further options: see :class:`~pt_genret.updates.model_edit.EditUpdate`.
    """

    name = "dome"
    spread = "inverse_distance"

    num_critical_layers: int | None = option(None, positive=True)
    probe_queries: int = option(500, positive=True)
    relocate: bool = option(False)
    lambda_start: float = option(0.3, interval="[0, 1]")

    def choose_layers(self, ctx, sites: list[FFNSite], probe, state: dict):
        size = self.num_critical_layers or default_num_critical(len(sites))
        stored = state.get("critical_layers")
        if stored and not self.relocate and len(stored) == min(size, len(sites)):
            return list(stored), {"critical_layers": list(stored), "critical_layers_from": "index"}
        if size >= len(sites):  # the window spans the decoder: patching cannot change the choice
            layers = list(range(len(sites)))
            return layers, {"critical_layers": layers, "critical_layers_from": "every layer"}
        report = layer_patching(ctx.backbone, probe(self.probe_queries), sites)
        layers = critical_window(report, size)
        return layers, {"critical_layers": layers, "critical_layers_from": "patching", "patching": report}
