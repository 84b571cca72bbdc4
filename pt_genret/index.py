"""``GenIndex``: a generative retrieval index as one PyTerrier artifact folder.

Layout (see :mod:`pt_genret.storage.folder` for generations, the writer lock and recovery)::

    pt_meta.json          type/format/package_hint, what built it (versions, seed, settings),
                          the current generation and its folder
    write.lock            the writer lock (pid, host and start of the last writer)
    gen-NNNNNN/           the files of a generation:
      model/                backbone weights (safetensors), config and tokenizer
      docids.jsonl          docno → docid string → token ids
      trie.npz              prefix trie over the docid tokens (docid schemes)
      ngrams/<view>.npz     suffix arrays of each view's texts (n-gram schemes: SEAL, MINDER)
      ngrams/_removed.npz   which documents of an n-gram index were removed
      scheme/               the fitted docid scheme (JSON + numeric arrays)
      pseudo_queries.jsonl  the documents' pseudo-queries and indexing-example texts (replayed or preserved by updates)
      heldout_queries.jsonl pseudo-queries held out of training for validation (docno, query)
      training_curve.png    loss and validation score per epoch of a budgeted build
      edit/                 model-editing state of DOME/MEMIT/ROME updates (key covariance, critical layers)

A build, an update (:meth:`GenIndex.updater`), a removal (:meth:`GenIndex.remove`) and a
training phase (LTRGR, distillation) each hold the writer lock and publish a new generation in
one atomic step, so a failed or killed writer leaves the previous generation in place.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict
from typing import Iterable

import numpy as np
import pandas as pd
import pyterrier as pt

from pt_genret import distributed, storage
from pt_genret.storage.faults import stage
from pt_genret.backbone import Backbone, create_backbone, default_device
from pt_genret.constraints.base import Constraint
from pt_genret.constraints.prefix import TrieConstraint
from pt_genret.constraints.trie import PrefixTrie
from pt_genret.docids import DocIdScheme, DocIdTable, get_scheme
from pt_genret.docids.spelling import spell_unique
from pt_genret.documents import collect_documents, full_texts
from pt_genret.queries import get_query_generator
from pt_genret.distillation import RankingTargets
from pt_genret.docid_head import HEADS
from pt_genret.instructions import (check_instruction, instruct_pseudo_queries, instruct_topics, row_instructions,
                                    with_instruction)
from pt_genret.registry import CONSTRAINTS
from pt_genret.reader import FORMAT_VERSION, REQUIRED_FILES, IndexReader
from pt_genret.retriever import GenRetriever
from pt_genret.saved_queries import (HELD_OUT, PSEUDO_QUERIES, read_pseudo_queries, read_saved_examples,
                                     write_pseudo_queries)
from pt_genret.training import Budget, TrainConfig, seed_everything, train
from pt_genret.updates.updater import GenUpdater, remove_documents
from pt_genret.validation import DecodingValidator, hold_out, plot_curve

__all__ = ["FORMAT_VERSION", "GenIndex", "GenIndexer", "HELD_OUT", "PSEUDO_QUERIES", "REQUIRED_FILES",
           "read_pseudo_queries", "read_saved_examples", "spell_unique", "write_pseudo_queries"]


class GenIndex(IndexReader, pt.Artifact, pt.Indexer):
    """A trained generative retriever and its docid constraint, stored at ``path``."""

    def __init__(self, path: str, *, device: str | None = None, verbose: bool = True) -> None:
        pt.Artifact.__init__(self, path)
        IndexReader.__init__(self, path, device=device, verbose=verbose)

    # factories ---------------------------------------------------------------------------
    def indexer(self, **kwargs) -> "GenIndexer":
        """A :class:`GenIndexer` writing to this index (see its arguments)."""
        return GenIndexer(self, **kwargs)

    def index(self, inp: Iterable[dict] | pd.DataFrame) -> "GenIndex":
        """Index with the default settings (``indexer().index(inp)``)."""
        return self.indexer(verbose=self.verbose, device=self.device).index(inp)

    def updater(self, method: str = "dome", seed: int = 42, verbose: bool = True,
                query_generator: str | pt.Transformer | None = None, num_pseudo_queries: int | None = None,
                device: str | None = None, wait: bool | float = False, **method_options) -> GenUpdater:
        """A :class:`~pt_genret.updates.updater.GenUpdater` adding documents to this index with an
        update method (``dome``, ``incremental``, ``finetune``, ``memit``, ``rome``) and its options."""
        return GenUpdater(self, method=method, seed=seed, verbose=verbose, query_generator=query_generator,
                          num_pseudo_queries=num_pseudo_queries, device=device, wait=wait, **method_options)

    def remove(self, docnos: Iterable[str], wait: bool | float = False) -> "GenIndex":
        """Stop retrieving these documents through the index's constraint (their docids leave
        the trie; an n-gram index masks them out); the model is unchanged. Writes a new
        generation; returns the index."""
        remove_documents(self, docnos, wait=wait)
        return self

    def retriever(self, **kwargs) -> GenRetriever:
        """A :class:`~pt_genret.retriever.GenRetriever` over this index."""
        return GenRetriever(self, **kwargs)


class GenIndexer(pt.Indexer):
    """Builds a :class:`GenIndex`: docids → trie → pseudo-queries → trained backbone → artifact.

    Args:
        index: the target index (or its path).
        scheme: docid scheme name (a key of ``pt_genret.docids.SCHEMES``: ``dense_init``, ``atomic``, ``naive``,
            ``semantic``, ``rq``, ``pq``, ``title``, ``keywords``, ``url``, ``bm25_terms``, ...) or object.
            Default (:func:`default_scheme`): ``dense_init`` on the ``minilm`` backbone (the best
            measured within 30 CPU minutes, docs/benchmarks.md), else ``keywords``; continuing
            from ``init_from``, that index's scheme.
        backbone: ``minilm`` (offline default), ``t5-scratch``, or a HF seq2seq name / local path.
        query_generator: ``extractive`` (offline default), ``none``, a doc2query model, or a transformer.
        num_pseudo_queries: pseudo-queries per document (20: on Cranfield, 20 beat 10 and 5 at an
            equal time budget although fewer epochs fit; see docs/benchmarks.md).
        train_topics, train_qrels: optional real training queries (``qid, query``; ``qid, docno, label``).
        epochs, batch_size, lr, max_source_length, seed: training settings; ``epochs`` is a cap
            when ``max_minutes`` is set (default 100 then, else 10); ``lr`` defaults to 2e-3 with a
            frozen encoder (only the small decoder trains) and 5e-4 otherwise.
        max_minutes: the build's time budget in minutes (default 30): training stops before it
            runs out, or earlier when the validation score has not improved for ``patience``
            epochs, and keeps the best epoch. ``None`` trains exactly ``epochs`` epochs.
        patience, validation_queries: early stopping, and how many pseudo-queries are held out
            of training and decoded after each epoch of a budgeted build.
        valid_topics, valid_qrels: real dev queries to validate on instead (nDCG@10).
        teacher: any PyTerrier retrieval pipeline over the same corpus (BM25, dense,
            ``rrf(bm25, dense)``): run over the training queries, its top ``teacher_k`` (5) docids
            add a listwise ranking loss (weight ``distill_weight``, 0.5) on ``distill_share`` (0.25) of each
            batch's queries (:mod:`pt_genret.distillation`).
        output_head: ``"docid"`` (default): the model scores only the tokens docids use, which
            the trie restricts decoding to anyway (2-3x cheaper training steps); ``"full"``: the
            whole vocabulary, as HF models do.
        freeze_encoder: train only the decoder on cached encoder states (much cheaper on a CPU);
            ``None`` freezes the pretrained ``minilm`` encoder and trains every other backbone whole.
        scheme_options, backbone_options: extra constructor arguments.
        overwrite: replace an existing pt-genret index (or an empty folder) at the path; any
            other folder is refused.
        protect: paths the build must never write to (the input corpus): refused as the output
            folder, as are folders that contain them.
        wait: when another writer holds the index's lock: ``False`` fails at once, ``True``
            waits, a number waits at most that many seconds.
        instruction: the task instruction (ZeroGR, :mod:`pt_genret.instructions`): pseudo-queries
            and training queries are trained as ``instruction ⊕ query``, and it is recorded in
            the index as the default of its queries. A document or query frame's ``instruction``
            column overrides it row by row (one index over several corpora).
        init_from: a GR index (or its path) whose model training starts from instead of a fresh
            ``backbone`` (continued training: ZeroGR indexing a corpus it has never seen,
            :mod:`pt_genret.multicorpus`); its backbone and encoder freezing are taken. With
            ``epochs=0`` nothing trains (``max_minutes``, training and validation queries are
            ignored): the index holds this corpus's docids, constraint and pseudo-queries with
            ``init_from``'s model as it is, apart from the scheme's docid setup (``dense_init``
            writes the new docids' rows): ZeroGR's zero-shot setting.
    """

    def __init__(self, index: GenIndex | str, scheme: str | DocIdScheme | None = None, backbone: str = "minilm",
                 query_generator: str | pt.Transformer | None = "extractive", num_pseudo_queries: int = 20,
                 train_topics: pd.DataFrame | None = None, train_qrels: pd.DataFrame | None = None,
                 epochs: int | None = None, batch_size: int = 32, lr: float | None = None, max_source_length: int = 64,
                 seed: int = 42, freeze_encoder: bool | None = None, scheme_options: dict | None = None, backbone_options: dict | None = None,
                 overwrite: bool = False, verbose: bool = True, device: str | None = None,
                 max_minutes: float | None = 30.0, patience: int = 3, validation_queries: int = 200,
                 valid_topics: pd.DataFrame | None = None, valid_qrels: pd.DataFrame | None = None,
                 output_head: str = "docid", teacher: pt.Transformer | None = None, teacher_k: int = 5,
                 distill_weight: float = 0.5, distill_share: float = 0.25, protect: Iterable[str] = (),
                 wait: bool | float = False, instruction: str | None = None,
                 init_from: IndexReader | str | None = None) -> None:
        if epochs is not None and not isinstance(epochs, bool) and epochs == 0:  # zero-shot: nothing trains
            if init_from is None:
                raise ValueError("epochs=0 trains nothing, so it needs init_from: a trained index whose model "
                                 "searches this corpus as it is (ZeroGR zero-shot, pt_genret.multicorpus)")
            if teacher is not None:
                raise ValueError("epochs=0 trains nothing: a teacher has nothing to distil into; drop teacher")
            max_minutes = None
        check_options(epochs=None if epochs == 0 else epochs, batch_size=batch_size, lr=lr,
                      max_source_length=max_source_length, num_pseudo_queries=num_pseudo_queries, patience=patience,
                      validation_queries=validation_queries, teacher_k=teacher_k, max_minutes=max_minutes,
                      distill_weight=distill_weight)
        self.target = index if isinstance(index, GenIndex) else GenIndex(index)
        self.scheme = scheme
        self.backbone_name = backbone
        self.query_generator = query_generator
        self.num_pseudo_queries = num_pseudo_queries
        self.train_topics, self.train_qrels = train_topics, train_qrels
        if output_head not in HEADS:
            raise ValueError(f"output_head must be one of {HEADS}, got {output_head!r}")
        if max_minutes is not None and not max_minutes > 0:
            raise ValueError(f"max_minutes must be > 0 (or None for a fixed number of epochs), got {max_minutes}")
        if patience < 1 or validation_queries < 0:
            raise ValueError(f"patience must be >= 1 and validation_queries >= 0, got {patience}, {validation_queries}")
        if epochs is None:
            epochs = 100 if max_minutes is not None else 10
        self.init_from = None if init_from is None else (init_from if isinstance(init_from, IndexReader)
                                                         else IndexReader(str(init_from), verbose=verbose))
        if self.init_from is not None:  # its model and how it was trained
            backbone = self.backbone_name = self.init_from.meta["backbone"]
            if freeze_encoder is None:
                freeze_encoder = bool(self.init_from.meta["train"].get("freeze_encoder", False))
        if scheme is None:  # continued training keeps the base index's docid scheme
            scheme = self.scheme = (self.init_from.meta["scheme"] if self.init_from is not None
                                    else default_scheme(backbone))
        frozen = (backbone == "minilm") if freeze_encoder is None else freeze_encoder
        if lr is None:  # the scheme's own rate, else a decoder trained alone on a frozen encoder
            lr = _scheme_rate(scheme) or (2e-3 if frozen else 5e-4)  # takes a higher one (docs/training.md)
        self.config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr,
                                  max_source_length=max_source_length, seed=seed, freeze_encoder=frozen,
                                  max_minutes=max_minutes, patience=patience, validation_queries=validation_queries)
        self.valid_topics, self.valid_qrels = valid_topics, valid_qrels
        self.output_head = output_head
        if teacher is not None and not 0 < distill_share <= 1:
            raise ValueError(f"distill_share must be in (0, 1], got {distill_share}")
        if teacher is not None and teacher_k < 1:
            raise ValueError(f"teacher_k must be >= 1, got {teacher_k}")
        self.teacher, self.teacher_k = teacher, teacher_k
        self.distill_weight, self.distill_share = distill_weight, distill_share
        self.scheme_options = scheme_options or {}
        self.backbone_options = backbone_options or {}
        self.overwrite = overwrite
        self.protect, self.wait = [str(p) for p in protect], wait
        self.instruction = check_instruction(instruction)
        self.verbose = verbose
        self.device = device

    def index(self, inp: Iterable[dict] | pd.DataFrame) -> GenIndex:
        """Build the index from documents (``docno, text[, title]``): checks the output folder and
        the documents, then builds holding the index's writer lock and publishes it at once."""
        path = self.target.path
        main = distributed.is_main()  # across processes, the main process checks and writes the folder
        if main:
            storage.check_target(path, self.overwrite, self.protect)
            storage.check_writable(path)
        docs = collect_documents(inp, verbose=self.verbose and main)
        with storage.IndexWriter(path, "build", wait=self.wait) as writer:
            if main:
                storage.check_target(path, self.overwrite, self.protect)  # again: another build may have finished
            self._build(docs, writer)
        if main:
            shutil.rmtree(os.path.abspath(path) + ".training", ignore_errors=True)
        self.target.reload()
        return GenIndex(path, device=self.device, verbose=self.verbose)

    def _build(self, docs: pd.DataFrame, writer: storage.IndexWriter) -> None:
        """Docids, pseudo-queries, training and the first generation, under ``writer``'s lock."""
        path = self.target.path
        seed = self.config.seed
        seed_everything(seed)
        started = time.time()
        docs = with_instruction(docs, self.instruction)  # an instructed query generator reads it
        topics = instruct_topics(self.train_topics, self.instruction)
        doc_instructions = sorted({i for i in row_instructions(docs, self.instruction) if i})

        scheme = get_scheme(self.scheme, seed=seed, **self.scheme_options).fit(docs)
        if self.init_from is not None:
            backbone = IndexReader(self.init_from.path, device=self.device).backbone()  # a private copy
            backbone.model.to(self.device or default_device())
        else:
            backbone = create_backbone(self.backbone_name, corpus_texts=full_texts(docs), seed=seed,
                                       device=self.device, **self.backbone_options)
        generator = get_query_generator(self.query_generator, self.num_pseudo_queries, seed)
        constraint_cls = CONSTRAINTS[scheme.constraint]
        table = constraint_cls.identify(docs, backbone, scheme)
        if self.output_head == "docid" and any(table.tokens):  # n-gram indexes have no docid tokens
            backbone.set_docid_head({t for ts in table.tokens for t in ts})
        scheme.prepare_model(backbone, table, docs, fresh=self.init_from is None, verbose=self.verbose and distributed.is_main())
        if generator is not None:  # before the constraint: MINDER's query view reads the pseudo-queries
            docs = instruct_pseudo_queries(generator.transform(docs), self.instruction)
        constraint = constraint_cls.build(docs, table, backbone, scheme)
        examples = constraint.examples(docs, table, backbone, scheme, seed, topics=topics, qrels=self.train_qrels)
        extra = {**constraint.meta(), "max_docid_length": constraint.max_length(table, scheme)}
        trie = constraint.trie if isinstance(constraint, TrieConstraint) else None  # validation decodes over it
        trains = self.config.epochs > 0  # epochs=0: zero-shot, init_from's model as it is
        storage.check_writable(path, need_bytes=_disk_need(backbone, len(docs), trains=trains))
        checkpoints = os.path.abspath(path) + ".training"
        counts = {k: sum(e.kind == k for e in examples) for k in ("index", "query", "train")}
        if not trains:  # nothing is held out either
            budget, self._held_out = Budget(stopped="zero-shot"), None
        else:
            examples, budget = self._budget(examples, table, trie, extra["max_docid_length"] + 1, started)
        ranking = None
        if self.teacher is not None and scheme.kind != "ngrams":
            teacher_started = time.time()
            instructions = set(doc_instructions)  # the teacher reads the queries without them
            if self.train_topics is not None:
                instructions |= {i for i in row_instructions(self.train_topics, self.instruction) if i}
            ranking = RankingTargets.from_teacher(self.teacher, examples, table.docnos, table.tokens, self.teacher_k,
                                                  self.distill_weight, self.distill_share, seed, self.verbose,
                                                  instructions=instructions)
            if budget.seconds is not None:  # the teacher's time comes out of the budget
                teacher_seconds = time.time() - teacher_started
                if budget.seconds - teacher_seconds < MIN_TRAIN_SECONDS:
                    raise ValueError(f"the teacher's rankings of the training queries took {teacher_seconds:.0f} s, "
                                     f"leaving no time to train within the {self.config.max_minutes:g} min budget; "
                                     "raise max_minutes (--time-budget) or use a cheaper teacher (--teacher bm25)")
                budget.seconds -= teacher_seconds
        losses = [] if not trains else train(
            backbone, examples, self.config, checkpoint_dir=checkpoints, verbose=self.verbose, budget=budget,
            ranking=ranking, identity=json.dumps({"scheme": scheme.name, **scheme.config()}, sort_keys=True,
                                                 default=repr))

        meta = {
            "type": GenIndex.ARTIFACT_TYPE, "format": GenIndex.ARTIFACT_FORMAT, "package_hint": "pt-genret",
            "format_version": FORMAT_VERSION, "num_docs": len(table), "num_docids": len(table), "generation": 0,
            "num_codes": backbone.num_codes,
            "scheme": scheme.name, "scheme_kind": scheme.kind, "scheme_config": scheme.config(),
            "backbone": backbone.name, "backbone_options": self.backbone_options,
            "query_generator": self.query_generator if isinstance(self.query_generator, str) or self.query_generator is None
            else type(self.query_generator).__name__,
            "num_pseudo_queries": self.num_pseudo_queries, "train": asdict(self.config),
            "instruction": self.instruction,
            "init_from": None if self.init_from is None else os.path.abspath(self.init_from.path),
            "init_from_created": None if self.init_from is None else self.init_from.meta.get("created"),
            "instructions": doc_instructions,
            "examples": counts,
            "epoch_losses": losses, **extra,
            "output_head": "docid" if backbone.head is not None else "full",
            "distillation": None if ranking is None else {
                "teacher": repr(self.teacher)[:500], "teacher_k": self.teacher_k, "weight": self.distill_weight,
                "share": self.distill_share, "queries_with_lists": len(ranking)},
            "training": {"curve": budget.curve, "best_epoch": budget.best_epoch, "stopped": budget.stopped,
                         "held_out": sum(counts.values()) - len(examples),
                         "validation": self._validation_name(budget)},
            "built_with": storage.versions(), "build_seconds": round(time.time() - started, 1),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        writer.publish(meta, lambda tmp: _save(tmp, meta, backbone, table, constraint, scheme, docs,
                                               self._held_out))

    def _budget(self, examples: list, table: DocIdTable, trie: PrefixTrie | None, max_steps: int,
                started: float) -> tuple[list, Budget]:
        """The training examples and the :class:`Budget` of a build: the time left of
        ``max_minutes`` (less a reserve for saving), and a validator over held-out pseudo-queries
        or the dev queries (docid indexes only; n-gram indexes train to the budget alone)."""
        minutes = self.config.max_minutes
        self._held_out = None
        if minutes is None:
            return examples, Budget()
        seconds = minutes * 60 - (time.time() - started) - SAVE_RESERVE_SECONDS
        if seconds < MIN_TRAIN_SECONDS:
            raise ValueError(f"the time budget of {minutes:g} min is spent before training "
                             f"({time.time() - started:.0f} s of preparation); raise max_minutes (--time-budget)")
        validate = None
        if trie is not None and self.valid_topics is not None and self.valid_qrels is not None:
            qrels = self.valid_qrels[self.valid_qrels["docno"].astype(str).isin(set(table.docnos))]
            qrels = qrels[qrels["label"] > 0]
            if len(qrels) == 0:
                raise ValueError("valid_qrels name no relevant document of the index; check the validation "
                                 "split (--valid-split)")
            qrels = qrels.assign(docno=[table.index_of(str(d)) for d in qrels["docno"]])
            validate = DecodingValidator(trie, instruct_topics(self.valid_topics, self.instruction), qrels, max_steps,
                                         measure="nDCG@10")
        elif trie is not None and self.config.validation_queries > 0:
            held = hold_out([e.kind for e in examples], self.config.validation_queries, self.config.seed)
            if len(held):
                doc_of = {tuple(t): i for i, t in enumerate(table.tokens)}
                queries = pd.DataFrame({"qid": [f"v{i}" for i in held], "query": [examples[i].source for i in held]})
                qrels = pd.DataFrame({"qid": queries["qid"], "docno": [doc_of[tuple(examples[i].target)] for i in held],
                                      "label": 1})
                validate = DecodingValidator(trie, queries, qrels, max_steps, measure="RR@10")
                self._held_out = pd.DataFrame({"docno": [table.docnos[d] for d in qrels["docno"]],
                                               "query": queries["query"]})
                keep = np.ones(len(examples), dtype=bool)
                keep[held] = False
                examples = [e for e, k in zip(examples, keep) if k]
        return examples, Budget(seconds=max(seconds, 1.0), validate=validate, patience=self.config.patience)

    def _validation_name(self, budget: Budget) -> str | None:
        if budget.validate is None:
            return None
        kind = "dev queries" if self.valid_topics is not None else "held-out pseudo-queries"
        return f"{budget.validate.measure} of {len(budget.validate.queries)} {kind}"


SAVE_RESERVE_SECONDS = 20.0  # of a build's budget, kept for writing the index folder
MIN_TRAIN_SECONDS = 5.0  # a budget with less left for training is an error, not an untrained index


def default_scheme(backbone: str) -> str:
    """The docid scheme an indexer uses when none is named (and it does not continue from another
    index, whose scheme it keeps): ``dense_init`` on the ``minilm`` backbone (its BERT decoder can
    be set up as dense retrieval), else ``keywords`` (any backbone)."""
    return "dense_init" if backbone == "minilm" else "keywords"


def _scheme_rate(scheme: str | DocIdScheme) -> float | None:
    """The learning rate ``scheme`` asks for (``DocIdScheme.learning_rate``), if any."""
    from pt_genret.registry import SCHEMES

    cls = type(scheme) if isinstance(scheme, DocIdScheme) else SCHEMES[SCHEMES.check(scheme)]
    return cls.learning_rate


def check_options(**options: float | None) -> None:
    """Refuse a numeric build option out of range before any work starts (``None``: the default)."""
    at_least = {"epochs": 1, "batch_size": 1, "max_source_length": 1, "num_pseudo_queries": 0, "patience": 1,
                "validation_queries": 0, "teacher_k": 1, "distill_weight": 0}
    for name, value in options.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a number, got {value!r}")
        if name in at_least and value < at_least[name]:
            raise ValueError(f"{name} must be >= {at_least[name]}, got {value}")
        if name in at_least and at_least[name] >= 0 and name != "distill_weight" and value != int(value):
            raise ValueError(f"{name} must be a whole number, got {value}")
        if name in ("lr", "max_minutes") and not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")


def _disk_need(backbone: Backbone, num_docs: int, trains: bool = True) -> int:
    """Rough bytes a build writes: the model in the index, the training checkpoint (weights, best
    weights, optimizer moments; none without training) and about 2 KiB per document of docids and
    pseudo-queries."""
    weights = sum(p.numel() * p.element_size() for p in backbone.model.parameters())
    return (6 if trains else 1) * weights + 2048 * num_docs + (1 << 20)


def _save(folder: str, meta: dict, backbone: Backbone, table: DocIdTable, constraint: Constraint,
          scheme: DocIdScheme, docs: pd.DataFrame, held_out: pd.DataFrame | None = None) -> None:
    backbone.save(os.path.join(folder, "model"))
    stage("write:model")
    table.save(os.path.join(folder, "docids.jsonl"))
    constraint.save(folder)  # trie.npz, or ngrams/<view>.npz
    stage("write:constraint")
    scheme.save(os.path.join(folder, "scheme"))
    if "querygen" in docs.columns:
        with open(os.path.join(folder, PSEUDO_QUERIES), "w", encoding="utf8") as f:
            write_pseudo_queries(f, docs)
        stage(f"write:{PSEUDO_QUERIES}")
    if held_out is not None and len(held_out):  # never trained on: for fitting what sits on top of GR
        held_out.to_json(os.path.join(folder, HELD_OUT), orient="records", lines=True, force_ascii=False)
    curve = meta.get("training", {}).get("curve", [])
    if any(c.get("score") is not None for c in curve):
        plot_curve(curve, os.path.join(folder, "training_curve.png"),
                   f"{meta['scheme']} / {meta['backbone']}: {meta['training']['validation']}")
