"""Edge cases at the boundaries: token-level docid collisions, cutoffs, ids given as ints, batching."""
from __future__ import annotations

import pandas as pd
import pytest

from pt_genret.decoding import AnnealedSampling
from pt_genret.docids import get_scheme
from pt_genret.docids.lexical import words
from pt_genret.index import spell_unique
from pt_genret.retriever import GenRetriever


class _FoldingBackbone:
    """Spells text as the ASCII-folded, lower-cased words (as tokenizers that strip accents do)."""

    def spell(self, docid: str, kind: str) -> list[int]:
        folded = docid.lower().replace("é", "e")
        return [sum(map(ord, w)) for w in folded.split()] + [0]


def test_docids_that_spell_the_same_tokens_are_disambiguated():
    scheme = get_scheme("title").fit(pd.DataFrame({"docno": ["a"], "text": ["x"], "title": ["x"]}))
    ids, tokens = spell_unique(scheme, _FoldingBackbone(), ["café au lait", "cafe au lait", "tea"])
    assert ids[0] == "café au lait" and ids[1] != "cafe au lait" and ids[2] == "tea"
    assert len({tuple(t) for t in tokens}) == 3


def test_words_keep_letters_of_any_script():
    assert words("Café au lait, 東京 well-known") == ["café", "au", "lait", "東京", "well-known"]


def test_rank_cutoff_keeps_the_beam_width(title_index):
    topics = pd.DataFrame({"qid": ["1", "2"], "query": ["amber planet astronomy", "garlic butter sauce"]})
    full = GenRetriever(title_index, num_results=20)
    cut = full % 5
    top5 = full(topics).groupby("qid").head(5).reset_index(drop=True)
    got = cut(topics).reset_index(drop=True)
    assert got[["qid", "docno"]].equals(top5[["qid", "docno"]])
    assert full.fuse_rank_cutoff(5).decoder.num_beams == 20
    assert GenRetriever(title_index, num_results=20, decoder="annealed").fuse_rank_cutoff(5) is None


def test_duplicate_qids_are_refused(title_index):
    with pytest.raises(ValueError, match="duplicate qid"):
        GenRetriever(title_index, num_results=3)(pd.DataFrame({"qid": ["1", "1"], "query": ["a", "b"]}))


def test_num_beams_is_only_for_beam_decoders(title_index):
    with pytest.raises(ValueError, match="decoder .annealed. does not take num_beams"):
        GenRetriever(title_index, decoder="annealed", num_beams=5)


def test_rerank_accepts_integer_ids(tmp_path, docs):
    from conftest import build_tiny_index

    numbered = [dict(d, docno=str(i)) for i, d in enumerate(docs)]
    index = build_tiny_index(tmp_path / "num.gr", numbered, epochs=1)
    cands = pd.DataFrame({"qid": [7, 7], "query": ["telescope", "telescope"], "docno": [0, 1], "score": [1.0, 0.5],
                          "rank": [0, 1]})
    out = GenRetriever(index)(cands)
    assert sorted(out["docno"]) == ["0", "1"] and set(out["qid"]) == {"7"}


def test_annealed_sampling_does_not_depend_on_batching(title_index):
    bb, trie = title_index.backbone(), title_index.trie()
    steps = int(title_index.meta["max_docid_length"]) + 1
    queries = ["amber planet astronomy", "garlic butter sauce", "penalty goal referee"]
    together = AnnealedSampling(seed=4).decode(bb, trie, queries, 4, steps)
    alone = [AnnealedSampling(seed=4).decode(bb, trie, [q], 4, steps)[0] for q in queries]
    assert together == alone
