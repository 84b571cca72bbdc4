"""The suffix-array n-gram index against brute force on random seeded corpora."""
from __future__ import annotations

import numpy as np
import pytest

from pt_genret.constraints import NgramIndex


def brute(docs, ngram):
    n = len(ngram)
    hits = [(d, i) for d, doc in enumerate(docs) for i in range(len(doc) - n + 1) if list(doc[i:i + n]) == list(ngram)]
    follow = sorted({docs[d][i + n] for d, i in hits if i + n < len(docs[d])})
    return len(hits), sorted({d for d, _ in hits}), follow


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force(seed, tmp_path):
    rng = np.random.default_rng(seed)
    vocab = 6
    docs = [rng.integers(0, vocab, size=rng.integers(1, 15)).tolist() for _ in range(12)]
    index = NgramIndex.build(docs, vocab)
    index.save(tmp_path / "ngrams.npz")
    loaded = NgramIndex.load(str(tmp_path / "ngrams.npz"))
    for idx in (index, loaded):
        for _ in range(200):
            doc = docs[rng.integers(len(docs))]
            start = rng.integers(len(doc))
            ngram = doc[start:start + rng.integers(1, 4)]
            if rng.random() < 0.3:  # also n-grams that may not occur
                ngram = rng.integers(0, vocab, size=rng.integers(1, 4)).tolist()
            count, in_docs, follow = brute(docs, ngram)
            assert idx.count(ngram) == count
            assert idx.documents(ngram).tolist() == in_docs
            assert idx.next_tokens(ngram).tolist() == follow


def test_no_ngram_crosses_a_document_boundary():
    index = NgramIndex.build([[1, 2], [3, 4]], 5)
    assert index.count([2, 3]) == 0
    assert index.next_tokens([2]).tolist() == []  # 2 ends its document
    assert index.next_tokens([]).tolist() == [1, 2, 3, 4]
    assert index.documents([]).tolist() == [0, 1]


def test_bad_input_and_files(tmp_path):
    with pytest.raises(ValueError, match="no documents"):
        NgramIndex.build([], 5)
    with pytest.raises(ValueError, match="outside vocabulary"):
        NgramIndex.build([[1, 9]], 5)
    with pytest.raises(FileNotFoundError):
        NgramIndex.load(str(tmp_path / "missing.npz"))
    np.savez(tmp_path / "bad.npz", something=np.zeros(2))
    with pytest.raises(ValueError, match="missing arrays"):
        NgramIndex.load(str(tmp_path / "bad.npz"))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="corrupt"):
        NgramIndex.load(str(tmp_path / "junk.npz"))


@pytest.mark.parametrize("seed", [3, 4])
def test_children_and_owners_match_brute_force(seed):
    """One decoding step (children of an interval) and several sequences per document."""
    rng = np.random.default_rng(seed)
    vocab = 5
    seqs = [rng.integers(0, vocab, size=rng.integers(1, 12)).tolist() for _ in range(10)]
    owners = rng.integers(0, 4, size=len(seqs))
    index = NgramIndex.build(seqs, vocab, owners)
    assert index.num_tokens == sum(len(s) for s in seqs)
    for _ in range(100):
        seq = seqs[rng.integers(len(seqs))]
        start = rng.integers(len(seq))
        prefix = seq[start:start + rng.integers(0, 3)]
        lo, hi = index.interval(prefix)
        tokens, starts, counts = index.children(lo, hi, len(prefix))
        assert tokens.tolist() == index.next_tokens(prefix).tolist()
        for tok, s, c in zip(tokens, starts, counts):
            n, docs, _ = brute(seqs, list(prefix) + [int(tok)])
            assert c == n and (s, s + c) == index.interval(list(prefix) + [int(tok)])
            assert index.documents_in(s, s + c).tolist() == sorted({int(owners[d]) for d in docs})


def test_owners_must_match_sequences():
    with pytest.raises(ValueError, match="owners"):
        NgramIndex.build([[1, 2], [3]], 5, owners=[0])
