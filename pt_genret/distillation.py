"""Distillation from any PyTerrier pipeline: a ranking loss over a teacher's top-k docids.

Generation training teaches the model to write *a* relevant docid; it never says which of the
docids it also writes should come first. RIPOR, DDRO and LTRGR all learn that order from a
ranker's signal. Here the teacher is any PyTerrier retrieval pipeline over the same corpus
(BM25, a dense retriever, ``rrf(bm25, dense)``): it runs once over the training queries (pseudo
and real), and each training query then carries a list ``[its own document] + the teacher's
top-k others``. Besides the generation loss, the model is trained with a listwise loss over the
docids' exact log-likelihoods:

    L_rank = − Σ_j w_j · log softmax_j( log P(docid_j | q) / |docid_j| ),   w_j ∝ exp(−j / τ)

i.e. a cross-entropy between a rank-discounted target (the query's own document first, then
the teacher's order) and a softmax over the list of the docids' per-token log-likelihoods
(ListNet). Each list also holds a few random documents with target 0, so the
listed ones must rise above the rest of the corpus, not only share the mass among themselves.
To keep a step's cost bounded, only ``share`` of each batch's query examples get the loss.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd
import pyterrier as pt
import torch
import torch.nn.functional as F
from transformers.modeling_outputs import BaseModelOutput

from pt_genret.decoding.model_calls import padded_labels, token_logprobs
from pt_genret.instructions import COLUMN, split_instruction
from pt_genret.queries.filter import sanitise_query


def teacher_rankings(teacher: pt.Transformer, queries: list[str], k: int, batch_size: int = 2000,
                     verbose: bool = True, instructions: Iterable[str] = ()) -> dict[str, list[str]]:
    """The teacher's top-``k`` docnos of each distinct query text, best first. A text that starts
    with one of ``instructions`` (``instruction ⊕ query``, ZeroGR) reaches the teacher as its bare
    query, the instruction in an ``instruction`` column: BM25 would otherwise score every document
    on the instruction's words too."""
    unique = sorted({q for q in queries if q.strip()})
    known = list(instructions)
    split = [split_instruction(q, known) for q in unique]
    sent = [sanitise_query(q) for _, q in split]
    out: dict[str, list[str]] = {}
    batches = range(0, len(unique), batch_size)
    for start in pt.tqdm(batches, desc="teacher rankings", unit="batch", disable=not verbose):
        part = [(f"t{start + i}", s, split[start + i][0] or "") for i, s in enumerate(sent[start:start + batch_size])
                if s]
        if not part:
            continue
        frame = pd.DataFrame(part, columns=["qid", "query", COLUMN])
        res = teacher(frame if known else frame[["qid", "query"]])
        if len(res):
            order = "rank" if "rank" in res.columns else "score"
            res = res.sort_values(["qid", order], ascending=[True, order == "rank"])
            for qid, docnos in res.groupby("qid", sort=False)["docno"]:
                out[unique[int(qid[1:])]] = [str(d) for d in docnos.head(k)]
    return out


@dataclass
class RankingTargets:
    """For each training example (by index), the document indices of its list (own document first)."""

    lists: dict[int, list[int]] = field(default_factory=dict)
    doc_tokens: list[list[int]] = field(default_factory=list)  # docid tokens of each document index
    k: int = 5
    weight: float = 0.5
    share: float = 0.25
    seed: int = 42
    temperature: float = 1.0  # of the rank-discounted target: lower puts more of it on the own document
    negatives: int = 2  # random documents added to each list with target weight 0

    @classmethod
    def from_teacher(cls, teacher: pt.Transformer, examples: list, docnos: list[str], doc_tokens: list[list[int]],
                     k: int = 5, weight: float = 0.5, share: float = 0.25, seed: int = 42,
                     verbose: bool = True, instructions: Iterable[str] = ()) -> "RankingTargets":
        """Run ``teacher`` over the query examples' sources (their ``instructions`` removed, see
        :func:`teacher_rankings`) and build their lists."""
        if not 0 < share <= 1:
            raise ValueError(f"distillation share must be in (0, 1], got {share}")
        if k < 1:
            raise ValueError(f"teacher_k must be >= 1, got {k}")
        rows = [i for i, e in enumerate(examples) if e.kind in ("query", "train")]
        ranked = teacher_rankings(teacher, [examples[i].source for i in rows], k, verbose=verbose,
                                  instructions=instructions)
        index_of = {d: i for i, d in enumerate(docnos)}
        doc_of_target = {tuple(t): i for i, t in enumerate(doc_tokens)}
        lists = {}
        for i in rows:
            own = doc_of_target[tuple(examples[i].target)]
            others = [index_of[d] for d in ranked.get(examples[i].source, []) if d in index_of]
            lst = [own] + [d for d in others if d != own][:k]
            if len(lst) > 1:
                lists[i] = lst
        return cls(lists, [list(t) for t in doc_tokens], k, weight, share, seed)

    def __len__(self) -> int:
        return len(self.lists)

    def pick(self, batch_rows: list[int], step: int) -> list[tuple[int, list[int], int]]:
        """``(row in batch, list, listed)`` of the batch examples that get the ranking loss this step:
        each list is the example's own document and the teacher's, then ``negatives`` random
        documents outside it (target weight 0), so the listed documents must rise above others and
        not only share the mass among themselves; ``listed`` counts the listed ones."""
        have = [(j, self.lists[i]) for j, i in enumerate(batch_rows) if i in self.lists]
        take = max(1, int(round(len(have) * self.share))) if have else 0
        rng = np.random.default_rng([self.seed, step])
        if take < len(have):
            have = [have[j] for j in sorted(rng.choice(len(have), size=take, replace=False))]
        out = []
        for j, lst in have:
            listed = set(lst)
            pool = rng.choice(len(self.doc_tokens), size=min(len(self.doc_tokens), self.negatives + len(lst)),
                              replace=False)
            extra = [int(d) for d in pool if int(d) not in listed][:self.negatives]
            out.append((j, lst + extra, len(lst)))
        return out

    def loss_term(self, model, head_model, batch: dict, step: int, backbone) -> torch.Tensor:
        """``weight`` × the listwise loss of the batch rows picked this step (what
        :func:`pt_genret.training.train` adds to the generation loss; the training loop calls it
        on the object it is given, so training never imports this module)."""
        picked = self.pick(batch["rows"].tolist(), step)
        if not picked:
            return torch.zeros(())
        if "encoder_outputs" in batch:
            hidden = batch["encoder_outputs"].last_hidden_state
        else:
            hidden = head_model.get_encoder()(input_ids=batch["input_ids"],
                                              attention_mask=batch["attention_mask"]).last_hidden_state
        return self.weight * ranking_loss(model, head_model, hidden, batch["attention_mask"], picked, self.doc_tokens,
                                          backbone.decoder_start_token_id, backbone.pad_token_id, self.temperature)


def listwise_loss(logp: torch.Tensor, lengths: list[int], temperature: float = 1.0,
                  listed: list[int] | None = None) -> torch.Tensor:
    """ListNet cross-entropy of sequence log-likelihoods ``logp`` (flat, one list after another)
    against rank-discounted targets ``w_j ∝ exp(−j / temperature)`` over each list's first
    ``listed`` entries (all by default) and 0 for the rest."""
    losses, start = [], 0
    for i, n in enumerate(lengths):
        scores = logp[start:start + n]
        m = n if listed is None else listed[i]
        target = torch.zeros_like(scores)
        target[:m] = torch.softmax(-torch.arange(m, dtype=scores.dtype, device=scores.device) / temperature, 0)
        losses.append(-(target * F.log_softmax(scores, dim=0)).sum())
        start += n
    return torch.stack(losses).mean()


def ranking_loss(model, head_model, hidden: torch.Tensor, mask: torch.Tensor, picked: list[tuple[int, list[int], int]],
                 doc_tokens: list[list[int]], decoder_start: int, pad: int, temperature: float = 1.0) -> torch.Tensor:
    """The listwise loss of the picked batch rows: teacher-forced log-likelihood of every docid of
    each row's list, from that row's encoder states (``hidden``, ``mask``)."""
    rows = [j for j, lst, _ in picked for _ in lst]
    targets = [doc_tokens[d] for _, lst, _ in picked for d in lst]
    labels = padded_labels(targets).to(hidden.device)
    index = torch.tensor(rows, device=hidden.device)
    picked_logp = token_logprobs(model, head_model, labels, decoder_start, pad,
                                 encoder_outputs=BaseModelOutput(last_hidden_state=hidden.index_select(0, index)),
                                 attention_mask=mask.index_select(0, index))
    valid = labels != -100
    # per-token mean: a list's log-likelihoods span tens of nats, and a softmax over raw sums would
    # ask for the teacher's documents in proportions that fight the generation loss (seen: loss 19)
    seq = picked_logp.sum(-1) / valid.sum(-1)
    return listwise_loss(seq, [len(lst) for _, lst, _ in picked], temperature, [m for _, _, m in picked])


class TeacherDistillation(pt.Estimator):
    """Distil a teacher's ranking into an existing :class:`~pt_genret.index.GenIndex`.

    ``fit(topics, qrels)`` trains the index's model further on the real training queries (each
    relevant document is a generation target) and, with ``topics=None``, on the index's saved
    pseudo-queries, with the generation loss plus the listwise loss over the teacher's lists, for
    ``epochs`` (or until ``max_minutes``), then replaces the model in the folder and records the
    phase under ``distillation_phases`` in ``pt_meta.json``. ``transform`` retrieves with the index.
    """

    def __init__(self, index, teacher: pt.Transformer, teacher_k: int = 5, weight: float = 0.5,
                 share: float = 0.25, epochs: int = 1, lr: float = 5e-4, batch_size: int = 32,
                 max_minutes: float | None = None, seed: int = 42, verbose: bool = True) -> None:
        from pt_genret.reader import IndexReader

        if epochs < 1 or batch_size < 1 or not lr > 0:
            raise ValueError(f"epochs and batch_size must be >= 1 and lr > 0, got {epochs}, {batch_size}, {lr}")
        self.index = index if isinstance(index, IndexReader) else IndexReader(index)
        self.teacher, self.teacher_k, self.weight, self.share = teacher, teacher_k, weight, share
        self.epochs, self.lr, self.batch_size, self.max_minutes = epochs, lr, batch_size, max_minutes
        self.seed, self.verbose = seed, verbose

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        from pt_genret.retriever import GenRetriever

        return GenRetriever(self.index)(inp)

    def fit(self, topics: pd.DataFrame | None = None, qrels: pd.DataFrame | None = None, *args) -> "TeacherDistillation":
        from pt_genret.generations import save_model_phase
        from pt_genret.saved_queries import read_saved_examples
        from pt_genret.training import Budget, Example, TrainConfig, train

        index = self.index
        if index.is_ngram:
            raise ValueError(f"{index.path!r} is an n-gram index: distillation needs docids")
        table, backbone = index.table(), index.backbone()
        tokens = dict(zip(table.docnos, table.tokens))
        if topics is not None and qrels is not None:
            qrels = qrels.assign(qid=qrels["qid"].astype(str), docno=qrels["docno"].astype(str))
            rel = qrels[qrels["label"] > 0].merge(topics.assign(qid=topics["qid"].astype(str))[["qid", "query"]],
                                                  on="qid")
            examples = [Example(q, tokens[d], "train") for q, d in zip(rel["query"], rel["docno"]) if d in tokens]
        else:
            queries, _ = read_saved_examples(index.path)
            examples = [Example(q, tokens[d], "query") for d, q in zip(queries["docno"], queries["query"])
                        if d in tokens]
        if not examples:
            raise ValueError("no training queries with a document in the index: pass topics and qrels, "
                             "or build the index with pseudo-queries")
        instructions = [*index.meta.get("instructions", []), index.meta.get("instruction")]
        ranking = RankingTargets.from_teacher(self.teacher, examples, table.docnos, table.tokens, self.teacher_k,
                                              self.weight, self.share, self.seed, self.verbose,
                                              instructions=[i for i in instructions if i])
        config = TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seed=self.seed,
                             freeze_encoder=bool(index.meta["train"].get("freeze_encoder")))
        budget = Budget(seconds=None if self.max_minutes is None else self.max_minutes * 60)
        losses = train(backbone, examples, config, verbose=self.verbose, budget=budget, ranking=ranking)
        save_model_phase(index, backbone, "distillation_phases", {
            "teacher": repr(self.teacher)[:500], "teacher_k": self.teacher_k, "weight": self.weight,
            "share": self.share, "epochs": len(losses), "lr": self.lr, "seed": self.seed,
            "queries": len(examples), "queries_with_lists": len(ranking), "epoch_losses": losses})
        return self


TEACHERS = ("none", "bm25", "dense", "rrf")  # the teachers the command line builds by name


def named_teacher(name: str, corpus_iter_factory, work_dir: str, num_results: int = 100) -> pt.Transformer | None:
    """A teacher by name over a corpus: ``bm25`` (PISA), ``dense`` (MiniLM, pyterrier_dr),
    ``rrf`` (both, fused), or ``none``; its indexes are built under ``work_dir`` when it is first
    called (inside the build, so a budgeted build counts that time). ``corpus_iter_factory()``
    gives a fresh iterator over the documents."""
    if name not in TEACHERS:
        raise ValueError(f"unknown teacher {name!r}; choose one of {TEACHERS}")
    return None if name == "none" else _NamedTeacher(name, corpus_iter_factory, work_dir, num_results)


class _NamedTeacher(pt.Transformer):
    """A teacher pipeline built on first use (see :func:`named_teacher`)."""

    def __init__(self, name: str, corpus_iter_factory, work_dir: str, num_results: int) -> None:
        self.name, self.corpus, self.work_dir, self.num_results = name, corpus_iter_factory, work_dir, num_results
        self._pipeline = None

    def __repr__(self) -> str:
        return f"teacher({self.name!r}, num_results={self.num_results})"

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        if self._pipeline is None:
            import os

            from pt_genret.baselines import bm25_pisa, dense_retriever, rrf

            systems = []
            if self.name in ("bm25", "rrf"):
                systems.append(bm25_pisa(self.corpus(), os.path.join(self.work_dir, "pisa"),
                                         num_results=self.num_results))
            if self.name in ("dense", "rrf"):
                systems.append(dense_retriever(self.corpus(), os.path.join(self.work_dir, "dense.flex"),
                                               num_results=self.num_results))
            self._pipeline = systems[0] if len(systems) == 1 else rrf(*systems, num_results=self.num_results)
        return self._pipeline(inp)
