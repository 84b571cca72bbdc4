"""N-gram identifiers: any substring of a document identifies it (SEAL), in one or several views (MINDER).

These schemes assign no new string: the document is its own identifier. What they define is
the *views*, the texts whose substrings the model may write for a document:

* ``ngrams`` (SEAL): one view, the title followed by the text.
* ``multiview`` (MINDER): three views of the same document, ``title``, ``body`` and
  ``query`` (its pseudo-queries). Each view is announced by a marker token (a code token
  ``<c0>``, ``<c1>``, ``<c2>``) so the model chooses the view first, then writes an n-gram of it.

The index keeps one :class:`~pt_genret.constraints.NgramIndex` per view; decoding and the
aggregation of generated n-grams into document scores live in
:mod:`pt_genret.decoding.ngram_search`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from pt_genret.docids.base import DocIdScheme
from pt_genret.documents import full_texts, titles
from pt_genret.options import option


@dataclass(kw_only=True, eq=False)
class NgramScheme(DocIdScheme):
    """SEAL: the n-grams of each document's title and text."""

    name = "ngrams"
    kind = "ngrams"
    constraint = "ngrams"
    views: ClassVar[tuple[str, ...]] = ("text",)

    span_length: int = option(10, positive=True)

    def fit(self, docs: pd.DataFrame) -> "NgramScheme":
        self.fitted = True
        return self

    def propose(self, docs: pd.DataFrame) -> list[str]:
        return docs["docno"].astype(str).tolist()

    def markers(self) -> int:
        """Number of view marker tokens (none with a single view)."""
        return 0 if len(self.views) == 1 else len(self.views)

    def num_codes(self) -> int:
        return self.markers()

    def view_texts(self, docs: pd.DataFrame) -> dict[str, list[list[str]]]:
        """For each view, the texts of each document (a list per document)."""
        return {"text": [[t] for t in full_texts(docs)]}


@dataclass(kw_only=True, eq=False)
class MultiViewScheme(NgramScheme):
    """MINDER: title, body and pseudo-query views of each document.

    The ``query`` view needs the ``querygen`` column (pseudo-queries), which the indexer adds
    before it reads the views; a document without pseudo-queries contributes its title there.
    """

    name = "multiview"
    views = ("title", "body", "query")

    def view_texts(self, docs: pd.DataFrame) -> dict[str, list[list[str]]]:
        text = docs["text"].fillna("").astype(str).tolist()
        title = [t if t.strip() else " ".join(x.split()[:12]) for t, x in zip(titles(docs), text)]
        if "querygen" in docs.columns:
            queries = [[q for q in qs if q.strip()] or [t] for qs, t in zip(docs["querygen"], title)]
        else:
            queries = [[t] for t in title]
        return {"title": [[t] for t in title], "body": [[x if x.strip() else t] for x, t in zip(text, title)],
                "query": queries}
