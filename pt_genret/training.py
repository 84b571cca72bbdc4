"""Training examples and the seq2seq training loop.

Examples are (source text, docid tokens) pairs of three kinds, as in DSI: *indexing* (the
document's own text → its docid), *retrieval* (a pseudo-query → docid) and, when qrels are
given, real training queries → the docids of their relevant documents. The loop runs through
HF Accelerate, so the same code uses the CPU here, a GPU when present, and several GPUs under
``accelerate launch``. It is seeded, shows ``pt.tqdm`` progress and checkpoints every epoch
(weights as safetensors) so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd
import pyterrier as pt
import torch
from accelerate import Accelerator
from accelerate.utils import send_to_device
import torch.nn.functional as F
from safetensors.torch import load_file, load_model, save_model
from transformers.modeling_outputs import BaseModelOutput

from pt_genret import distributed
from pt_genret.backbone import Backbone
from pt_genret.docid_head import compact_logits

if TYPE_CHECKING:
    from pt_genret.distillation import RankingTargets
from pt_genret.documents import full_texts


@dataclass
class TrainConfig:
    """Training hyper-parameters (recorded in the index metadata)."""

    epochs: int = 10
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    max_source_length: int = 64
    seed: int = 42
    freeze_encoder: bool = False
    max_minutes: float | None = None  # the build's time budget (training stops within it)
    patience: int = 3  # epochs without a better validation score before a budgeted run stops
    validation_queries: int = 200  # held-out pseudo-queries decoded after each epoch of a budgeted run


@dataclass
class Example:
    source: str
    target: list[int]
    kind: str  # "index", "query" or "train"


INDEX_WORDS = 64  # words of a document's text in its indexing example


def index_source(text: str, max_words: int = INDEX_WORDS) -> str:
    """The source of a document's indexing example: the first ``max_words`` words of its text."""
    return " ".join(text.split()[:max_words])


def build_examples(docs: pd.DataFrame, tokens: dict[str, list[int]], max_words: int = INDEX_WORDS,
                   topics: pd.DataFrame | None = None, qrels: pd.DataFrame | None = None) -> list[Example]:
    """Indexing, pseudo-query and (optional) supervised examples.

    ``docs`` has ``docno, text[, title][, querygen]``; ``tokens`` maps docno → docid tokens.
    """
    out: list[Example] = []
    for docno, text in zip(docs["docno"], full_texts(docs)):
        out.append(Example(index_source(text, max_words), tokens[docno], "index"))
    if "querygen" in docs.columns:
        for docno, queries in zip(docs["docno"], docs["querygen"]):
            out.extend(Example(q, tokens[docno], "query") for q in queries if q.strip())
    if topics is not None and qrels is not None:
        qrels = qrels.assign(qid=qrels["qid"].astype(str), docno=qrels["docno"].astype(str))
        topics = topics.assign(qid=topics["qid"].astype(str))
        rel = qrels[qrels["label"] > 0].merge(topics[["qid", "query"]], on="qid")
        out.extend(Example(q, tokens[d], "train") for q, d in zip(rel["query"], rel["docno"]) if d in tokens)
    return out


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def padded_labels(targets: list[list[int]]) -> torch.Tensor:
    """Token sequences as one ``(n, width)`` label tensor, ``-100`` (ignored) after each one's end."""
    width = max(len(t) for t in targets)
    labels = torch.full((len(targets), width), -100, dtype=torch.long)
    for i, t in enumerate(targets):
        labels[i, :len(t)] = torch.tensor(t)
    return labels


def shift_right(labels: torch.Tensor, decoder_start: int, pad: int) -> torch.Tensor:
    """Teacher-forcing decoder input: the start token, then the labels but the last (``-100`` as pad)."""
    dec_in = torch.cat([torch.full_like(labels[:, :1], decoder_start), labels[:, :-1]], dim=1)
    return torch.where(dec_in < 0, pad, dec_in)


def _labels(batch: list[Example]) -> torch.Tensor:
    return padded_labels([e.target for e in batch])


class _Collate:
    """Tokenised sources and padded labels for a batch of example indices."""

    def __init__(self, examples: list[Example], backbone: Backbone, max_source_length: int) -> None:
        self.examples, self.tok, self.max_len = examples, backbone.tokenizer, max_source_length

    def __call__(self, idx: list[int]) -> dict[str, torch.Tensor]:
        batch = [self.examples[i] for i in idx]
        enc = self.tok([e.source for e in batch], padding=True, truncation=True, max_length=self.max_len,
                       return_tensors="pt")
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": _labels(batch),
                "rows": torch.tensor(idx)}


class _CollateFrozen:
    """Padded encoder states and labels, for training with a frozen encoder.

    Sources are encoded lazily and cached (half precision, on the CPU): later epochs reuse the
    states, and a budget that ends inside the first epoch has spent no time encoding sources it
    never trained on (an up-front pass over 70k pseudo-queries could eat a short budget whole).
    A missing source is encoded together with its group, the first epoch's batch that holds
    it, so its states do not depend on when it is first needed: a resumed run gets the
    uninterrupted run's states bit for bit. ``states`` may also be given precomputed
    (:func:`encode_sources`).
    """

    def __init__(self, examples: list[Example], backbone: Backbone | None = None, max_length: int = 64,
                 groups: list[list[int]] | None = None, states: list[torch.Tensor | None] | None = None) -> None:
        if states is None and backbone is None:
            raise ValueError("_CollateFrozen needs a backbone to encode with, or precomputed states")
        self.examples, self.backbone, self.max_length = examples, backbone, max_length
        self.states: list[torch.Tensor | None] = list(states) if states is not None else [None] * len(examples)
        self.group_of = {i: group for group in (groups or []) for i in group}

    def __call__(self, idx: list[int]) -> dict[str, torch.Tensor]:
        for i in idx:
            if self.states[i] is None:
                group = self.group_of.get(i, [i])
                for j, state in zip(group, _encode_frozen(self.backbone, [self.examples[j].source for j in group],
                                                          self.max_length)):
                    self.states[j] = state
        states = [self.states[i] for i in idx]
        width = max(len(s) for s in states)
        hidden = torch.zeros((len(idx), width, states[0].shape[1]), dtype=torch.float32)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for j, s in enumerate(states):
            hidden[j, :len(s)], mask[j, :len(s)] = s.float(), 1
        return {"encoder_outputs": BaseModelOutput(last_hidden_state=hidden), "attention_mask": mask,
                "labels": _labels([self.examples[i] for i in idx]), "rows": torch.tensor(idx)}


class _Shard:
    """This process's rows of each batch, for training across processes.

    Every process reads the same batches and takes every ``num_processes``-th row. ``weight``
    is its share of the batch's target tokens (``row_weight``: of its rows), so that the
    processes' weighted losses, averaged by the gradient all-reduce, are the whole batch's
    token-mean loss: the steps are those of one process, up to the order of float sums.
    """

    def __init__(self, collate: Callable[[list[int]], dict], examples: list[Example]) -> None:
        self.collate, self.examples = collate, examples

    def __call__(self, idx: list[int]) -> dict:
        idx = list(idx)
        rows, row_weight = distributed.shard_rows(idx)
        tokens = sum(len(self.examples[i].target) for i in rows) if row_weight else 0
        batch = self.collate(rows)
        batch["weight"] = tokens / sum(len(self.examples[i].target) for i in idx)
        batch["row_weight"] = row_weight
        return batch


@torch.inference_mode()
def _encode_frozen(backbone: Backbone, sources: list[str], max_length: int) -> list[torch.Tensor]:
    """The encoder's unpadded states of ``sources`` in half precision on the CPU, computed in
    evaluation mode (no dropout) whatever mode the model is in."""
    encoder = backbone.model.get_encoder()
    was_training = encoder.training
    encoder.eval()
    try:
        enc = backbone.tokenizer(sources, padding=True, truncation=True, max_length=max_length,
                                 return_tensors="pt").to(backbone.device)
        hidden = encoder(**enc).last_hidden_state.to(torch.float16).cpu()
    finally:
        encoder.train(was_training)
    return [hidden[j, :int(enc["attention_mask"][j].sum())].clone() for j in range(len(sources))]


def encode_sources(backbone: Backbone, examples: list[Example], max_length: int, batch_size: int = 64,
                   verbose: bool = True) -> list[torch.Tensor]:
    """Encoder states of every example's source, unpadded, in half precision, all up front
    (length-sorted batches); training itself encodes lazily (:class:`_CollateFrozen`)."""
    order = np.argsort([len(e.source) for e in examples], kind="stable")
    out: list[torch.Tensor] = [torch.empty(0)] * len(examples)
    for start in pt.tqdm(range(0, len(order), batch_size), desc="encoding sources (frozen encoder)", unit="batch",
                         disable=not verbose):
        idx = order[start:start + batch_size]
        for i, state in zip(idx, _encode_frozen(backbone, [examples[i].source for i in idx], max_length)):
            out[i] = state
    return out


REPLANS_PER_EPOCH = 20  # a budgeted schedule is re-estimated this often within an epoch
FIRST_PLAN_BATCHES = 20  # batches timed before a budgeted schedule is first planned from their pace


@dataclass
class Budget:
    """Train to a time budget, validating each epoch and keeping the best epoch's weights.

    ``seconds`` is the training time allowed, all runs of a resumed build together; the last
    epoch stops inside, when the time left (less one validation) runs out. With
    ``validate`` (a callable scoring the model, higher is better), each epoch ends with a
    validation score, training stops after ``patience`` epochs without improvement (once the
    learning rate has decayed halfway), and the best epoch's weights are the ones kept. The
    learning-rate schedule decays linearly to zero over the epochs the budget is expected to
    allow, re-estimated from the pace of training as it goes (up to ``REPLANS_PER_EPOCH`` times
    an epoch, and whenever the plan ends with time left), so a slow start does not end training
    early.
    After :func:`train`, ``curve`` holds one record per epoch (``epoch, seconds, loss, score,
    lr``), ``best_epoch`` the epoch kept and ``stopped`` why training ended.
    """

    seconds: float | None = None
    validate: Callable[[Backbone], float] | None = None
    patience: int = 3
    curve: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    stopped: str = ""


def seq2seq_loss(model, head_model, batch: dict, decoder_start: int, pad: int) -> torch.Tensor:
    """Token cross-entropy of a batch's labels, computed over the docid head when there is one.

    The decoder input is the labels shifted right behind the start token (what HF models do
    with ``labels=``); the loss is computed here because HF's own reads the full vocabulary's
    logits, which a docid head does not produce.
    """
    labels = batch["labels"]
    inputs = {k: v for k, v in batch.items() if k not in ("labels", "rows")}
    with compact_logits(head_model) as head:
        if not getattr(head_model.config, "is_encoder_decoder", True):  # a causal LM: prompt, then the docid
            from pt_genret.causal import continuation_logits

            logits = continuation_logits(model, inputs["input_ids"], inputs["attention_mask"],
                                         shift_right(labels, decoder_start, pad))
        else:
            logits = model(**inputs, decoder_input_ids=shift_right(labels, decoder_start, pad)).logits
    target = labels if head is None else head.columns(labels)
    return F.cross_entropy(logits.flatten(0, 1).float(), target.flatten(), ignore_index=-100)


def train(backbone: Backbone, examples: list[Example], config: TrainConfig, checkpoint_dir: str | None = None,
          verbose: bool = True, budget: Budget | None = None, ranking: "RankingTargets | None" = None,
          identity: str = "") -> list[float]:
    """Fine-tune ``backbone`` on ``examples``; returns the mean loss of each epoch.

    With ``checkpoint_dir``, each finished epoch is saved there and a later call with the same
    directory continues after the last saved epoch. With ``budget``, training stops when its
    time runs out or validation stops improving (see :class:`Budget`). With ``ranking`` (a
    teacher's lists, :mod:`pt_genret.distillation`), a listwise ranking loss is added.
    ``identity`` (the docid scheme and its options) is part of what a checkpoint must match to be
    resumed: ``atomic`` and ``dense_init`` give the same examples but not the same model.
    """
    if not examples:
        raise ValueError("no training examples")
    budget = budget or Budget()
    seed_everything(config.seed)
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    world, main = accelerator.num_processes, accelerator.is_main_process
    # across processes every time-based decision reads the main process's clock (a collective,
    # so it is read at the same points on all processes) and the budget is the main process's
    clock = distributed.shared_time if world > 1 else time.time
    run_started = clock()
    if world > 1:
        budget.seconds = distributed.broadcast(budget.seconds)
    model = backbone.model
    sampler = LengthBucketSampler([len(e.source.split()) for e in examples], config.batch_size, config.seed)
    if config.freeze_encoder:
        model.get_encoder().requires_grad_(False)
        # the groups are the first epoch's batches: the fresh sampler is still at epoch 0
        collate = _CollateFrozen(examples, backbone, config.max_source_length, groups=list(sampler))
    else:
        collate = _Collate(examples, backbone, config.max_source_length)
    model.train()
    model.config.decoder_start_token_id = backbone.decoder_start_token_id
    model.config.pad_token_id = backbone.pad_token_id
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = (len(examples) + config.batch_size - 1) // config.batch_size
    plan = {"total": steps_per_epoch * config.epochs, "warmup": None}

    def rate(step: int) -> float:
        """Linear warm-up over ``warmup_ratio`` of the planned steps, then linear decay to zero at
        the end of the plan (the decay follows the plan when a budget re-plans it; the warm-up is
        fixed by the first plan, so a longer plan does not start it over)."""
        warmup = plan["warmup"] or max(1, int(config.warmup_ratio * plan["total"]))
        return min(1.0, (step + 1) / warmup) * max(0.0, (plan["total"] - step) / max(1, plan["total"] - warmup))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
    fingerprint = examples_fingerprint(examples)
    if ranking is not None:  # a checkpoint resumes only the same distillation
        fingerprint = hashlib.sha256(f"{fingerprint}{ranking.k}{ranking.weight}{ranking.share}{ranking.temperature}"
                                     f"{ranking.negatives}{sorted(ranking.lists.items())}".encode()).hexdigest()
    if identity:
        fingerprint = hashlib.sha256(f"{fingerprint}{identity}".encode()).hexdigest()
    state = _resume(checkpoint_dir, model, optimizer, schedule, config, fingerprint)
    start_epoch, losses = state["epoch"], state["losses"]
    budget.curve, budget.best_epoch = state["curve"], state["best_epoch"]
    if state.get("stopped") in ("budget", "no improvement"):  # an interrupted save of a finished run
        start_epoch = config.epochs
    plan["total"] = state.get("plan_total", plan["total"])
    plan["warmup"] = state.get("plan_warmup")
    spent_before = float(state.get("seconds", 0.0))  # the training time of the runs this one resumes
    best_score = max((c["score"] for c in budget.curve if c.get("score") is not None), default=None)
    best_state = None  # the best epoch's weights (on the CPU); a resumed run restores them from the checkpoint
    if world > 1:  # every process reads every batch and trains on its share of the rows (_Shard)
        loader = torch.utils.data.DataLoader(range(len(examples)), batch_sampler=sampler,
                                             collate_fn=_Shard(collate, examples))
        model, optimizer = accelerator.prepare(model, optimizer)
    else:
        loader = torch.utils.data.DataLoader(range(len(examples)), batch_sampler=sampler, collate_fn=collate)
        model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    head_model = accelerator.unwrap_model(model)

    def elapsed() -> float:
        return spent_before + clock() - run_started

    def limit() -> float:
        """The time training may run to: the budget less what validating one epoch takes."""
        checks = [c["validation_seconds"] for c in budget.curve if "validation_seconds" in c]
        return budget.seconds - (float(np.mean(checks)) if checks else 0.0)

    def replan(train_seconds_per_epoch: float) -> None:
        """Decay the learning rate to zero when the time left runs out (at least one more step)."""
        if budget.seconds is None or train_seconds_per_epoch <= 0:
            return
        done = schedule.last_epoch
        checks = [c["validation_seconds"] for c in budget.curve if "validation_seconds" in c]
        per_epoch = train_seconds_per_epoch + (float(np.mean(checks)) if checks else 0.0)
        fits = int((limit() - elapsed()) / per_epoch * steps_per_epoch)
        plan["total"] = max(done + 1, min(steps_per_epoch * config.epochs, done + max(fits, 0)))
        if plan["warmup"] is None:
            plan["warmup"] = max(1, int(config.warmup_ratio * plan["total"]))

    progress = {"started": 0.0, "n": 0}  # the current epoch's start and batches so far

    def pace() -> float:
        """Training seconds per epoch at the latest pace: this epoch's so far, else the last epoch's."""
        if progress["n"] >= FIRST_PLAN_BATCHES:
            return (clock() - progress["started"]) / progress["n"] * steps_per_epoch
        timed = [c for c in budget.curve if c.get("steps")]
        return timed[-1]["train_seconds"] * steps_per_epoch / timed[-1]["steps"] if timed else 0.0

    def out_of_budget() -> bool:
        """Whether training must stop for the budget: its time is up, or the planned decay has
        ended and a re-plan from the latest pace finds no step more (a plan made from a slow
        pace ends early; training goes on while there is time)."""
        if budget.seconds is None:
            return False
        if elapsed() >= limit():
            return True
        if schedule.last_epoch >= plan["total"]:
            replan(pace())
        return schedule.last_epoch >= plan["total"]

    budget.stopped = state.get("stopped") or "epochs"
    # the pace of the first batches (warm-up, other work on the machine) misleads: re-planning as an
    # epoch goes on keeps the decay ending with the budget, not before it or after it
    replan_every = max(FIRST_PLAN_BATCHES, steps_per_epoch // REPLANS_PER_EPOCH)
    for epoch in range(start_epoch, config.epochs):
        if out_of_budget():
            budget.stopped = "budget"
            break
        epoch_started = clock()
        progress.update(started=epoch_started, n=0)
        # the order depends on (seed, epoch) only, so resuming reproduces it; the prepared loader
        # forwards its epoch to our sampler (setting the sampler directly would be overridden)
        loader.set_epoch(epoch) if hasattr(loader, "set_epoch") else sampler.set_epoch(epoch)
        if world > 1:  # dropout masks differ between processes, and a resumed run repeats them
            torch.manual_seed(config.seed + 1_000_003 * (epoch + 1) + accelerator.process_index)
        total_loss, n, overrun = 0.0, 0, False
        bar = pt.tqdm(loader, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch", disable=not verbose or not main)
        for batch in bar:
            weight, row_weight = batch.pop("weight", 1.0), batch.pop("row_weight", 1.0)
            if world > 1 and accelerator.device.type != "cpu":
                batch = send_to_device(batch, accelerator.device)
            loss = seq2seq_loss(model, head_model, batch, backbone.decoder_start_token_id, backbone.pad_token_id)
            if world > 1:  # this process's share; the gradient all-reduce averages the shares
                loss = loss * (weight * world)
            if ranking is not None:
                loss = loss + ranking.loss_term(model, head_model, batch, schedule.last_epoch, backbone) * (
                    row_weight * world if world > 1 else 1.0)
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            batch_loss = accelerator.reduce(loss.detach(), reduction="mean") if world > 1 else loss
            total_loss, n = total_loss + batch_loss.item(), n + 1
            bar.set_postfix(loss=f"{total_loss / n:.3f}")
            progress["n"] = n
            if budget.seconds is not None and (n == FIRST_PLAN_BATCHES or n % replan_every == 0):
                replan(pace())  # re-estimate the epoch's time from this epoch's pace so far
            if out_of_budget():
                overrun = True  # the time left ends inside this epoch: stop here, the rate has decayed
                break
        train_seconds = clock() - epoch_started
        losses.append(total_loss / max(n, 1))
        score = None
        if budget.validate is not None:
            model.eval()
            score = float(budget.validate(backbone))
            model.train()
            if best_score is None or score > best_score:
                best_score, budget.best_epoch = score, epoch + 1
                best_state = _trainable_state(head_model)
        else:
            budget.best_epoch = epoch + 1
        epoch_ended = clock()
        budget.curve.append({"epoch": epoch + 1, "seconds": round(spent_before + epoch_ended - run_started, 1),
                             "loss": losses[-1], "score": score,
                             "lr": schedule.get_last_lr()[0], "epoch_seconds": round(epoch_ended - epoch_started, 1),
                             "train_seconds": round(train_seconds, 1),
                             "validation_seconds": round(epoch_ended - epoch_started - train_seconds, 1),
                             "steps": n})
        if verbose and main and score is not None:
            print(f"epoch {epoch + 1}: loss {losses[-1]:.3f}, validation {score:.4f} "
                  f"(best {best_score:.4f} at epoch {budget.best_epoch}), {budget.curve[-1]['seconds']:.0f}s")
        progress["n"] = 0  # the clock has run on through validation: plan from the epoch's recorded pace
        replan(pace())
        seconds = elapsed()
        if checkpoint_dir and main:  # the main process writes; the others hold the same state
            _checkpoint(checkpoint_dir, head_model, optimizer, schedule, config, epoch + 1, losses, fingerprint,
                        {"curve": budget.curve, "best_epoch": budget.best_epoch, "seconds": seconds,
                         "plan_total": plan["total"], "plan_warmup": plan["warmup"],
                         "stopped": _stop_reason(budget, epoch, overrun, schedule.last_epoch >= plan["total"] / 2)},
                        best_state if budget.best_epoch == epoch + 1 else None)
        reason = _stop_reason(budget, epoch, overrun, schedule.last_epoch >= plan["total"] / 2)
        if reason:
            budget.stopped = reason
            break
    if not losses:
        raise ValueError(f"the time budget ran out before the first epoch ({elapsed():.0f} s spent); "
                         "raise max_minutes (--time-budget)")
    backbone.model = accelerator.unwrap_model(model).eval()
    if budget.validate is not None and budget.best_epoch and budget.best_epoch != len(losses):
        _restore_best(backbone.model, best_state, checkpoint_dir)
    return losses


def _stop_reason(budget: Budget, epoch: int, overrun: bool, decayed: bool = True) -> str:
    """Why training stops after ``epoch`` (0-based), or ``""`` to go on. Under a budget, early
    stopping waits until the learning rate has decayed halfway (``decayed``): at a high rate
    the validation score wanders (on Cranfield it stalled at epochs 4-5 of a 17-epoch plan)."""
    if overrun:
        return "budget"
    if (budget.validate is not None and (decayed or budget.seconds is None)
            and epoch + 1 - budget.best_epoch >= budget.patience):
        return "no improvement"
    return ""


def _trainable_state(model) -> dict[str, torch.Tensor]:
    """A CPU copy of the trainable weights (what an epoch changes)."""
    return {k: p.detach().to("cpu", copy=True) for k, p in model.named_parameters() if p.requires_grad}


def _restore_best(model, best_state: dict | None, checkpoint_dir: str | None) -> None:
    """Put the best epoch's weights back (from memory, or from the checkpoint of a resumed run)."""
    if best_state is None and checkpoint_dir and os.path.exists(os.path.join(checkpoint_dir, "best.safetensors")):
        load_model(model, os.path.join(checkpoint_dir, "best.safetensors"))
        return
    if best_state is not None:
        params = dict(model.named_parameters())
        with torch.no_grad():
            for k, v in best_state.items():
                params[k].copy_(v.to(params[k].device))


class LengthBucketSampler(torch.utils.data.Sampler[list[int]]):
    """Shuffled batches of similar-length examples, depending on ``(seed, epoch)`` alone.

    Short pseudo-queries are not padded to the length of document passages (several times less
    compute on a CPU), and a resumed run sees exactly the batches an uninterrupted one would.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int, pool: int = 50) -> None:
        self.lengths, self.batch_size, self.seed, self.pool, self.epoch = np.asarray(lengths), batch_size, seed, pool, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.lengths))
        chunk = self.batch_size * self.pool
        batches = []
        for start in range(0, len(order), chunk):
            part = order[start:start + chunk]
            part = part[np.argsort(self.lengths[part], kind="stable")]
            batches.extend(part[i:i + self.batch_size].tolist() for i in range(0, len(part), self.batch_size))
        return iter([batches[i] for i in rng.permutation(len(batches))])


def examples_fingerprint(examples: list[Example]) -> str:
    """A hash of the training data: a checkpoint resumes only the run that made it."""
    h = hashlib.sha256()
    for e in examples:
        h.update(f"{e.kind}\t{e.source}\t{e.target}\n".encode())
    return h.hexdigest()


def _checkpoint(path: str, model, optimizer, schedule, config: TrainConfig, epoch: int, losses: list[float],
                fingerprint: str, extra: dict | None = None, best: dict | None = None) -> None:
    os.makedirs(path, exist_ok=True)
    # progress.json names the epoch the files belong to: it is replaced last, so a crash while
    # saving leaves the previous epoch's complete checkpoint or, at worst, none that matches
    progress = os.path.join(path, "progress.json")
    if os.path.exists(progress):
        os.remove(progress)
    save_model(model, os.path.join(path, "model.safetensors.tmp"))  # handles tied weights
    torch.save({"optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                "torch_rng": torch.random.get_rng_state()}, os.path.join(path, "optimizer.pt.tmp"))
    os.replace(os.path.join(path, "model.safetensors.tmp"), os.path.join(path, "model.safetensors"))
    os.replace(os.path.join(path, "optimizer.pt.tmp"), os.path.join(path, "optimizer.pt"))
    if best is not None:  # this epoch is the best so far: its weights, for a resumed run to restore
        shutil.copyfile(os.path.join(path, "model.safetensors"), os.path.join(path, "best.safetensors.tmp"))
        os.replace(os.path.join(path, "best.safetensors.tmp"), os.path.join(path, "best.safetensors"))
    with open(progress + ".tmp", "w") as f:
        json.dump({"epoch": epoch, "losses": losses, "config": asdict(config), "examples": fingerprint,
                   **(extra or {})}, f)
    os.replace(progress + ".tmp", progress)


def _resume(path: str | None, model, optimizer, schedule, config: TrainConfig, fingerprint: str) -> dict:
    """The saved progress of an interrupted run of the same training (epoch 0 when there is none)."""
    fresh = {"epoch": 0, "losses": [], "curve": [], "best_epoch": 0}
    progress = os.path.join(path, "progress.json") if path else None
    if not progress or not os.path.exists(progress):
        return fresh
    try:  # read and check everything before any of it changes the model
        with open(progress) as f:
            state = json.load(f)
        if not isinstance(state, dict) or "epoch" not in state or "losses" not in state:
            raise ValueError("progress.json is not a checkpoint's progress record")
        opt = torch.load(os.path.join(path, "optimizer.pt"), weights_only=True)
        load_file(os.path.join(path, "model.safetensors"))
    except Exception as e:  # a damaged checkpoint must not block every later run
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        warnings.warn(f"ignoring the damaged checkpoint in {path} ({reason}); training from the start")
        if distributed.is_main():
            shutil.rmtree(path, ignore_errors=True)
        return fresh
    if state.get("config") != asdict(config) or state.get("examples") != fingerprint:
        warnings.warn(f"ignoring the checkpoint in {path}: another training run made it "
                      "(other settings or data); training from the start")
        if distributed.is_main():
            shutil.rmtree(path, ignore_errors=True)
        return fresh
    load_model(model, os.path.join(path, "model.safetensors"))
    optimizer.load_state_dict(opt["optimizer"])
    schedule.load_state_dict(opt["schedule"])
    torch.random.set_rng_state(opt["torch_rng"])
    return {**fresh, **state, "epoch": int(state["epoch"]), "losses": list(state["losses"])}
