"""Presets: the GR systems of the seed's tables as settings of the shared machinery.

Each preset is a docid scheme (with options) and a decoder; everything else (backbone,
pseudo-queries, training) is shared, so the systems differ only where their mechanisms do.
``notes`` says what the preset reproduces and what differs from the paper.

    index = preset_indexer("runs/dsi-se", "DSI-SE", epochs=10).index(corpus)
    gr = preset_retriever(index, "DSI-SE")
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyterrier as pt

if TYPE_CHECKING:  # the table of presets is read without torch (pt-genret --help)
    from pt_genret.index import GenIndex, GenIndexer
    from pt_genret.retriever import GenRetriever


@dataclass(frozen=True)
class Preset:
    scheme: str
    scheme_options: dict[str, Any] = field(default_factory=dict)
    decoder: str = "beam"
    notes: str = ""
    ltr: bool = False  # a learning-to-rank phase (LTRGR) after generation training
    decoder_options: dict[str, Any] = field(default_factory=dict)  # the decoder's settings (a schedule)
    indexer_options: dict[str, Any] = field(default_factory=dict)  # other GenIndexer settings


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
    "Ultron-PQ": Preset("pq", {"m": 8, "k": 32}, notes="Ultron with product-quantised docids (m=8 sub-spaces, "
                        "k=32 centroids; m=4, k=16 left 193 SciFact documents on one code) with position-aware "
                        "code tokens. Ultron uses m=24, k=256 over its own embeddings."),
    "TIGER-RQ": Preset("rq", {"m": 3, "k": 16}, notes="Residual-quantised semantic ids as in TIGER (k-means per "
                       "level instead of an RQ-VAE)."),
    "SEAL": Preset("ngrams", {"span_length": 10}, decoder="ngram",
                   notes="SEAL: any n-gram of a document identifies it; beam search over a suffix array (an "
                   "FM-index in the paper), n-gram weights log[P(n|q)(1-P(n))/(P(n)(1-P(n|q)))] summed per "
                   "document, counting only the heaviest of n-grams that extend one another. Targets are "
                   "10-token spans (the best-overlapping span for queries). SEAL fine-tunes BART-large; here "
                   "the shared backbone, and no title/n-gram mixing weights."),
    "MINDER": Preset("multiview", {"span_length": 10}, decoder="ngram",
                     notes="MINDER: title, body n-gram and pseudo-query views, each announced by a marker "
                     "token, one suffix array per view, SEAL's aggregation summed over views. Pseudo-queries "
                     "are extractive unless a doc2query model is given (MINDER uses doc2query-T5)."),
    "LTRGR": Preset("keywords", decoder="beam", ltr=True,
                    notes="LTRGR: generation training, then a margin rank loss over the model's own top-10 "
                    "(pt_genret.ltr.LTRGR) on the training queries, or on a seeded sample of pseudo-queries "
                    "when the collection has none. LTRGR builds on MINDER's multi-view identifiers; here on "
                    "keyword docids, since the rank loss needs whole-docid likelihoods."),
    "ZeroGR": Preset("generated", decoder="annealed",
                     decoder_options={"start_temperature": 0.1, "end_temperature": 1.5},
                     indexer_options={"query_generator": "instructed"},
                     notes="ZeroGR: 6-8 word keyword-sentence docids (extractive unless a docid-generator model "
                     "is given), instructed pseudo-queries (instruction-aware extractive kinds unless an LM is "
                     "given), training on instruction ⊕ query, reverse-annealed sampling without replacement "
                     "(temperature 0.1 → 1.5 across draws; decoder_options set the schedule). ZeroGR fine-tunes "
                     "Llama-1B models as docid and query generators and a 1-3B decoder-only GR model; here the "
                     "shared backbone. Over several corpora see pt_genret.multicorpus."),
}


def get_preset(name: str) -> Preset:
    """The preset ``name`` (a key of :data:`PRESETS`)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def preset_indexer(index: GenIndex | str, name: str, ltr_options: dict | None = None, **kwargs) -> pt.Indexer:
    """An indexer with the preset's scheme; ``kwargs`` set everything else (see :class:`GenIndexer`).

    For a preset with a learning-to-rank phase (LTRGR) the indexer runs that phase after
    training, with ``ltr_options`` passed to :class:`~pt_genret.ltr.LTRGR`.
    """
    from pt_genret.index import GenIndex

    preset = get_preset(name)
    options = {**preset.scheme_options, **kwargs.pop("scheme_options", {})}
    kwargs = {**preset.indexer_options, **kwargs}
    target = index if isinstance(index, GenIndex) else GenIndex(index)
    indexer = target.indexer(scheme=preset.scheme, scheme_options=options, **kwargs)
    return _RankPhaseIndexer(indexer, ltr_options or {}) if preset.ltr else indexer


class _RankPhaseIndexer(pt.Indexer):
    """Generation training by a :class:`GenIndexer`, then the LTRGR phase on the same index."""

    def __init__(self, indexer: GenIndexer, ltr_options: dict, max_pseudo_queries: int = 500) -> None:
        self.indexer, self.options = indexer, dict(ltr_options)
        self.max_pseudo_queries = self.options.pop("max_pseudo_queries", max_pseudo_queries)

    def index(self, inp) -> GenIndex:
        from pt_genret.ltr import LTRGR

        index = self.indexer.index(inp)
        topics, qrels = self.indexer.train_topics, self.indexer.train_qrels
        if topics is None or qrels is None:
            topics, qrels = pseudo_query_topics(index, self.max_pseudo_queries, self.indexer.config.seed)
        LTRGR(index, seed=self.indexer.config.seed, verbose=self.indexer.verbose, **self.options).fit(topics, qrels)
        return index


def pseudo_query_topics(index: GenIndex, limit: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded sample of the index's saved pseudo-queries as topics and qrels (one relevant document each)."""
    from pt_genret.index import read_pseudo_queries

    frame = read_pseudo_queries(index.path)
    if frame.empty:
        raise ValueError(f"{index.path!r} has no pseudo-queries and no training queries were given: "
                         "the learning-to-rank phase needs one or the other")
    frame["qid"] = "pq-" + frame["docno"] + "-" + frame.groupby("docno").cumcount().astype(str)
    frame = frame.sample(n=min(limit, len(frame)), random_state=seed).reset_index(drop=True)
    return frame[["qid", "query"]], frame[["qid", "docno"]].assign(label=1)


def preset_retriever(index: GenIndex | str, name: str, **kwargs) -> GenRetriever:
    """A :class:`GenRetriever` with the preset's decoder and its settings (``decoder_options``
    given here override the preset's, e.g. ZeroGR's temperature schedule)."""
    from pt_genret.retriever import GenRetriever

    preset = get_preset(name)
    decoder = kwargs.pop("decoder", preset.decoder)
    options = {**(preset.decoder_options if decoder == preset.decoder else {}), **kwargs.pop("decoder_options", {})}
    return GenRetriever(index, decoder=decoder, decoder_options=options or None, **kwargs)
