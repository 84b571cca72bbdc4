"""URL docids (Ultron-URL): the words of the document's URL.

``https://www.example.com/wiki/Jet_engine`` becomes ``"example com wiki jet engine"``: the
scheme (``https://``) and a leading ``www.`` are dropped, percent-escapes are decoded, the host
and path are split on ``/ . - _ ? = &`` (and on any other character that is not a letter or
digit, such as ``#``, ``:``, ``+`` or spaces), the pieces are lower-cased, and at most
``max_words`` of them are kept.

**Fallback.** A document whose ``url`` is missing, empty or has no words (and every document
when the frame has no ``url`` column) uses its title words instead, then its text's first
words, then ``"untitled"``, like the ``title`` scheme. Pass ``require_url=True`` to refuse
frames without a ``url`` column instead (a ``ValueError`` at :meth:`fit` and :meth:`propose`).
"""
from __future__ import annotations

import re
from urllib.parse import unquote

from dataclasses import dataclass, field

import pandas as pd

from pt_genret.docids.base import DocIdScheme
from pt_genret.docids.lexical import words
from pt_genret.options import option

_URL_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*://")
_SEPARATORS = re.compile(r"[\W_]+")  # / . - _ ? = & and every other non-alphanumeric character


def url_words(url: str) -> list[str]:
    """Lower-cased words of a URL's host and path, without the URL scheme and ``www.``."""
    url = unquote(str(url)).strip().lower()
    url = _URL_SCHEME.sub("", url)
    if url.startswith("//"):  # protocol-relative
        url = url[2:]
    if url.startswith("www."):
        url = url[4:]
    return [w for w in _SEPARATORS.split(url) if w]


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and value != value) and str(value).strip() != ""


@dataclass(kw_only=True, eq=False)
class UrlScheme(DocIdScheme):
    """The URL's words (host, then path), at most ``max_words``; title/text words without a URL."""

    name = "url"
    kind = "text"

    max_words: int = option(12, positive=True)
    require_url: bool = option(False)

    def _check(self, docs: pd.DataFrame) -> None:
        if self.require_url and "url" not in docs.columns:
            raise ValueError("url docid scheme: the document frame has no 'url' column "
                             f"(columns: {list(docs.columns)}); add one or pass require_url=False to "
                             "fall back to title/text words")

    def fit(self, docs: pd.DataFrame) -> "UrlScheme":
        self._check(docs)
        self.fitted = True
        return self

    def docid(self, url, title, text) -> str:
        ws = url_words(url) if _present(url) else []
        if not ws:
            ws = words(title if _present(title) else "") or words(text if _present(text) else "")
        return " ".join(ws[: self.max_words]) or "untitled"

    def propose(self, docs: pd.DataFrame) -> list[str]:
        self._check(docs)
        n = len(docs)
        urls = docs["url"].tolist() if "url" in docs.columns else [None] * n
        titles = docs["title"].tolist() if "title" in docs.columns else [None] * n
        texts = docs["text"].tolist() if "text" in docs.columns else [None] * n
        return [self.docid(u, t, x) for u, t, x in zip(urls, titles, texts)]
