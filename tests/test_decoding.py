"""Constrained beam search and candidate scoring on the trained tiny indexes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pt_genret.constraints.trie import PrefixTrie
from pt_genret.decoding import ConstrainedBeamSearch, get_decoder, score_candidates
from pt_genret.decoding.model_calls import encode, next_token_logits

QUERIES = ["amber planet astronomy", "garlic butter sauce recipe", "penalty goal referee",
           "python compiler syntax", "nothing relevant at all", "telescope"]


def parts(index):
    return index.backbone(), index.trie(), index.table(), int(index.meta["max_docid_length"]) + 1


def check_results(results, table, num_results):
    n_docs = len(table)
    for res in results:
        docs = [d for d, _ in res]
        scores = [s for _, s in res]
        assert len(res) <= min(num_results, n_docs)
        assert all(0 <= d < n_docs for d in docs)
        assert len(set(docs)) == len(docs)  # no duplicate document per query
        assert all(table.docnos[d] in table for d in docs)
        assert all(np.isfinite(s) and s <= 1e-6 for s in scores)
        assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("num_results", [1, 5, 10])
def test_beam_search_invariants(any_index, num_results):
    bb, trie, table, steps = parts(any_index)
    results = ConstrainedBeamSearch().decode(bb, trie, QUERIES, num_results, steps)
    assert len(results) == len(QUERIES)
    check_results(results, table, num_results)
    assert all(len(r) == num_results for r in results)  # enough documents exist for every query


def test_narrow_beam_still_valid(any_index):
    bb, trie, table, steps = parts(any_index)
    results = ConstrainedBeamSearch(num_beams=2).decode(bb, trie, QUERIES, 8, steps)
    check_results(results, table, 8)
    assert all(len(r) >= 1 for r in results)


def test_restricted_trie_returns_only_subset(any_index):
    bb, trie, table, steps = parts(any_index)
    subset = [0, 3, 9, 17, 22, 30, 31]
    view = trie.restrict(subset)
    results = ConstrainedBeamSearch().decode(bb, view, QUERIES, 5, steps)
    check_results(results, table, 5)
    assert all(len(r) == 5 and {d for d, _ in r} <= set(subset) for r in results)
    # asking for more than the subset gives exactly the subset
    results = ConstrainedBeamSearch().decode(bb, view, QUERIES[:2], 20, steps)
    assert all(sorted(d for d, _ in r) == subset for r in results)


def test_more_results_than_documents_returns_all_with_exact_scores(any_index):
    bb, trie, table, steps = parts(any_index)
    n = len(table)
    results = ConstrainedBeamSearch().decode(bb, trie, QUERIES[:2], n + 20, steps)
    for query, res in zip(QUERIES[:2], results):
        assert sorted(d for d, _ in res) == list(range(n))
        # a beam as wide as the corpus is exhaustive: scores are the exact log-likelihoods
        exact = score_candidates(bb, query, table.tokens)
        got = np.array([s for _, s in sorted(res)])
        np.testing.assert_allclose(got, exact, atol=1e-4)
        best = [d for d, _ in res[:5]]
        assert best == list(np.argsort(-exact, kind="stable")[:5])


def test_batched_decoding_equals_one_query_at_a_time(any_index):
    bb, trie, table, steps = parts(any_index)
    dec = ConstrainedBeamSearch()
    together = dec.decode(bb, trie, QUERIES, 5, steps)
    for query, res in zip(QUERIES, together):
        (alone,) = dec.decode(bb, trie, [query], 5, steps)
        assert [d for d, _ in alone] == [d for d, _ in res]
        np.testing.assert_allclose([s for _, s in alone], [s for _, s in res], atol=1e-4)


def manual_logprob(bb, query, tokens):
    hidden, mask = encode(bb, [query])
    total = 0.0
    prefix = [bb.decoder_start_token_id]
    for tok in tokens:
        logits = next_token_logits(bb, hidden, mask, torch.tensor([prefix], device=hidden.device))
        total += float(torch.log_softmax(logits, dim=-1)[0, tok])
        prefix.append(tok)
    return total


def test_score_candidates_is_exact_sum_of_step_logprobs(any_index):
    bb, _, table, _ = parts(any_index)
    idx = [0, 5, 11, 20, 31]
    # real docids plus sequences of other lengths, so batches are padded
    cands = [table.tokens[i] for i in idx] + [table.tokens[1][:2], table.tokens[2] + table.tokens[3]]
    assert len({len(c) for c in cands}) >= 3
    for query in QUERIES[:3]:
        got = score_candidates(bb, query, cands, batch_size=2)  # several batches with padding
        manual = [manual_logprob(bb, query, c) for c in cands]
        np.testing.assert_allclose(got, manual, atol=1e-4)
        assert got.shape == (len(cands),)
    assert score_candidates(bb, "anything", []).shape == (0,)


def test_single_document_trie(any_index):
    bb, trie, table, steps = parts(any_index)
    one = PrefixTrie.build([table.tokens[7]], trie.vocab_size)
    for num_results in (1, 10):
        results = ConstrainedBeamSearch().decode(bb, one, QUERIES[:3], num_results, steps)
        for query, res in zip(QUERIES[:3], results):
            assert [d for d, _ in res] == [0]
            np.testing.assert_allclose(res[0][1], score_candidates(bb, query, [table.tokens[7]])[0], atol=1e-4)


def test_get_decoder():
    dec = get_decoder("beam", num_beams=3)
    assert isinstance(dec, ConstrainedBeamSearch) and dec.num_beams == 3
    assert get_decoder(dec) is dec
    with pytest.raises(ValueError, match="unknown decoder"):
        get_decoder("greedy-nonsense")


def check_incremental_decoder(index) -> None:
    """Three cached steps with beam reorders (the last one moving rows with different prefixes)
    give the logits of recomputing every prefix, and the model's cache is kept throughout."""
    from pt_genret.decoding.model_calls import IncrementalDecoder

    backbone, trie, table, steps = parts(index)
    hidden, mask = encode(backbone, QUERIES[:2])
    decoder = IncrementalDecoder(backbone, hidden, mask, group=3)
    start = torch.full((6,), backbone.decoder_start_token_id)
    decoder.step(start)
    decoder.reorder(torch.tensor([2, 0, 1, 5, 3, 3]))
    firsts = sorted({t[0] for t in table.tokens})
    second = torch.tensor([firsts[i % len(firsts)] for i in range(6)])
    decoder.step(second)
    order = torch.tensor([1, 1, 0, 5, 4, 3])  # within each query; rows now differ
    decoder.reorder(order)
    third = torch.tensor([firsts[(i + 1) % len(firsts)] for i in range(6)])
    logits = decoder.step(third)
    assert decoder.incremental and decoder.cache is not None  # the model's cache, not a silent fallback
    prefixes = torch.stack([start, second[order], third], dim=1)
    expected = next_token_logits(backbone, hidden.repeat_interleave(3, 0), mask.repeat_interleave(3, 0), prefixes)
    assert torch.allclose(logits, expected, atol=1e-4)


def test_incremental_decoder_keeps_its_cache_and_matches_recomputing(any_index):
    check_incremental_decoder(any_index)
