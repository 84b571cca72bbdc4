"""The other decoders: sharpened beam search and reverse-annealed sampling without replacement."""
from __future__ import annotations

import pandas as pd
import pytest

from pt_genret.decoding import DECODERS, AnnealedSampling, ConstrainedBeamSearch, Temperature, get_decoder
from pt_genret.retriever import GenRetriever

QUERIES = ["amber planet astronomy", "garlic butter sauce recipe", "penalty goal referee", "telescope"]


def parts(index):
    return index.backbone(), index.trie(), index.table(), int(index.meta["max_docid_length"]) + 1


def test_registry_names():
    assert {"beam", "sharpened", "annealed"} <= set(DECODERS)
    assert get_decoder("sharpened").transforms() == (Temperature(0.5),)
    with pytest.raises(ValueError, match="unknown decoder"):
        get_decoder("nope")


def test_sharpened_beam_search_is_a_valid_different_distribution(any_index):
    """With beams covering every document both searches rank the whole corpus, with other scores."""
    bb, trie, table, steps = parts(any_index)
    n = len(table)
    plain = ConstrainedBeamSearch(num_beams=n).decode(bb, trie, QUERIES, n, steps)
    sharp = ConstrainedBeamSearch(num_beams=n, temperature=0.5).decode(bb, trie, QUERIES, n, steps)
    for p, s in zip(plain, sharp):
        assert len(p) == len(s) == n
        assert sorted(d for d, _ in p) == sorted(d for d, _ in s) == list(range(n))
        assert [x for _, x in s] == sorted((x for _, x in s), reverse=True)
    assert any(dict(p) != dict(s) for p, s in zip(plain, sharp))


def test_annealed_sampling_draws_distinct_valid_documents(any_index):
    bb, trie, table, steps = parts(any_index)
    results = AnnealedSampling(seed=3).decode(bb, trie, QUERIES, 6, steps)
    for res in results:
        docs = [d for d, _ in res]
        assert len(docs) == 6 and len(set(docs)) == 6
        assert all(0 <= d < len(table) for d in docs)
        assert [s for _, s in res] == [-float(i) for i in range(6)]  # ranked in draw order


def test_annealed_sampling_exhausts_the_corpus_without_repeats(any_index):
    bb, trie, table, steps = parts(any_index)
    res = AnnealedSampling(seed=1).decode(bb, trie, QUERIES[:2], len(table) + 5, steps)
    for r in res:
        assert sorted(d for d, _ in r) == list(range(len(table)))
    assert len(trie) == len(table)  # the index's own trie is untouched


def test_annealed_sampling_is_seeded(any_index):
    bb, trie, _, steps = parts(any_index)
    a = AnnealedSampling(seed=5).decode(bb, trie, QUERIES, 5, steps)
    b = AnnealedSampling(seed=5).decode(bb, trie, QUERIES, 5, steps)
    assert a == b


def test_annealed_sampling_with_the_cache_draws_what_recomputing_draws(any_index):
    bb, trie, _, steps = parts(any_index)
    cached = AnnealedSampling(seed=7).decode(bb, trie, QUERIES, 8, steps)
    recomputed = AnnealedSampling(seed=7, use_cache=False).decode(bb, trie, QUERIES, 8, steps)
    assert cached == recomputed  # batches of queries finishing their draws at different steps


def test_first_draw_at_low_temperature_is_the_greedy_docid(any_index):
    bb, trie, _, steps = parts(any_index)
    greedy = ConstrainedBeamSearch(num_beams=1).decode(bb, trie, QUERIES, 1, steps)
    drawn = AnnealedSampling(start_temperature=1e-4, seed=0).decode(bb, trie, QUERIES, 1, steps)
    assert [g[0][0] for g in greedy] == [d[0][0] for d in drawn]


def test_retriever_records_the_decoder(title_index):
    topics = pd.DataFrame({"qid": ["1", "2"], "query": QUERIES[:2]})
    for name in ("beam", "sharpened", "annealed"):
        res = GenRetriever(title_index, num_results=3, decoder=name)(topics)
        assert set(res["decoder"]) == {name}
        assert res.groupby("qid")["docno"].nunique().tolist() == [3, 3]
    custom = GenRetriever(title_index, num_results=2, decoder=AnnealedSampling(end_temperature=2.0, name="mine"))
    assert set(custom(topics)["decoder"]) == {"mine"}
    opts = GenRetriever(title_index, num_results=2, decoder="annealed", decoder_options={"seed": 9})
    assert opts.decoder.seed == 9


def test_step_transforms_compose(any_index):
    """Temperature is a step transform: the 'sharpened' decoder equals beam search with
    Temperature(0.5), and transforms apply in order (T1 then T2 is T1 * T2)."""
    import torch

    from pt_genret.decoding import apply_transforms

    bb, trie, _, steps = parts(any_index)
    n = 5
    sharp = get_decoder("sharpened", num_beams=n).decode(bb, trie, QUERIES, n, steps)
    composed = ConstrainedBeamSearch(num_beams=n, step_transforms=(Temperature(0.5),)).decode(bb, trie, QUERIES, n, steps)
    twice = ConstrainedBeamSearch(num_beams=n, step_transforms=(Temperature(0.25), Temperature(2.0))).decode(
        bb, trie, QUERIES, n, steps)
    for a, b, c in zip(sharp, composed, twice):
        assert [d for d, _ in a] == [d for d, _ in b] == [d for d, _ in c]
        assert [s for _, s in a] == pytest.approx([s for _, s in b], abs=1e-5)
    logits = torch.tensor([[1.0, 2.0, 4.0]])
    assert torch.allclose(apply_transforms((Temperature(2.0), Temperature(0.5)), logits, 0), logits)
    with pytest.raises(ValueError, match="Temperature value must be > 0"):
        Temperature(0.0)


def test_a_registered_decoder_is_one_line(title_index, monkeypatch):
    """A decoder registered by name is found by GenRetriever (and would be by the CLI)."""
    from dataclasses import dataclass

    from pt_genret.registry import DECODERS

    @dataclass
    class FirstDocs:
        name: str = "first"
        constraint: str = "trie"

        def decode(self, backbone, trie, queries, num_results, max_steps):
            return [[(d, -float(d)) for d in range(num_results)] for _ in queries]

    monkeypatch.setitem(DECODERS, "first", FirstDocs)
    res = GenRetriever(title_index, num_results=2, decoder="first")(pd.DataFrame({"qid": ["1"], "query": ["x"]}))
    assert list(res["decoder"]) == ["first", "first"] and list(res["rank"]) == [0, 1]
    assert "first" in DECODERS.names()
