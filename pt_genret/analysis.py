"""The seed's analysis of constrained decoding, reproduced and measured on your own index.

Three measurements (``pt-genret analyze``; docs/analysis.md):

* :func:`stepwise_error`: a model that knows the relevance distribution over the whole code
  space ``[k]^m`` perfectly, constrained to a corpus sampled at ratio ``p``, still gets the
  first step wrong. The measured ``KL(Pr_c^1 || f_c^1)`` is set beside the seed's lower bound
  ``A / p`` with ``A = E_{d1}[sqrt(sum_d Pr(d | d1)^2)]^2`` (the concentration), for
  synthetic Dirichlet relevance distributions of a chosen concentration.
* :func:`beam_recall`: beam search with exact step marginals on sparse relevance (corpus
  ``k^4``, ``n = λk`` relevant documents scored ``k log k``, the rest ``o(1)``: exponential
  of mean ``1/k``, or of mean 1 as a noise variant), with or without sharpening (scores
  ``s^(1/T)``): top-``n`` recall and precision@1 against the beam size.
* :mod:`pt_genret.concentration`: on a real index, the concentration ``A`` of a first
  stage's relevance distribution, the share ``p`` and the bound ``A/p`` per query.
* :func:`pruning_profile`: on a real index and judged queries, the step at which beam search
  drops each relevant docid's prefix (never, if it is returned).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pt_genret.constraints.trie import DEAD, ROOT


# step-wise constraints --------------------------------------------------------------------
@dataclass
class StepwiseResult:
    alpha: float  # Dirichlet concentration parameter (smaller: sharper relevance)
    p: float  # share of the code space in the corpus
    kl: float  # mean measured first-step KL(real || model)
    concentration: float  # mean A
    bound: float  # mean A / p


def _first_step_kl(rel: np.ndarray, keep: np.ndarray) -> tuple[float, float]:
    """KL between the real first-step distribution within the corpus and the model's (the full
    distribution's first-step marginal masked to the corpus's first tokens), and A."""
    k = rel.shape[0]
    rel = rel.reshape(k, -1)
    keep = keep.reshape(k, -1)
    in_corpus = (rel * keep).sum(1)
    real = in_corpus / in_corpus.sum()
    model = rel.sum(1) * keep.any(1)
    model = model / model.sum()
    ok = real > 0
    kl = float(np.sum(real[ok] * np.log(real[ok] / model[ok])))
    marg = rel.sum(1)
    cond = rel / np.maximum(marg[:, None], 1e-300)
    a = float(np.sum(marg * np.sqrt((cond ** 2).sum(1)))) ** 2
    return kl, a


def stepwise_error(k: int = 16, m: int = 3, ps=(0.05, 0.1, 0.2, 0.5), alphas=(0.01, 0.1, 1.0),
                   trials: int = 100, seed: int = 0) -> list[StepwiseResult]:
    """Mean first-step KL against ``A / p`` for each concentration ``alpha`` and ratio ``p``."""
    rng = np.random.default_rng(seed)
    out = []
    for alpha in alphas:
        for p in ps:
            kls, As = [], []
            for _ in range(trials):
                rel = rng.dirichlet(np.full(k ** m, alpha)).reshape((k,) * m)
                keep = rng.random(rel.shape) < p
                if not keep.any():
                    continue
                kl, a = _first_step_kl(rel, keep)
                kls.append(kl)
                As.append(a)
            out.append(StepwiseResult(alpha, p, float(np.mean(kls)), float(np.mean(As)), float(np.mean(As)) / p))
    return out


# beam search on sparse relevance ----------------------------------------------------------
@dataclass
class BeamResult:
    beams: int
    temperature: float
    recall: float  # mean top-n recall
    precision_at_1: float
    k: int = 10
    n: int = 10  # relevant documents
    irrelevant: float = 1.0  # mean irrelevant score (the seed's setting: o(1), here 1/k)
    lam: float = 1.0  # n = lam * k relevant documents


def _beam_search(logmass: list[np.ndarray], k: int, beams: int) -> np.ndarray:
    """Flat indices of the final beams, best first, by exact prefix masses (``logmass[t]`` over
    prefixes of length ``t + 1``; the step score of a prefix is its log mass)."""
    frontier = np.array([0])
    for depth, lm in enumerate(logmass):
        cand = (frontier[:, None] * k + np.arange(k)[None, :]).ravel()
        frontier = cand[np.argsort(-lm[cand], kind="stable")[:beams]]
    return frontier


def beam_recall(k: int = 10, lam: float = 1.0, beam_sizes=None, temperatures=(1.0, 0.5), trials: int = 50,
                seed: int = 0, irrelevant: float | None = None, c: float = 1.0) -> list[BeamResult]:
    """Top-``n`` recall and precision@1 of beam search over ``[k]^4`` with ``n = λk`` relevant.

    Relevant documents score ``c k log k``; the others exponential noise of mean ``irrelevant``
    (``None``: ``1/k``, the seed's ``o(1)``; ``1.0``: noise as large as a document's share).
    Scores are sharpened to ``s^(1/T)`` and normalised; the decoder's next-token probability is
    the exact mass of the scores under the prefix. ``beam_sizes`` default to ``n/8 .. 8n``.
    """
    rng = np.random.default_rng(seed)
    n = max(int(round(lam * k)), 1)
    mean = 1.0 / k if irrelevant is None else float(irrelevant)
    if beam_sizes is None:
        beam_sizes = sorted({max(int(round(n * f)), 1) for f in (1 / 8, 1 / 4, 1 / 2, 1, 2, 4, 8)})
    out = []
    for temp in temperatures:
        rec = {b: [] for b in beam_sizes}
        p1 = {b: [] for b in beam_sizes}
        for _ in range(trials):
            scores = rng.exponential(mean, k ** 4)
            relevant = rng.choice(k ** 4, n, replace=False)
            scores[relevant] = c * k * np.log(k)
            scores = scores ** (1.0 / temp)
            full = (scores / scores.sum()).reshape((k,) * 4)
            logmass = [np.log(full.sum(axis=tuple(range(d + 1, 4))).ravel()) for d in range(4)]
            rel = set(relevant.tolist())
            for b in beam_sizes:
                found = _beam_search(logmass, k, b)
                rec[b].append(len(rel.intersection(found[:n].tolist())) / n)
                p1[b].append(float(int(found[0]) in rel))
        out += [BeamResult(b, temp, float(np.mean(rec[b])), float(np.mean(p1[b])), k, n, mean, lam) for b in beam_sizes]
    return out


def beam_small_n(ks=(8, 16), lam: float = 0.5, exponents=(0.0, 0.25, 0.5), beam_sizes=None, trials: int = 50,
                 seed: int = 0) -> list[BeamResult]:
    """The paper's sparse setting (arXiv 2504.09935, as far as its stored text could be read) with
    a small ``n = λk`` (``λ < 1``, so the beam of ``n`` prunes at the first step) and irrelevant
    scores ``o(1)`` at every scale: exponential of mean ``k^-a`` for each ``a`` in ``exponents``
    (``a = 0``: mean 1, the edge of ``o(1)``). Relevant documents score ``k log k``, T = 1, exact
    summed step marginals; top-``n`` recall and precision@1 against the beam size."""
    out = []
    for k in ks:
        for a in exponents:
            out += beam_recall(k=k, lam=lam, beam_sizes=beam_sizes, temperatures=(1.0,), trials=trials, seed=seed,
                               irrelevant=float(k) ** -a)
    return out


def beam_study(ks=(8, 12, 16), trials: int = 50, seed: int = 0) -> list[BeamResult]:
    """The seed's setting (irrelevant ``1/k``) for each ``k`` at T = 1 and 2, the noise variant
    (irrelevant mean 1) at the largest ``k`` with and without sharpening (T = 0.5), and the paper's
    small-``n`` setting (:func:`beam_small_n`: λ = 1/2, irrelevant mean ``k^-a``, a = 0, 1/4, 1/2)
    at the smallest and largest ``k``."""
    out = []
    for k in ks:
        out += beam_recall(k=k, temperatures=(1.0, 2.0), trials=trials, seed=seed)
    out += beam_recall(k=max(ks), temperatures=(1.0, 0.5), trials=trials, seed=seed, irrelevant=1.0)
    return out + beam_small_n(ks=sorted({min(ks), max(ks)}), trials=trials, seed=seed)


# a real index -----------------------------------------------------------------------------
def pruning_profile(backbone, trie, queries: list[str], relevant: list[list[int]], num_beams: int,
                    max_steps: int, batch_size: int = 8) -> np.ndarray:
    """For each judged (query, relevant document) pair, the step at which beam search dropped
    the document's prefix, or ``-1`` if the document was returned. Returns an int array."""
    from pt_genret.decoding.beam import ConstrainedBeamSearch

    out = []
    for lo in range(0, len(queries), batch_size):
        qs, rels = queries[lo:lo + batch_size], relevant[lo:lo + batch_size]
        frontiers: list[np.ndarray] = []
        search = ConstrainedBeamSearch(num_beams=num_beams, on_step=lambda step, st: frontiers.append(st.copy()))
        results = search.decode(backbone, trie, qs, num_beams, max_steps)
        for q, docs in enumerate(rels):
            returned = {d for d, _ in results[q]}
            for d in docs:
                if d in returned:
                    out.append(-1)
                    continue
                path = _path(trie, d)
                dropped = next((t for t, st in enumerate(frontiers)
                                if t < len(path) and path[t] not in set(st[q].tolist())), len(frontiers))
                out.append(dropped)
    return np.array(out, dtype=np.int64)


def _path(trie, doc: int) -> list[int]:
    """The nodes a document's docid passes through, after its first, second, ... token."""
    seq = [int(t) for t in trie.sequences(np.array([doc]))[0] if t != trie.vocab_size]
    state, path = np.array([ROOT]), []
    for t in seq:
        state = trie.advance(state, np.array([t]))
        path.append(int(state[0]))
    return [s for s in path if s != DEAD]


# plots ------------------------------------------------------------------------------------
def plot_stepwise(results: list[StepwiseResult], path: str) -> None:
    from pt_genret.plotting import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for alpha in sorted({r.alpha for r in results}):
        rs = [r for r in results if r.alpha == alpha]
        line, = ax.plot([r.p for r in rs], [r.kl for r in rs], "o-", label=f"KL, α={alpha:g}")
        ax.plot([r.p for r in rs], [r.bound for r in rs], "--", color=line.get_color(), label=f"A/p, α={alpha:g}")
    ax.set(xscale="log", yscale="log", xlabel="corpus share p", ylabel="first-step KL(real ‖ model)",
           title="Step-wise constraints: error vs A/p")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_beam(results: list[BeamResult], path: str) -> None:
    """Top-n recall (left) and precision@1 (right) against the beam size in units of n."""
    from pt_genret.plotting import pyplot

    plt = pyplot()
    fig, (ax, ax1) = plt.subplots(1, 2, figsize=(9, 4))
    key = lambda r: (r.lam < 1, r.irrelevant > 0.5, r.k, r.temperature, round(r.irrelevant, 6))
    for small, noisy, k, temp, irr in sorted({key(r) for r in results}):
        rs = [r for r in results if key(r) == (small, noisy, k, temp, irr)]
        if small:
            label, style = f"k={k}, λ={rs[0].lam:g}, irrelevant {irr:.2g}", "d--"
        else:
            label = f"k={k}, T={temp:g}, " + ("noise mean 1" if noisy else "irrelevant 1/k")
            style = "s:" if noisy else "o-"
        ax.plot([r.beams / r.n for r in rs], [r.recall for r in rs], style, label=label)
        ax1.plot([r.beams / r.n for r in rs], [r.precision_at_1 for r in rs], style, label=label)
    ax.axhline(0.5, color="grey", lw=0.8)
    ax.set(ylim=(0, 1.05), ylabel="top-n recall", title="Beam search on sparse relevance ([k]^4, n = λk)")
    ax1.set(ylim=(0, 1.05), ylabel="precision@1")
    for a in (ax, ax1):
        a.set_xscale("log", base=2)
        a.set_xticks([1 / 8, 1 / 4, 1 / 2, 1, 2, 4, 8], ["1/8", "1/4", "1/2", "1", "2", "4", "8"])
        a.minorticks_off()
        a.set_xlabel("beam size / n")
    ax1.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_pruning(steps: np.ndarray, path: str) -> None:
    from pt_genret.plotting import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    top = int(steps.max(initial=0)) + 1
    counts = [int((steps == t).sum()) for t in range(top)]
    ax.bar(["kept"] + [str(t + 1) for t in range(top)], [int((steps < 0).sum())] + counts)
    ax.set(xlabel="step at which the relevant docid was pruned", ylabel="(query, relevant doc) pairs",
           title="Where beam search loses relevant documents")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_analysis(out_dir: str, index_path: str | None = None, dataset: str | None = None, split: str = "test",
                 max_queries: int = 50, num_beams: int = 10, trials: int = 100, seed: int = 0,
                 relevance: str = "bm25", relevance_depth: int = 100, relevance_temperature: float = 1.0) -> dict:
    """Both synthetic studies, and with ``index_path`` and ``dataset`` the concentration ``A``,
    share ``p`` and bound ``A/p`` per query (relevance from ``relevance``: ``bm25`` or ``qrels``)
    and the pruning profile on the dataset's judged queries: PNG plots, ``concentration.csv``
    and ``analysis.json`` under ``out_dir``."""
    import json
    import os

    from pt_genret.plotting import pyplot

    pyplot()  # the one-line error naming the plot extra, before any work
    if relevance not in ("bm25", "qrels"):
        raise ValueError(f"relevance must be 'bm25' or 'qrels', not {relevance!r}")
    os.makedirs(out_dir, exist_ok=True)
    step = stepwise_error(trials=trials, seed=seed)
    beam = beam_study(trials=max(trials // 2, 1), seed=seed)
    plot_stepwise(step, os.path.join(out_dir, "stepwise_constraints.png"))
    plot_beam(beam, os.path.join(out_dir, "beam_sparse_relevance.png"))
    report: dict = {"stepwise": [vars(r) for r in step], "beam": [vars(r) for r in beam]}
    if index_path is not None and dataset is not None:
        from pt_genret import concentration as conc
        from pt_genret.datasets import load_dataset
        from pt_genret.index import GenIndex

        index = GenIndex(index_path)
        ds = load_dataset(dataset)
        table, trie = index.table(), index.trie()
        qrels = ds.get_qrels(split)
        if relevance == "bm25":
            dist = conc.bm25_relevance(ds, ds.get_topics(split), os.path.join(out_dir, "bm25.pisa"),
                                       relevance_depth, relevance_temperature)
        else:
            dist = conc.qrels_relevance(qrels)
        rows = conc.index_concentration(table.docnos, table.tokens, dist, eos=table.tokens[0][-1])
        if rows:
            conc.write_csv(rows, os.path.join(out_dir, "concentration.csv"))
            conc.plot_concentration(rows, os.path.join(out_dir, "concentration.png"))
            report["concentration"] = {"relevance": relevance, "depth": relevance_depth,
                                       "temperature": relevance_temperature, **conc.summarise(rows),
                                       "alphabet_sizes": conc.code_space_share(table.tokens, table.tokens[0][-1])[1]}
        topics = ds.get_topics(split).head(max_queries)
        position = {d: i for i, d in enumerate(table.docnos)}
        rel = qrels[qrels["label"] > 0].groupby("qid")["docno"].apply(list).to_dict()
        keep = [(q, t, [position[d] for d in rel.get(q, []) if d in position]) for q, t in
                zip(topics["qid"], topics["query"])]
        keep = [k for k in keep if k[2]]
        steps = pruning_profile(index.backbone(), trie, [k[1] for k in keep], [k[2] for k in keep],
                                num_beams, int(index.meta["max_docid_length"]) + 1)
        plot_pruning(steps, os.path.join(out_dir, "pruning.png"))
        report["pruning"] = {"pairs": int(len(steps)), "kept": int((steps < 0).sum()),
                             "pruned_at_step": {str(t + 1): int((steps == t).sum()) for t in
                                                range(int(steps.max(initial=0)) + 1)}, "num_beams": num_beams}
    with open(os.path.join(out_dir, "analysis.json"), "w") as f:
        json.dump(report, f, indent=1)
    return report
