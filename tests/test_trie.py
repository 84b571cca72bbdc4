"""PrefixTrie: construction, constraint queries, updates, restriction and persistence."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from pt_genret.constraints.trie import DEAD, FORMAT_VERSION, ROOT, PrefixTrie

V = 12
EOS = V - 1
SEQS = [[1, 2, EOS], [1, 3, EOS], [1, 3, 4, EOS], [5, EOS], [2, 2, 2, EOS]]


def state_of(trie: PrefixTrie, prefix) -> int:
    """Trie state reached by writing ``prefix`` from the root (DEAD if not allowed)."""
    s = np.array([ROOT])
    for tok in prefix:
        s = trie.advance(s, np.array([tok]))
    return int(s[0])


def allowed(trie: PrefixTrie, prefix) -> set[int]:
    row = trie.allowed_mask(np.array([state_of(trie, prefix)]))[0]
    return set(torch.nonzero(row).flatten().tolist())


def brute_allowed(live: dict[int, tuple], prefix) -> set[int]:
    n = len(prefix)
    return {s[n] for s in live.values() if len(s) > n and tuple(s[:n]) == tuple(prefix)}


def check_counts(trie: PrefixTrie, live_docs) -> None:
    """Every node's count is the number of live docids passing through it."""
    expected = np.zeros(trie.num_nodes, dtype=np.int64)
    for d in live_docs:
        node = int(trie.leaf_of_doc[d])
        while node != DEAD:
            expected[node] += 1
            node = int(trie.parents(np.array([node]))[0])
    np.testing.assert_array_equal(trie.count, expected)
    assert len(trie) == len(live_docs)


def test_build_allowed_advance_doc_at():
    trie = PrefixTrie.build(SEQS, V)
    assert len(trie) == 5 and trie.num_docs == 5
    assert allowed(trie, []) == {1, 2, 5}
    assert allowed(trie, [1]) == {2, 3}
    assert allowed(trie, [1, 3]) == {4, EOS}
    assert allowed(trie, [1, 3, EOS]) == set()  # a finished docid allows nothing
    assert state_of(trie, [7]) == DEAD and allowed(trie, [7]) == set()
    assert state_of(trie, [1, 2, 3]) == DEAD
    # a dead state allows nothing and completes nothing
    assert not trie.allowed_mask(np.array([DEAD])).any()
    assert trie.doc_at(np.array([DEAD])).tolist() == [DEAD]
    for i, seq in enumerate(SEQS):
        assert trie.doc_at(np.array([state_of(trie, seq)])).tolist() == [i]
        for k in range(1, len(seq)):  # proper prefixes complete no document
            assert trie.doc_at(np.array([state_of(trie, seq[:k])])).tolist() == [DEAD]


def test_batched_calls_match_single_calls():
    trie = PrefixTrie.build(SEQS, V)
    states = np.array([ROOT, state_of(trie, [1]), DEAD, state_of(trie, [1, 3]), state_of(trie, [5, EOS])])
    mask = trie.allowed_mask(states, vocab_size=V + 3)  # wider model vocabulary
    assert mask.shape == (5, V + 3) and mask.dtype == torch.bool
    assert not mask[:, V:].any()
    for row, s in zip(mask, states):
        assert set(torch.nonzero(row).flatten().tolist()) == set(
            torch.nonzero(trie.allowed_mask(np.array([s]))[0]).flatten().tolist())
    toks = np.array([1, 3, 1, EOS, 1])
    nxt = trie.advance(states, toks)
    assert nxt[0] == state_of(trie, [1])
    assert nxt[1] == state_of(trie, [1, 3])
    assert nxt[2] == DEAD and nxt[4] == DEAD
    assert trie.doc_at(nxt).tolist() == [DEAD, DEAD, DEAD, 1, DEAD]


def test_insert_new_sequences():
    trie = PrefixTrie.build(SEQS, V)
    added = trie.insert([[1, 2, 4, EOS], [6, 6, EOS]])
    assert added == [5, 6]
    assert len(trie) == 7
    assert allowed(trie, [1, 2]) == {4, EOS}
    assert allowed(trie, []) == {1, 2, 5, 6}
    assert trie.doc_at(np.array([state_of(trie, [6, 6, EOS])])).tolist() == [6]
    check_counts(trie, range(7))


def test_remove_disallows_and_keeps_counts():
    trie = PrefixTrie.build(SEQS, V)
    trie.remove([1])  # [1, 3, EOS]
    assert len(trie) == 4
    assert allowed(trie, [1, 3]) == {4}
    assert state_of(trie, [1, 3, EOS]) == DEAD
    check_counts(trie, [0, 2, 3, 4])
    trie.remove([2])  # [1, 3, 4, EOS]: the whole [1, 3] branch is gone
    assert allowed(trie, [1]) == {2}
    assert state_of(trie, [1, 3]) == DEAD
    trie.remove([2, 2])  # removing again changes nothing
    check_counts(trie, [0, 3, 4])
    trie.remove([0, 3, 4])
    assert len(trie) == 0
    assert not trie.allowed_mask(np.array([ROOT])).any()
    check_counts(trie, [])


def test_reinsert_removed_docid():
    trie = PrefixTrie.build(SEQS, V)
    trie.remove([3])
    (new,) = trie.insert([[5, EOS]])
    assert new == 5
    assert trie.doc_at(np.array([state_of(trie, [5, EOS])])).tolist() == [5]
    trie.remove([3])  # the stale index no longer owns the docid
    assert trie.doc_at(np.array([state_of(trie, [5, EOS])])).tolist() == [5]
    check_counts(trie, [0, 1, 2, 4, 5])


def test_restrict_to_subset():
    trie = PrefixTrie.build(SEQS, V)
    view = trie.restrict([1, 4])
    assert len(view) == 2
    assert allowed(view, []) == {1, 2}
    assert allowed(view, [1]) == {3}
    assert allowed(view, [1, 3]) == {EOS}
    assert view.doc_at(np.array([state_of(view, [1, 3, EOS])])).tolist() == [1]
    assert state_of(view, [1, 2]) == DEAD
    # the original is untouched
    assert len(trie) == 5 and allowed(trie, [1]) == {2, 3}
    # removed documents stay removed in a view
    trie.remove([4])
    assert len(trie.restrict([1, 4])) == 1
    assert allowed(trie.restrict([1, 4]), []) == {1}
    assert len(trie.restrict([])) == 0


def test_restrict_with_repeated_indices_counts_each_document_once():
    trie = PrefixTrie.build(SEQS, V)
    view = trie.restrict([1, 1, 4])
    assert len(view) == 2  # two live documents in the view
    check_counts(view, [1, 4])


def test_restrict_does_not_revive_a_removed_document_through_a_reused_node():
    trie = PrefixTrie.build(SEQS, V)
    trie.remove([3])  # document 3 = [5, EOS] is removed ...
    trie.insert([[5, EOS]])  # ... and the same docid now belongs to document 5
    view = trie.restrict([3])  # only the removed document 3: nothing may be allowed
    assert len(view) == 0
    assert not view.allowed_mask(np.array([ROOT])).any()


def test_duplicate_insert_errors_and_leaves_trie_unchanged():
    trie = PrefixTrie.build(SEQS, V)
    before = (trie.token.copy(), trie.count.copy(), trie.num_docs)
    with pytest.raises(ValueError, match="duplicate docid"):
        trie.insert([[6, EOS], [1, 2, EOS]])
    with pytest.raises(ValueError, match="duplicate docid"):
        trie.insert([[7, EOS], [7, EOS]])  # duplicate inside one batch
    np.testing.assert_array_equal(trie.token, before[0])
    np.testing.assert_array_equal(trie.count, before[1])
    assert trie.num_docs == before[2] and state_of(trie, [6]) == DEAD
    with pytest.raises(ValueError, match="duplicate docid"):
        PrefixTrie.build([[1, EOS], [1, EOS]], V)


def test_out_of_vocabulary_and_empty_errors():
    with pytest.raises(ValueError, match="outside vocabulary"):
        PrefixTrie.build([[1, V, EOS]], V)
    with pytest.raises(ValueError, match="outside vocabulary"):
        PrefixTrie.build([[-1, EOS]], V)
    with pytest.raises(ValueError, match="empty"):
        PrefixTrie.build([[]], V)


def test_save_load_roundtrip(tmp_path):
    trie = PrefixTrie.build(SEQS, V)
    trie.remove([2])
    path = str(tmp_path / "trie.npz")
    trie.save(path)
    back = PrefixTrie.load(path)
    assert back.vocab_size == V and len(back) == len(trie) == 4 and back.num_docs == 5
    for seq in SEQS:
        for k in range(len(seq) + 1):
            assert allowed(back, seq[:k]) == allowed(trie, seq[:k])
            assert state_of(back, seq[:k]) == state_of(trie, seq[:k])
    # a loaded trie can still grow
    assert back.insert([[1, 3, 4, EOS]]) == [5]
    assert allowed(back, [1, 3]) == {4, EOS}


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="trie"):
        PrefixTrie.load(str(tmp_path / "nope.npz"))


def test_load_corrupt_file(tmp_path):
    path = tmp_path / "trie.npz"
    path.write_bytes(b"this is not a zip archive at all" * 10)
    with pytest.raises(ValueError, match="corrupt"):
        PrefixTrie.load(str(path))
    # a truncated archive
    good = tmp_path / "good.npz"
    PrefixTrie.build(SEQS, V).save(str(good))
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError):
        PrefixTrie.load(str(path))


def test_load_npz_without_trie_arrays_is_a_value_error(tmp_path):
    path = tmp_path / "trie.npz"
    np.savez(str(path), something_else=np.arange(3))
    with pytest.raises(ValueError):
        PrefixTrie.load(str(path))


def test_load_wrong_format_version(tmp_path):
    trie = PrefixTrie.build(SEQS, V)
    path = str(tmp_path / "trie.npz")
    np.savez(path, format_version=np.array([FORMAT_VERSION + 1]), vocab_size=np.array([V]), token=trie.token,
             nchild=np.diff(trie.first), count=trie.count, leaf_of_doc=trie.leaf_of_doc)
    with pytest.raises(ValueError, match="format version .*upgrade pt-genret"):
        PrefixTrie.load(path)


def _save_format_1(path: str, seqs, vocab: int, removed=()) -> None:
    """A trie file as pt-genret wrote it before format 2: int64 edge keys, child, parent, doc per node."""
    edges: dict[int, int] = {}
    parent, doc, count, leaves = [DEAD], [DEAD], [0], []
    for d, seq in enumerate(seqs):
        node, path_nodes = ROOT, [ROOT]
        for tok in seq:
            key = node * vocab + tok
            if key not in edges:
                edges[key] = len(parent)
                parent.append(node); doc.append(DEAD); count.append(0)
            node = edges[key]
            path_nodes.append(node)
        doc[node] = d
        leaves.append(node)
        if d not in removed:
            for n in path_nodes:
                count[n] += 1
    keys = np.array(sorted(edges), dtype=np.int64)
    np.savez(path, format_version=np.array([1]), vocab_size=np.array([vocab]), keys=keys,
             child=np.array([edges[k] for k in keys], dtype=np.int64), parent=np.array(parent, dtype=np.int64),
             count=np.array(count, dtype=np.int64), doc=np.array(doc, dtype=np.int64),
             leaf_of_doc=np.array(leaves, dtype=np.int64))


def test_format_1_files_still_load(tmp_path):
    """Index folders written before the compact format open with the same constraint."""
    path = str(tmp_path / "trie.npz")
    _save_format_1(path, SEQS, V, removed={2})
    old = PrefixTrie.load(path)
    new = PrefixTrie.build(SEQS, V)
    new.remove([2])
    assert len(old) == 4 and old.num_docs == 5
    for seq in SEQS:
        for k in range(len(seq) + 1):
            assert allowed(old, seq[:k]) == allowed(new, seq[:k])
            assert old.doc_at(np.array([state_of(old, seq[:k])])).tolist() == \
                new.doc_at(np.array([state_of(new, seq[:k])])).tolist()
    old.save(path)  # written back in the current format
    assert PrefixTrie.load(path).live_docs().tolist() == new.live_docs().tolist()


def test_narrow_types_and_matrix_input():
    """Tokens 16-bit below 65,536, node numbers 32-bit; an integer matrix builds the same trie."""
    trie = PrefixTrie.build(SEQS[:1] + [[4, 5, EOS]], V)
    assert trie.token.dtype == np.uint16 and trie.first.dtype == np.int32 and trie.count.dtype == np.int32
    same = PrefixTrie.build(np.array([[1, 2, EOS], [4, 5, EOS]]), V)
    for a in ("token", "first", "count", "leaf_of_doc"):
        np.testing.assert_array_equal(getattr(trie, a), getattr(same, a))
    assert PrefixTrie.build([[70_000, 1]], 70_001).token.dtype == np.uint32


@pytest.mark.parametrize("seed", range(6))
def test_random_operations_match_brute_force(seed, tmp_path):
    """Random inserts/removes/restricts; every prefix's allowed tokens equal a set-of-sequences model."""
    rng = random.Random(seed)
    vocab = rng.choice([4, 7, 30])
    eos = vocab - 1

    def rand_seq():
        return tuple(rng.randrange(eos) for _ in range(rng.randint(0, 5))) + (eos,)  # prefix-free

    live: dict[int, tuple] = {}  # document index -> sequence
    seen: set[tuple] = set()
    trie = PrefixTrie(vocab)
    next_doc = 0

    def check(t: PrefixTrie, model: dict[int, tuple]):
        assert len(t) == len(model)
        prefixes = {s[:k] for s in seen for k in range(len(s) + 1)}
        prefixes |= {rand_seq()[:rng.randint(0, 3)] for _ in range(10)}
        by_seq = {s: d for d, s in model.items()}
        for p in sorted(prefixes):
            state = state_of(t, p)
            expect = brute_allowed(model, p)
            reachable = not p or any(s[:len(p)] == p for s in model.values())
            assert (state != DEAD) == reachable, (p, state)  # the root is never dead
            assert allowed(t, p) == expect, p
            assert t.doc_at(np.array([state])).tolist() == [by_seq.get(p, DEAD)]

    for _ in range(12):
        op = rng.random()
        if op < 0.5 or not live:
            batch, fresh = [], set(live.values())
            for _ in range(rng.randint(1, 6)):
                s = rng.choice(sorted(seen)) if seen and rng.random() < 0.3 else rand_seq()
                if s not in fresh:
                    batch.append(s)
                    fresh.add(s)
            added = trie.insert([list(s) for s in batch])
            assert added == list(range(next_doc, next_doc + len(batch)))
            for d, s in zip(added, batch):
                live[d] = s
                seen.add(s)
            next_doc += len(batch)
            if live:  # inserting a live docid again is refused
                with pytest.raises(ValueError):
                    trie.insert([list(rng.choice(sorted(live.values())))])
        else:
            gone = rng.sample(sorted(live), rng.randint(1, len(live)))
            trie.remove(gone)
            for d in gone:
                del live[d]
        check(trie, live)
        check_counts(trie, sorted(live))
        subset = rng.sample(sorted(live), rng.randint(0, len(live))) if live else []
        view = trie.restrict(subset)
        check(view, {d: live[d] for d in subset})
        check_counts(view, sorted(subset))
    # persistence keeps the exact behaviour
    trie.save(str(tmp_path / "t.npz"))
    back = PrefixTrie.load(str(tmp_path / "t.npz"))
    check(back, live)
    check_counts(back, sorted(live))
