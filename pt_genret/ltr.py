"""LTRGR: a learning-to-rank phase for a trained generative index.

Generation training teaches the model to write a relevant docid; it does not teach it to rank
a relevant docid above the irrelevant ones it also writes. LTRGR (Li et al., 2023) adds a
phase in which, for each training query, the model's own top-k docids (constrained beam
search) supply the negatives, and the loss is

    L = L_gen(positive) + alpha * mean(max(0, margin - (log P(d+ | q) - log P(d- | q))))

over (relevant, retrieved-but-irrelevant) pairs, with log P the exact teacher-forced
log-likelihood of the whole docid. The updated weights are published as a new generation of
the index (recorded under ``ltr`` and in ``generations``); the docids and trie are unchanged.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyterrier as pt
import torch

from pt_genret.decoding import ConstrainedBeamSearch
from pt_genret.decoding.model_calls import teacher_forced_logprobs
from pt_genret.generations import save_model_phase
from pt_genret.index import GenIndex
from pt_genret.training import seed_everything


class LTRGR(pt.Estimator):
    """Fine-tune a :class:`GenIndex`'s model with a margin rank loss over its own top-k."""

    def __init__(self, index: GenIndex | str, top_k: int = 10, margin: float = 1.0, alpha: float = 1.0,
                 epochs: int = 1, lr: float = 1e-4, batch_size: int = 8, max_query_length: int = 64,
                 seed: int = 42, verbose: bool = True) -> None:
        self.index = index if isinstance(index, GenIndex) else GenIndex(index)
        self.top_k, self.margin, self.alpha = top_k, margin, alpha
        self.epochs, self.lr, self.batch_size = epochs, lr, batch_size
        self.max_query_length, self.seed, self.verbose = max_query_length, seed, verbose

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        """Retrieve with the (fine-tuned) index."""
        return self.index.retriever(num_results=self.top_k)(inp)

    def fit(self, topics: pd.DataFrame, qrels: pd.DataFrame, *args) -> "LTRGR":
        """Learn to rank on ``topics`` (``qid, query``) and ``qrels`` (``qid, docno, label``)."""
        table = self.index.table()
        qrels = qrels.assign(qid=qrels["qid"].astype(str), docno=qrels["docno"].astype(str))
        topics = topics.assign(qid=topics["qid"].astype(str))
        relevant = qrels[qrels["label"] > 0]
        unknown = sorted(set(relevant["docno"]) - set(table.docnos))
        if unknown:
            raise ValueError(f"{len(unknown)} relevant docno(s) are not in the index, e.g. {unknown[:3]}")
        positives = relevant.groupby("qid")["docno"].apply(list).to_dict()
        topics = topics[topics["qid"].isin(positives)].reset_index(drop=True)
        if len(topics) == 0:
            raise ValueError("no training query has a relevant document in the index")
        seed_everything(self.seed)
        backbone, trie = self.index.backbone(), self.index.trie()
        model = backbone.model
        if self.index.meta["train"].get("freeze_encoder"):  # keep what the build kept frozen
            model.get_encoder().requires_grad_(False)
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=self.lr)
        steps = int(self.index.meta["max_docid_length"]) + 1
        search = ConstrainedBeamSearch(num_beams=self.top_k, max_query_length=self.max_query_length)
        history = []
        rng = np.random.default_rng(self.seed)
        for epoch in range(self.epochs):
            order = rng.permutation(len(topics))
            batches = range(0, len(order), self.batch_size)
            total = 0.0
            for start in pt.tqdm(batches, desc=f"LTRGR epoch {epoch + 1}/{self.epochs}", disable=not self.verbose):
                batch = topics.iloc[order[start:start + self.batch_size]]
                model.eval()
                retrieved = search.decode(backbone, trie, batch["query"].tolist(), self.top_k, steps)
                model.train()
                loss = self._loss(backbone, table, batch, retrieved, positives)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                total += loss.item()
            history.append(total / max(1, len(batches)))
        model.eval()
        self._save(history, len(topics))
        return self

    def _loss(self, backbone, table, batch: pd.DataFrame, retrieved, positives) -> torch.Tensor:
        """Generation loss on the positives plus the margin loss over (positive, negative) pairs."""
        tok = backbone.tokenizer(batch["query"].tolist(), padding=True, truncation=True,
                                 max_length=self.max_query_length, return_tensors="pt").to(backbone.device)
        hidden = backbone.model.get_encoder()(**tok).last_hidden_state
        losses = []
        for row, (qid, found) in enumerate(zip(batch["qid"], retrieved)):
            pos = [table.index_of(d) for d in positives[qid]]
            neg = [d for d, _ in found if d not in set(pos)]
            docs = pos + neg
            h = hidden[row:row + 1].expand(len(docs), -1, -1)
            m = tok["attention_mask"][row:row + 1].expand(len(docs), -1)
            scores = teacher_forced_logprobs(backbone, h, m, [table.tokens[d] for d in docs])
            gen = -scores[:len(pos)].mean()
            if neg:
                diff = scores[:len(pos)].unsqueeze(1) - scores[len(pos):].unsqueeze(0)
                gen = gen + self.alpha * torch.clamp(self.margin - diff, min=0).mean()
            losses.append(gen)
        return torch.stack(losses).mean()

    def _save(self, history: list[float], num_queries: int) -> None:
        """Swap the fine-tuned model into the index folder and record the phase in its metadata."""
        save_model_phase(self.index, self.index.backbone(), "ltr", {
            "top_k": self.top_k, "margin": self.margin, "alpha": self.alpha, "epochs": self.epochs, "lr": self.lr,
            "seed": self.seed, "queries": num_queries, "epoch_losses": history})
