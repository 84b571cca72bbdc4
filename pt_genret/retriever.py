"""``GenRetriever``: retrieve with, or re-rank by, a generative index.

* A query frame (``qid, query``) in: constrained decoding writes up to ``num_results`` docids
  per query; out comes a result frame with every input column plus ``docno, score, rank,
  gr_docid, decoder``.
* A result frame (``qid, query, docno, ...``) in: each candidate is scored by the model's
  exact log-likelihood of its docid, so ``bm25 % 100 >> GenRetriever(index)`` re-ranks BM25's
  top 100 and never adds documents; every input column is kept.

``score`` is log P(docid | query). The generated identifier goes in ``gr_docid``, never in
PyTerrier's ``docid`` column, which PyTerrier and its plugins read as an integer row number of
their own index (a first stage's ``docid`` passes through a re-ranking untouched). Frames are
built as pyterrier_dr builds them: ``pta.DataFrameBuilder(...).to_df(inp)``.

Over an n-gram index (SEAL, MINDER) the model writes n-grams instead, ``score`` is SEAL's
aggregated n-gram weight, and an ``ngrams`` column lists the generated n-grams each document
was scored by; re-ranking scores candidates by the same aggregation (0 when none matches).
"""
from __future__ import annotations

from dataclasses import is_dataclass, replace

import numpy as np
import pandas as pd
import pyterrier as pt
import pyterrier_alpha as pta

from pt_genret import distributed
from pt_genret.decoding import get_decoder, score_candidates
from pt_genret.decoding.protocol import DEFAULT_DECODERS, constraint_of
from pt_genret.instructions import check_instruction, instructed_queries
from pt_genret.reader import IndexReader

DOCID_COLUMN = "gr_docid"  # the generated identifier; PyTerrier's ``docid`` is an integer row id
RESULT_COLUMNS = ["docno", "score", "rank", DOCID_COLUMN, "decoder"]  # added to the input's columns
OUTPUT_COLUMNS = ["qid", "query", *RESULT_COLUMNS]


class GenRetriever(pt.Transformer):
    """Generative retrieval over a :class:`GenIndex` (or its path).

    Args:
        index: the index or its path.
        num_results: docids returned per query (retrieval mode).
        decoder: a name in :data:`pt_genret.registry.DECODERS` or a decoder object
            (:class:`~pt_genret.decoding.protocol.Decoder`): ``"beam"`` (constrained beam search),
            ``"sharpened"`` (beam search with a ``Temperature(0.5)`` step transform), ``"annealed"``
            (reverse-annealed sampling without replacement), ``"ngram"`` (n-gram indexes: SEAL/MINDER,
            used there when the default ``"beam"`` is given); its name is written in the ``decoder`` column.
        num_beams: beam width of the beam decoders; defaults to ``num_results`` (10 for ``ngram``).
        decoder_options: further constructor arguments of a decoder given by name.
        batch_size: queries decoded together.
        verbose: progress bars.
        instruction: the task instruction the model reads before each query (``instruction ⊕
            query``, :mod:`pt_genret.instructions`); a query frame's ``instruction`` column
            overrides it row by row; default: the instruction recorded in the index, if any.
    """

    def __init__(self, index: IndexReader | str, num_results: int = 100, decoder="beam", num_beams: int | None = None,
                 batch_size: int = 8, verbose: bool = False, decoder_options: dict | None = None,
                 instruction: str | None = None) -> None:
        self.index = index if isinstance(index, IndexReader) else IndexReader(index)
        self.instruction = check_instruction(instruction)
        if isinstance(num_results, bool) or not isinstance(num_results, int) or num_results < 1:
            raise ValueError(f"num_results (-k, --hits) must be a whole number >= 1, got {num_results!r}")
        self.num_results = num_results
        options = dict(decoder_options or {})
        if num_beams is not None:
            options["num_beams"] = num_beams
        self._decoder_arg, self._decoder_options = decoder, options
        try:
            self.decoder = get_decoder(decoder, **options)
        except TypeError as e:  # an option the decoder does not take
            raise ValueError(f"decoder {decoder!r} does not take {', '.join(sorted(options))}: {e}") from None
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
        if self.index.built() and self.index.is_ngram:
            decoder = self._ngram_decoder()  # its n-grams do not depend on the number of results
        else:
            decoder = replace(self.decoder, num_beams=self.decoder.num_beams or self.num_results)
        return GenRetriever(self.index, num_results=k, decoder=decoder, batch_size=self.batch_size,
                            verbose=self.verbose, instruction=self.instruction)

    def _ngram_decoder(self):
        """The decoder for an n-gram index: ``ngram`` by default, refusing trie decoders."""
        if constraint_of(self.decoder) == "ngrams":
            return self.decoder
        if isinstance(self._decoder_arg, str) and self._decoder_arg in DEFAULT_DECODERS.values():
            return get_decoder(DEFAULT_DECODERS["ngrams"], **self._decoder_options)
        raise ValueError(f"decoder {getattr(self.decoder, 'name', self.decoder)!r} decodes docids over a trie; "
                         f"{self.index.path!r} is an n-gram index: use decoder='ngram'")

    def _ngram_results(self, queries: list[str], num_results: int) -> list[list]:
        backbone, views, decoder = self.index.backbone(), self.index.views(), self._ngram_decoder()
        return distributed.in_batches(lambda batch: decoder.decode(backbone, views, batch, num_results), queries,
                                      self.batch_size, desc="GenRetriever (n-grams)", verbose=self.verbose)

    def _ngram_strings(self, ngrams) -> list[str]:
        tok, views = self.index.backbone().tokenizer, self.index.views()
        prefix = len(views) > 1
        return [(f"{views[g.view].name}: " if prefix else "") + tok.decode(list(g.tokens)) for g in ngrams]

    def model_queries(self, frame: pd.DataFrame) -> list[str]:
        """What the model reads for each row: ``instruction ⊕ query`` (the row's instruction, else
        this retriever's, else the index's), or the query alone without any instruction."""
        return instructed_queries(frame, self.instruction or self.index.meta.get("instruction"))

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        with pta.validate.any(inp) as v:
            v.result_frame(extra_columns=["query"], mode="rerank")
            v.query_frame(extra_columns=["query"], mode="retrieve")
        bad = [i for i, q in enumerate(inp["query"].tolist()) if not isinstance(q, str)]
        if bad:
            raise ValueError(f"query of qid {inp['qid'].iloc[bad[0]]!r} is {inp['query'].iloc[bad[0]]!r}, not text: "
                             "every row needs a query string")
        if v.mode == "rerank":
            return self.rerank(inp)
        return self.retrieve(inp)

    def retrieve(self, topics: pd.DataFrame) -> pd.DataFrame:
        """Decode up to ``num_results`` documents per query; every column of ``topics`` is kept."""
        dup = topics["qid"].astype(str).duplicated()
        if dup.any():
            raise ValueError(f"duplicate qid {topics['qid'][dup].iloc[0]!r} in the query frame: one row per query")
        if len(topics) == 0:
            return _builder().to_df(topics)
        if self.index.is_ngram:
            return self._retrieve_ngrams(topics)
        if constraint_of(self.decoder) != "trie":
            raise ValueError(f"decoder {self.decoder.name!r} writes n-grams; {self.index.path!r} has docids "
                             f"({self.index.meta['scheme']}): use a trie decoder such as 'beam'")
        backbone, trie, table = self.index.backbone(), self.index.trie(), self.index.table()
        max_steps = int(self.index.meta["max_docid_length"]) + 1
        name = getattr(self.decoder, "name", type(self.decoder).__name__)
        queries = self.model_queries(topics)
        out = _builder()
        # across processes (accelerate launch) the batches are shared out and every process gets
        # every query's results, in the input's order
        found = distributed.in_batches(lambda batch: self.decoder.decode(backbone, trie, batch, self.num_results,
                                                                         max_steps),
                                       queries, self.batch_size, desc="GenRetriever", verbose=self.verbose)
        for i, res in enumerate(found):
            if res:
                _extend(out, i, [table.docnos[d] for d, _ in res], [s for _, s in res],
                        [table.docids[d] for d, _ in res], name)
        return out.to_df(topics)

    def _retrieve_ngrams(self, topics: pd.DataFrame) -> pd.DataFrame:
        table = self.index.table()
        name = self._ngram_decoder().name
        out, ngrams = _builder(), []
        results = self._ngram_results(self.model_queries(topics), self.num_results)
        for i, res in enumerate(results):
            if res:
                _extend(out, i, [table.docnos[d] for d, _, _ in res], [s for _, s, _ in res],
                        [table.docids[d] for d, _, _ in res], name)
                ngrams.extend(self._ngram_strings(g) for _, _, g in res)
        frame = out.to_df(topics)
        frame["ngrams"] = pd.Series(ngrams, dtype=object, index=frame.index)  # rows in the order extended
        return frame

    def rerank(self, results: pd.DataFrame) -> pd.DataFrame:
        if len(results) == 0:
            return results.assign(score=pd.Series(dtype=float), rank=pd.Series(dtype=int),
                                  **{DOCID_COLUMN: pd.Series(dtype=object)})
        backbone, table = self.index.backbone(), self.index.table()
        results = results.assign(qid=results["qid"].astype(str), docno=results["docno"].astype(str))
        unknown = [d for d in results["docno"].unique() if d not in table]
        if unknown:
            raise ValueError(f"{len(unknown)} candidate docno(s) are not in the GR index {self.index.path!r}, "
                             f"e.g. {unknown[:3]}; re-rank candidates from the same corpus")
        out = results.copy()
        texts = self.model_queries(out)
        scores = np.zeros(len(out))
        groups = out.groupby(["qid", "query"], sort=False).indices
        if self.index.is_ngram:
            return self._rerank_ngrams(out, groups, texts)
        items = list(groups.values())

        def score(part: list) -> list:
            return [score_candidates(backbone, texts[idx[0]], [table.tokens[table.index_of(d)]
                                                               for d in out["docno"].values[idx]]) for idx in part]

        for idx, s in zip(items, distributed.in_batches(score, items, 1, desc="GenRetriever re-rank",
                                                          verbose=self.verbose, unit="query")):
            scores[idx] = s
        out["score"] = scores
        out[DOCID_COLUMN] = [table.docids[table.index_of(d)] for d in out["docno"]]
        return pt.model.add_ranks(out.drop(columns=["rank"], errors="ignore"))

    def _rerank_ngrams(self, out: pd.DataFrame, groups: dict, texts: list[str]) -> pd.DataFrame:
        """Candidates scored by the aggregated weight of the n-grams generated for their query."""
        table = self.index.table()
        keys = list(groups)
        found = self._ngram_results([texts[groups[key][0]] for key in keys], num_results=len(table))
        scores, ngrams = np.zeros(len(out)), [[] for _ in range(len(out))]
        for (qid, query), res in zip(keys, found):
            by_doc = {table.docnos[d]: (s, g) for d, s, g in res}
            for i in groups[(qid, query)]:
                s, g = by_doc.get(out["docno"].values[i], (0.0, []))
                scores[i], ngrams[i] = s, self._ngram_strings(g)
        out["score"], out["ngrams"] = scores, ngrams
        out[DOCID_COLUMN] = out["docno"]
        return pt.model.add_ranks(out.drop(columns=["rank"], errors="ignore"))


def _builder() -> pta.DataFrameBuilder:
    return pta.DataFrameBuilder(RESULT_COLUMNS)


def _extend(out: pta.DataFrameBuilder, row: int, docnos: list[str], scores: list[float], docids: list[str],
            decoder: str) -> None:
    """One query's results (best first) for input row ``row``; lists, not arrays, so that a
    single result is not broadcast as one value."""
    out.extend({"_index": [row] * len(docnos), "docno": docnos, "score": [float(s) for s in scores],
                "rank": list(range(len(docnos))), DOCID_COLUMN: docids, "decoder": [decoder] * len(docnos)})
