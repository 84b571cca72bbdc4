"""``GenRetriever``: retrieve with, or re-rank by, a generative index.

* A query frame (``qid, query``) in: constrained decoding writes up to ``num_results`` docids
  per query; out comes an R frame ``qid, query, docno, score, rank, docid``.
* A result frame (``qid, query, docno, ...``) in: each candidate is scored by the model's
  exact log-likelihood of its docid, so ``bm25 % 100 >> GenRetriever(index)`` re-ranks BM25's
  top 100 and never adds documents.

``score`` is log P(docid | query). The ``docid`` column shows the generated identifier.
"""
from __future__ import annotations

from dataclasses import is_dataclass, replace

import numpy as np
import pandas as pd
import pyterrier as pt
import pyterrier_alpha as pta

from pt_genret.decoding import get_decoder, score_candidates
from pt_genret.index import GenIndex

OUTPUT_COLUMNS = ["qid", "query", "docno", "score", "rank", "docid", "decoder"]


class GenRetriever(pt.Transformer):
    """Generative retrieval over a :class:`GenIndex` (or its path).

    Args:
        index: the index or its path.
        num_results: docids returned per query (retrieval mode).
        decoder: decoder name or object: ``"beam"`` (constrained beam search), ``"sharpened"``
            (beam search on step distributions sharpened by 1/T), ``"annealed"`` (reverse-annealed
            sampling without replacement); its name is written in the ``decoder`` column.
        num_beams: beam width of the beam decoders; defaults to ``num_results``.
        decoder_options: further constructor arguments of a decoder given by name.
        batch_size: queries decoded together.
        verbose: progress bars.
    """

    def __init__(self, index: GenIndex | str, num_results: int = 100, decoder="beam", num_beams: int | None = None,
                 batch_size: int = 8, verbose: bool = False, decoder_options: dict | None = None) -> None:
        self.index = index if isinstance(index, GenIndex) else GenIndex(index)
        self.num_results = num_results
        options = dict(decoder_options or {})
        if num_beams is not None:
            if isinstance(decoder, str) and decoder not in ("beam", "sharpened"):
                raise ValueError(f"num_beams applies to the beam decoders, not to {decoder!r}")
            options["num_beams"] = num_beams
        self.decoder = get_decoder(decoder, **options)
        self.batch_size = batch_size
        self.verbose = verbose

    def __repr__(self) -> str:
        return f"GenRetriever({self.index.path!r}, num_results={self.num_results})"

    def fuse_rank_cutoff(self, k: int) -> "GenRetriever | None":
        """Let ``GenRetriever(...) % k`` stop beam search at ``k`` results, with the same beams.

        Only for beam decoders: their top ``k`` do not depend on how many results are kept as
        long as the beam width stays; a sampler's temperature schedule depends on the number of
        draws, so it is not pushed down.
        """
        if k >= self.num_results or not (is_dataclass(self.decoder) and hasattr(self.decoder, "num_beams")):
            return None
        decoder = replace(self.decoder, num_beams=self.decoder.num_beams or self.num_results)
        return GenRetriever(self.index, num_results=k, decoder=decoder, batch_size=self.batch_size,
                            verbose=self.verbose)

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        with pta.validate.any(inp) as v:
            v.result_frame(extra_columns=["query"], mode="rerank")
            v.query_frame(extra_columns=["query"], mode="retrieve")
        if v.mode == "rerank":
            return self.rerank(inp)
        return self.retrieve(inp)

    def retrieve(self, topics: pd.DataFrame) -> pd.DataFrame:
        if len(topics) == 0:
            return pd.DataFrame(columns=OUTPUT_COLUMNS)
        dup = topics["qid"].astype(str).duplicated()
        if dup.any():
            raise ValueError(f"duplicate qid {topics['qid'][dup].iloc[0]!r} in the query frame: one row per query")
        backbone, trie, table = self.index.backbone(), self.index.trie(), self.index.table()
        max_steps = int(self.index.meta["max_docid_length"]) + 1
        rows = []
        qids, queries = topics["qid"].astype(str).tolist(), topics["query"].astype(str).tolist()
        batches = range(0, len(queries), self.batch_size)
        for start in pt.tqdm(batches, desc="GenRetriever", unit="batch", disable=not self.verbose):
            results = self.decoder.decode(backbone, trie, queries[start:start + self.batch_size],
                                          self.num_results, max_steps)
            for qid, query, res in zip(qids[start:], queries[start:], results):
                rows.extend((qid, query, table.docnos[d], s, table.docids[d]) for d, s in res)
        res = pd.DataFrame(rows, columns=["qid", "query", "docno", "score", "docid"])
        res["decoder"] = getattr(self.decoder, "name", type(self.decoder).__name__)
        res = pt.model.add_ranks(res)
        return res[OUTPUT_COLUMNS]

    def rerank(self, results: pd.DataFrame) -> pd.DataFrame:
        if len(results) == 0:
            return pd.DataFrame(columns=list(results.columns) + [c for c in ("docid",) if c not in results.columns])
        backbone, table = self.index.backbone(), self.index.table()
        results = results.assign(qid=results["qid"].astype(str), docno=results["docno"].astype(str))
        unknown = [d for d in results["docno"].unique() if d not in table]
        if unknown:
            raise ValueError(f"{len(unknown)} candidate docno(s) are not in the GR index {self.index.path!r}, "
                             f"e.g. {unknown[:3]}; re-rank candidates from the same corpus")
        out = results.copy()
        scores = np.zeros(len(out))
        groups = out.groupby(["qid", "query"], sort=False).indices
        for (qid, query), idx in pt.tqdm(groups.items(), desc="GenRetriever re-rank", unit="query",
                                         disable=not self.verbose):
            cands = [table.tokens[table.index_of(d)] for d in out["docno"].values[idx]]
            scores[idx] = score_candidates(backbone, str(query), cands)
        out["score"] = scores
        out["docid"] = [table.docids[table.index_of(d)] for d in out["docno"]]
        return pt.model.add_ranks(out.drop(columns=["rank"], errors="ignore"))
