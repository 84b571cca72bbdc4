"""Presets: the GR systems of the seed's tables as settings of the shared machinery.

Each preset is a docid scheme (with options) and a decoder; everything else (backbone,
pseudo-queries, training) is shared, so the systems differ only where their mechanisms do.
``notes`` says what the preset reproduces and what differs from the paper.

    index = preset_indexer("runs/dsi-se", "DSI-SE", epochs=10).index(corpus)
    gr = preset_retriever(index, "DSI-SE")
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pt_genret.index import GenIndex, GenIndexer
from pt_genret.retriever import GenRetriever


@dataclass(frozen=True)
class Preset:
    scheme: str
    scheme_options: dict[str, Any] = field(default_factory=dict)
    decoder: str = "beam"
    notes: str = ""


PRESETS: dict[str, Preset] = {
    "DSI-atomic": Preset("atomic", notes="DSI with atomic docids: one new output token per document. "
                         "DSI uses T5 and indexing/retrieval multitask training; here the shared backbone."),
    "DSI-naive": Preset("naive", notes="DSI with naive string docids: the document number, one token per digit."),
    "DSI-SE": Preset("semantic", {"k": 10}, notes="DSI with semantically structured docids: hierarchical k-means "
                     "over document embeddings (MiniLM here, BERT in the paper), k=10."),
    "NCI": Preset("semantic", {"k": 10, "position_aware": True},
                  notes="NCI's position-aware code tokens over hierarchical k-means codes. NCI's prefix-aware "
                  "weight-adaptive decoder and consistency loss are not reproduced; pseudo-queries are extractive "
                  "unless a doc2query model is given."),
    "Ultron-URL": Preset("url", notes="Ultron with URL docids (falling back to titles where a document has no "
                         "url). Ultron's three-stage training is replaced by the shared training."),
    "Ultron-PQ": Preset("pq", {"m": 4, "k": 16}, notes="Ultron with product-quantised docids (m=4 sub-spaces, "
                        "k=16 centroids) with position-aware code tokens."),
    "TIGER-RQ": Preset("rq", {"m": 3, "k": 16}, notes="Residual-quantised semantic ids as in TIGER (k-means per "
                       "level instead of an RQ-VAE)."),
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]


def preset_indexer(index: GenIndex | str, name: str, **kwargs) -> GenIndexer:
    """A :class:`GenIndexer` with the preset's scheme; ``kwargs`` set everything else."""
    preset = get_preset(name)
    options = {**preset.scheme_options, **kwargs.pop("scheme_options", {})}
    target = index if isinstance(index, GenIndex) else GenIndex(index)
    return target.indexer(scheme=preset.scheme, scheme_options=options, **kwargs)


def preset_retriever(index: GenIndex | str, name: str, **kwargs) -> GenRetriever:
    """A :class:`GenRetriever` with the preset's decoder."""
    return GenRetriever(index, decoder=kwargs.pop("decoder", get_preset(name).decoder), **kwargs)
