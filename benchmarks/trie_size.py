"""The docid prefix trie beside a nested-dict trie and marisa-trie, at growing corpus sizes.

    python benchmarks/trie_size.py --sizes 10000 100000 1000000

Two synthetic docid shapes, 8 tokens each (seeded): ``semantic`` codes (7 levels of 32 codes,
each level its own token range, then EOS, as hierarchical k-means docids) and ``keyword``
tokens (7 Zipf-distributed words of a 32,000-token vocabulary, then EOS, as title or URL
docids). Each structure is measured in its own subprocess: build seconds (from token lists),
the build's peak traced allocation (tracemalloc; marisa-trie's C++ heap is not traced, so its
peak is the resident growth), resident growth after loading the saved file in a fresh process,
the file's size, and one decoding step at 100 beams: every allowed next token of 100 prefixes
of random documents at random depths 2-7 (and, for PrefixTrie, the documents they complete).
marisa-trie (``pip install pt-genret[bench]``) is skipped when not installed.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np

VOCAB, EOS, WIDTH, BEAMS = 32_128, 1, 8, 100


def docids(shape: str, n: int) -> np.ndarray:
    """``n`` distinct 8-token docids of one shape (row order shuffled)."""
    rng = np.random.default_rng(0)
    got = np.zeros((0, WIDTH - 1), dtype=np.int64)
    while len(got) < n:
        m = int((n - len(got)) * 1.05) + 16
        if shape == "semantic":
            part = rng.integers(0, 32, size=(m, WIDTH - 1)) + 30_000 + 32 * np.arange(WIDTH - 1)
        else:
            part = np.minimum(rng.zipf(1.3, size=(m, WIDTH - 1)) + 2, VOCAB - 1)
        got = np.unique(np.concatenate([got, part]), axis=0)
    got = got[rng.permutation(len(got))[:n]]
    return np.concatenate([got, np.full((n, 1), EOS)], axis=1)


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def prefixes(seqs: np.ndarray) -> list[list[int]]:
    rng = np.random.default_rng(1)
    rows, depths = rng.integers(0, len(seqs), BEAMS), rng.integers(2, WIDTH, BEAMS)
    return [seqs[r, :d].tolist() for r, d in zip(rows, depths)]


# the three structures: build, save, load, one step ------------------------------------------
def dict_build(lists):
    root: dict = {}
    for seq in lists:
        node = root
        for t in seq:
            node = node.setdefault(t, {})
    return root


def dict_step(root, prefs):
    out = []
    for p in prefs:  # GENRE's prefix_allowed_tokens_fn walks each beam's prefix every step
        node = root
        for t in p:
            node = node.get(t, {})
        out.append(list(node))
    return out


def marisa_key(seq) -> str:
    return "".join(chr(0x100 + t) for t in seq)


def marisa_step(trie, prefs):
    out = []
    for p in prefs:
        key = marisa_key(p)
        out.append({ord(k[len(key)]) - 0x100 for k in trie.iterkeys(key) if len(k) > len(key)})
    return out


def measure(kind: str, shape: str, n: int, path: str) -> dict:
    seqs = docids(shape, n)
    lists = seqs.tolist()
    gc.collect()
    before = rss()
    tracemalloc.start()
    t = time.perf_counter()
    if kind == "PrefixTrie":
        from pt_genret.constraints.trie import PrefixTrie
        obj = PrefixTrie.build(lists, VOCAB)
        size = obj.nbytes
    elif kind == "dict":
        obj = dict_build(lists)
        size = None
    else:
        import marisa_trie
        obj = marisa_trie.Trie(marisa_key(s) for s in lists)
        size = None
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    grown = rss() - before
    if kind == "PrefixTrie":
        obj.save(path)
    elif kind == "dict":
        with open(path, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
    else:
        obj.save(path)
    return {"build_s": seconds, "peak": peak if kind != "marisa" else grown, "result": size,
            "disk": os.path.getsize(path)}


def load_and_step(kind: str, shape: str, n: int, path: str) -> dict:
    before = rss()  # loaded first, into a fresh heap
    if kind == "PrefixTrie":
        from pt_genret.constraints.trie import ROOT, PrefixTrie
        obj = PrefixTrie.load(path)
    elif kind == "dict":
        with open(path, "rb") as f:
            obj = pickle.load(f)
    else:
        import marisa_trie
        obj = marisa_trie.Trie()
        obj.load(path)
    resident = rss() - before
    prefs = prefixes(docids(shape, n))
    if kind == "PrefixTrie":
        states = []
        for p in prefs:
            s = np.array([ROOT])
            for t in p:
                s = obj.advance(s, np.array([t]))
            states.append(int(s[0]))
        states = np.array(states)

        def step():
            _, _, nxt = obj.allowed_edges(states)
            obj.doc_at(nxt)
    elif kind == "dict":
        step = lambda: dict_step(obj, prefs)  # noqa: E731
    else:
        step = lambda: marisa_step(obj, prefs)  # noqa: E731
    times = []
    for _ in range(20 if kind == "marisa" else 200):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return {"resident": resident, "step_ms": 1000 * float(np.median(times))}


def child(args: list[str]) -> None:
    what, kind, shape, n, path = args
    import pt_genret.constraints.trie  # noqa: F401  (its imports, torch among them, are not the trie's cost)
    fn = measure if what == "build" else load_and_step
    print(json.dumps(fn(kind, shape, int(n), path)))


def run(what: str, kind: str, shape: str, n: int, path: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", what, kind, shape, str(n), path],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--shapes", nargs="+", default=["semantic", "keyword"])
    p.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args.child)
    kinds = ["PrefixTrie", "dict"]
    try:
        import marisa_trie  # noqa: F401
        kinds.append("marisa")
    except ImportError:
        print("marisa-trie not installed (pip install 'pt-genret[bench]'): skipped")
    mb = lambda b: f"{b / 1e6:8.1f}" if b is not None else "       -"  # noqa: E731
    print(f"{'shape':9s} {'docids':>9s} {'structure':11s} {'build s':>8s} {'peak MB':>8s} {'peak/res':>8s} "
          f"{'RSS MB':>8s} {'disk MB':>8s} {'step ms':>8s} {'step vs PrefixTrie':>18s}")
    for shape in args.shapes:
        for n in args.sizes:
            ours = None
            for kind in kinds:
                with tempfile.TemporaryDirectory() as tmp:
                    path = os.path.join(tmp, "trie.npz" if kind == "PrefixTrie" else f"{kind}.bin")
                    b = run("build", kind, shape, n, path)
                    s = run("step", kind, shape, n, path)
                ours = s["step_ms"] if kind == "PrefixTrie" else ours
                ratio = f"{b['peak'] / b['result']:8.2f}" if b["result"] else "       -"
                print(f"{shape:9s} {n:9d} {kind:11s} {b['build_s']:8.2f} {mb(b['peak'])} {ratio} "
                      f"{mb(s['resident'])} {mb(b['disk'])} {s['step_ms']:8.3f} {s['step_ms'] / ours:17.1f}x",
                      flush=True)


if __name__ == "__main__":
    main()
