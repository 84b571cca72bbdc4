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

Retrieval and re-ranking both go through the index's constraint
(:meth:`~pt_genret.reader.IndexReader.constraint`, :mod:`pt_genret.constraints.base`), with the
given decoder or the constraint's default. Over an n-gram index (SEAL, MINDER) the model writes
n-grams instead, ``score`` is SEAL's aggregated n-gram weight, and the constraint's extra
``ngrams`` column lists the generated n-grams each document was scored by; re-ranking scores
candidates by the same aggregation (0 when none matches).
"""
from __future__ import annotations

from dataclasses import is_dataclass, replace

import numpy as np
import pandas as pd
import pyterrier as pt
import pyterrier_alpha as pta

from pt_genret import distributed
from pt_genret.decoding import get_decoder
from pt_genret.instructions import check_instruction, instructed_queries
from pt_genret.reader import IndexReader

DOCID_COLUMN = "gr_docid"  # the generated identifier; PyTerrier's ``docid`` is an integer row id
RESULT_COLUMNS = ["docno", "score", "rank", DOCID_COLUMN, "decoder"]  # added to the input's columns
OUTPUT_COLUMNS = ["qid", "query", *RESULT_COLUMNS]
# the decoder by default: the trie's; over an index with another constraint, that constraint's default
DEFAULT_DECODER = "beam"


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

    def __init__(self, index: IndexReader | str, num_results: int = 100, decoder=DEFAULT_DECODER,
                 num_beams: int | None = None, batch_size: int = 8, verbose: bool = False, decoder_options: dict | None = None,
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
        decoder = self._decoder() if self.index.built() else self.decoder
        decoder = replace(decoder, num_beams=decoder.num_beams or self.num_results)
        return GenRetriever(self.index, num_results=k, decoder=decoder, batch_size=self.batch_size,
                            verbose=self.verbose, instruction=self.instruction)

    def _decoder(self):
        """The decoder over the index's constraint: the given one, or the constraint's default
        when a default decoder was named (``"beam"`` over an n-gram index decodes with ``"ngram"``)."""
        return self.index.constraint().decoder_for(self.decoder, self._decoder_arg == DEFAULT_DECODER,
                                                   self._decoder_options, where=repr(self.index.path))

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
        constraint, decoder = self.index.constraint(), self._decoder()
        backbone, table = self.index.backbone(), self.index.table()
        max_steps = int(self.index.meta["max_docid_length"]) + 1
        name = getattr(decoder, "name", type(decoder).__name__)
        out, extras = _builder(), {c: [] for c in constraint.columns}
        # across processes (accelerate launch) the batches are shared out and every process gets
        # every query's results, in the input's order
        found = distributed.in_batches(lambda batch: constraint.decode(decoder, backbone, batch, self.num_results,
                                                                       max_steps),
                                       self.model_queries(topics), self.batch_size, desc="GenRetriever",
                                       verbose=self.verbose)
        for i, hits in enumerate(found):
            if hits:
                _extend(out, i, [table.docnos[d] for d, _, _ in hits], [s for _, s, _ in hits],
                        [table.docids[d] for d, _, _ in hits], name)
                for column, values in extras.items():
                    values.extend(extra[column] for _, _, extra in hits)
        frame = out.to_df(topics)
        for column, values in extras.items():  # rows in the order extended
            frame[column] = pd.Series(values, dtype=object, index=frame.index)
        return frame

    def rerank(self, results: pd.DataFrame) -> pd.DataFrame:
        """Score the given candidates of each query (through the index's constraint); never adds documents."""
        if len(results) == 0:
            return results.assign(score=pd.Series(dtype=float), rank=pd.Series(dtype=int),
                                  **{DOCID_COLUMN: pd.Series(dtype=object)})
        constraint, decoder = self.index.constraint(), self._decoder()
        backbone, table = self.index.backbone(), self.index.table()
        results = results.assign(qid=results["qid"].astype(str), docno=results["docno"].astype(str))
        unknown = [d for d in results["docno"].unique() if d not in table]
        if unknown:
            raise ValueError(f"{len(unknown)} candidate docno(s) are not in the GR index {self.index.path!r}, "
                             f"e.g. {unknown[:3]}; re-rank candidates from the same corpus")
        out = results.copy()
        texts = self.model_queries(out)
        rows = [table.index_of(d) for d in out["docno"]]
        items = list(out.groupby(["qid", "query"], sort=False).indices.values())

        def score(part: list) -> list:
            return constraint.score(decoder, backbone, [texts[idx[0]] for idx in part],
                                    [[rows[i] for i in idx] for idx in part], table)

        scores, extras = np.zeros(len(out)), {c: [None] * len(out) for c in constraint.columns}
        for idx, scored in zip(items, distributed.in_batches(score, items, self.batch_size, desc="GenRetriever re-rank",
                                                             verbose=self.verbose, unit="query")):
            for i, (s, extra) in zip(idx, scored):
                scores[i] = s
                for column in extras:
                    extras[column][i] = extra[column]
        out["score"] = scores
        for column, values in extras.items():
            out[column] = values
        out[DOCID_COLUMN] = [table.docids[i] for i in rows]
        return pt.model.add_ranks(out.drop(columns=["rank"], errors="ignore"))


def _builder() -> pta.DataFrameBuilder:
    return pta.DataFrameBuilder(RESULT_COLUMNS)


def _extend(out: pta.DataFrameBuilder, row: int, docnos: list[str], scores: list[float], docids: list[str],
            decoder: str) -> None:
    """One query's results (best first) for input row ``row``; lists, not arrays, so that a
    single result is not broadcast as one value."""
    out.extend({"_index": [row] * len(docnos), "docno": docnos, "score": [float(s) for s in scores],
                "rank": list(range(len(docnos))), DOCID_COLUMN: docids, "decoder": [decoder] * len(docnos)})
