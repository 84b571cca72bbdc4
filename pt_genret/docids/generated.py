"""ZeroGR's docid generator: a short keyword-centric sentence (6-8 words) per document.

ZeroGR fine-tunes a small LM to map any document to a sentence of its key words, ranked by how
much of the document they cover: natural-language docids that a pretrained model already
knows how to write, with fewer conflicts than titles and faster convergence than codes.

* ``model="extractive"`` (offline default): the document's key phrases (runs of 1-3 content
  words, best first by tf-idf coverage against the corpus, as
  :class:`~pt_genret.queries.ExtractiveQueryGenerator` ranks them) are added in order until
  the sentence has ``min_words``-``max_words`` words.
* ``model=<HF name or local path>``: any seq2seq or causal LM is prompted with the document and
  writes the sentence greedily (deterministic); its words are cleaned (lower-cased, repeats
  dropped, cut to ``max_words``) and topped up with extractive key phrases when short.

Conflicts are resolved in document order: a document whose sentence is taken swaps its last
word for its next key word not yet in the sentence, then the next, ...; only when every
alternative is taken does it get a number (``"... 2"``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import pandas as pd

from pt_genret.docids.lexical import CorpusFrequencyScheme, content_words, words
from pt_genret.documents import full_texts, titles
from pt_genret.options import option

PROMPT = ("Write a short keyword sentence of {min_words} to {max_words} words that identifies this document, "
          "most important words first.\nDocument: {text}\nKeywords:")


@dataclass(kw_only=True, eq=False)
class GeneratedScheme(CorpusFrequencyScheme):
    """A keyword-centric sentence of ``min_words``-``max_words`` words written for each document.

    Args:
        model: ``"extractive"`` (offline default) or a HF seq2seq/causal model name or local path.
        min_words, max_words: length of the sentence in words (ZeroGR: 6-8).
        prompt: the generation prompt (``{text}``, ``{min_words}``, ``{max_words}``).
        max_alternatives: key words tried, one by one, in place of the last word on a conflict.
    """

    name = "generated"
    kind = "text"

    model: str = option("extractive")
    min_words: int = option(6, positive=True)
    max_words: int = option(8, positive=True)
    prompt: str = option(PROMPT)
    max_alternatives: int = option(8)
    _generator: object = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError(f"model must be 'extractive' or a HF model name/path, got {self.model!r}")
        if not (isinstance(self.min_words, int) and isinstance(self.max_words, int)
                and 1 <= self.min_words <= self.max_words):
            raise ValueError(f"min_words and max_words must be whole numbers with 1 <= min_words <= max_words, "
                             f"got {self.min_words}, {self.max_words}")
        super().__post_init__()

    def fit(self, docs: pd.DataFrame) -> "GeneratedScheme":
        from pt_genret.queries.extractive import ExtractiveQueryGenerator

        self.num_docs, self.df = ExtractiveQueryGenerator.document_frequencies(full_texts(docs))
        self.fitted = True
        return self

    # one document ------------------------------------------------------------------------
    def ranked_words(self, docno: str, title: str, text: str) -> list[str]:
        """The document's content words in key-phrase order (best-covering phrases first)."""
        from pt_genret.queries.extractive import ExtractiveQueryGenerator

        phrases = ExtractiveQueryGenerator(max_keywords=self.max_words).key_phrases(
            docno, title, text, self.num_docs, self.df)
        ranked = list(dict.fromkeys(w for p in phrases for w in p.split()))
        return ranked or list(dict.fromkeys(content_words(f"{title} {text}") or words(f"{title} {text}")))

    def sentence(self, ranked: list[str], written: Iterable[str] = ()) -> list[str]:
        """``written`` words (cleaned, at most ``max_words``) topped up with ``ranked`` words."""
        out = list(dict.fromkeys(w for w in written if w))[: self.max_words]
        for w in ranked:
            if len(out) >= self.min_words:
                break
            if w not in out:
                out.append(w)
        return out

    def _written(self, docs: pd.DataFrame) -> list[list[str]]:
        """The model's sentence for each document (empty lists for the extractive default)."""
        if self.model == "extractive":
            return [[] for _ in range(len(docs))]
        if self._generator is None:
            from pt_genret.textgen import PromptedGenerator

            self._generator = PromptedGenerator(self.model, max_new_tokens=4 * self.max_words)
        prompts = [self.prompt.format(text=t, min_words=self.min_words, max_words=self.max_words)
                   for t in full_texts(docs)]
        return [words(texts[0]) for texts in self._generator.generate(prompts)]

    def candidates(self, docs: pd.DataFrame) -> list[list[str]]:
        """Per document: its sentence, then the alternatives tried on a conflict."""
        out = []
        heads, texts = titles(docs).tolist(), docs["text"].fillna("").astype(str).tolist()
        for docno, title, text, written in zip(docs["docno"].astype(str), heads, texts, self._written(docs)):
            ranked = self.ranked_words(docno, title, text)
            best = self.sentence(ranked, written) or ["untitled"]
            spare = [w for w in ranked if w not in best][: self.max_alternatives]
            stem = best[:-1] if len(best) >= self.max_words else best
            out.append([" ".join(best)] + [" ".join(stem + [w]) for w in spare])
        return out

    def propose(self, docs: pd.DataFrame) -> list[str]:
        return [c[0] for c in self.candidates(docs)]

    def assign(self, docs: pd.DataFrame, taken: Iterable[str] = ()) -> list[str]:
        """Unique sentences in document order: a taken sentence gives way to the document's next
        alternative, and a number is added only when every alternative is taken."""
        if not self.fitted:
            raise RuntimeError(f"docid scheme {self.name!r} must be fitted before assign()")
        used, out = set(taken), []
        for options in self.candidates(docs):
            docid = next((o for o in options if o not in used), None)
            n = 1
            while docid is None or docid in used:
                docid = self.disambiguate(options[0], n)
                n += 1
            used.add(docid)
            out.append(docid)
        return out
