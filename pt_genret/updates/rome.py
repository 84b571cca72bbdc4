"""``rome``: ROME (Meng et al., 2022) as a baseline under the update interface.

One decoder layer's FFN output weight ``W`` gets one rank-one edit per new document and
docid position, one after the other: with ``k`` the mean key of that position over the
document's pseudo-queries and ``v*`` the wanted value (current value plus the edit vector,
hard labels), ``W ← W + (v* − W k) (C⁻¹k)ᵀ / (kᵀ C⁻¹ k)``, ``C = E[k kᵀ]`` over old keys.
Each edit is exact for its own key and minimal in the ``C`` norm, but nothing protects
earlier edits or old documents as a whole, which is why ROME forgets most in the paper.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from pt_genret.options import option
from pt_genret.updates.editing import (FFNSite, critical_window, frozen, layer_patching, linalg_device, run, spd_solve,
                                       to_value_space)
from pt_genret.updates.model_edit import EditUpdate, layer_list


@dataclass(kw_only=True, eq=False, repr=False)
class RomeUpdate(EditUpdate):
    """ROME on ``layer`` (default: the most critical decoder layer, found by patching as in
    DOME); further options: see :class:`~pt_genret.updates.model_edit.EditUpdate`."""

    name = "rome"

    layer: int | None = option(None)
    probe_queries: int = option(500, positive=True)
    lambda_start: float = field(default=1.0, init=False)  # hard labels, one layer, no preservation weight:
    lambda_end: float = field(default=1.0, init=False)  # not options of ROME
    anneal: float = field(default=0.5, init=False)
    preservation: float = field(default=0.3, init=False)

    def choose_layers(self, ctx, sites: list[FFNSite], probe, state: dict):
        if self.layer is not None:
            return layer_list([self.layer], sites), {}
        report = layer_patching(ctx.backbone, probe(self.probe_queries), sites)
        return critical_window(report, 1), {"patching": report}

    @torch.no_grad()
    def apply(self, ctx, sites, rows, row_doc, layers, targets, moments):
        (j,) = layers
        site, backbone = sites[j], ctx.backbone
        dev = linalg_device(backbone)
        keys, wanted, groups = [], [], []
        start = 0
        with frozen(backbone.model):
            for c, z in zip(rows.chunks, targets):
                _, seen = run(backbone, c, sites, keys=[j], outputs=[j], norms=[j] if site.norm is not None else [])
                sigma = seen["norms"][j].float().to(dev) if site.norm is not None else None
                change = to_value_space(site, z.to(dev) - seen["outputs"][j].float().to(dev), sigma)
                k = seen["keys"][j].float().to(dev)
                value = k @ site.proj.weight.detach().float().to(dev).T + change  # bias cancels in v* − W k
                valid = c.valid.to(dev)
                docs = torch.as_tensor(row_doc[start:start + len(c.labels)], device=dev).unsqueeze(1).expand_as(valid)
                pos = torch.arange(valid.shape[1], device=dev).unsqueeze(0).expand_as(valid)
                keys.append(k[valid]); wanted.append(value[valid])
                groups.append(docs[valid] * rows.width + pos[valid])
                start += len(c.labels)
        keys, wanted, groups = torch.cat(keys).double(), torch.cat(wanted).double(), torch.cat(groups)
        order = torch.unique(groups).tolist()  # one document position at a time, in order
        masks = [groups == g for g in order]
        means = torch.stack([keys[m].mean(0) for m in masks])
        values = torch.stack([wanted[m].mean(0) for m in masks])
        # C⁻¹ k for every position: one factorisation
        directions = spd_solve(moments[j][0].to(dev, torch.float64), means.T, 1e-4).T
        weight = site.proj.weight
        for k, v, u in zip(means, values, directions):
            r = v - weight.detach().double().to(dev) @ k
            weight.add_(torch.outer(r, u / (u @ k)).to(weight.dtype).to(weight.device))
        return {j: (keys.T @ keys, len(keys))}
