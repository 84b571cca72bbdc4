"""Adding and removing documents: each change writes a new *generation* of the index.

:class:`GenUpdater` (a ``pt.Indexer``) gives new documents docids with the index's fitted
scheme and adds them to the index's constraint (:mod:`pt_genret.constraints.base`: the docid
trie, or the suffix arrays of an n-gram index's views), writes their pseudo-queries with the
generator the index was built with, lets an update method change the model, and writes the
result as a new generation at the same path. :func:`remove_documents` only tells the
constraint to stop returning documents (the model is unchanged).

Each change holds the index's writer lock from start to end (a second writer fails at once,
or waits when asked), reads the current generation under it, and publishes the next one in one
atomic step (:mod:`pt_genret.generations`, :mod:`pt_genret.storage`): the previous generation
stays loadable if an update fails or is killed. Files an update does not change are
hard-linked (or copied) from the previous generation.
"""
from __future__ import annotations

import time
from typing import Any, Iterable

import numpy as np
import pandas as pd
import pyterrier as pt

from pt_genret import storage
from pt_genret.documents import collect_documents
from pt_genret.generations import generation_record, write_generation
from pt_genret.instructions import instruct_pseudo_queries, with_instruction
from pt_genret.queries import get_query_generator
from pt_genret.reader import IndexReader
from pt_genret.registry import UPDATE_METHODS
from pt_genret.saved_queries import read_saved_examples
from pt_genret.training import TrainConfig, seed_everything
from pt_genret.updates.base import UpdateContext, UpdateMethod


def make_method(method: str | UpdateMethod | type, seed: int = 42, verbose: bool = True,
                **options: Any) -> UpdateMethod:
    """An update method from a registered name (with its options), a class, or an object."""
    if isinstance(method, UpdateMethod):
        if options:
            raise ValueError(f"options {sorted(options)} given with an update method object; "
                             "set them on the object instead")
        return method
    if isinstance(method, str):
        if method not in UPDATE_METHODS:
            raise ValueError(f"unknown update method {method!r}; choose one of {sorted(UPDATE_METHODS)}")
        cls = UPDATE_METHODS[method]
    elif isinstance(method, type) and issubclass(method, UpdateMethod):
        cls = method
    else:
        raise ValueError(f"update method must be a name, an UpdateMethod class or object; got {method!r}")
    try:
        return cls(seed=seed, verbose=verbose, **options)  # the method's __post_init__ checks the values
    except TypeError as e:
        from pt_genret.options import accepted

        raise ValueError(f"bad options for update method {cls.name!r}: {e}; it accepts "
                         f"{accepted(cls, ('seed', 'verbose'))}") from None


class GenUpdater(pt.Indexer):
    """Adds documents to an existing generative index without rebuilding it.

    Args:
        index: the index to update (or its path); the new generation replaces it at the same path.
        method: a name in :data:`pt_genret.updates.UPDATE_METHODS` (``dome``, ``incremental``,
            ``finetune``, ``memit``, ``rome``), an :class:`UpdateMethod` class or object.
        seed: seeds the method (and torch, numpy, random).
        query_generator: pseudo-query generator for the new documents; default: the one the
            index was built with when it is ``extractive`` or ``none``; any other (a doc2query
            model path or name, a transformer) must be passed again: a path is never read from
            the index's metadata.
        num_pseudo_queries: pseudo-queries per new document; default: as many as the index was
            built with. More pseudo-queries give an edit more contexts to generalise from (the
            DOME paper's ablation: R@1 0.506 with one, 0.652 with seven).
        device: where the model runs.
        wait: when another writer holds the index's lock: ``False`` fails at once, ``True``
            waits, a number waits at most that many seconds.
        method_options: the method's own options (see its class).
    """

    def __init__(self, index: IndexReader | str, method: str | UpdateMethod | type = "dome", seed: int = 42,
                 verbose: bool = True, query_generator: str | pt.Transformer | None = None,
                 num_pseudo_queries: int | None = None, device: str | None = None, wait: bool | float = False,
                 **method_options: Any) -> None:
        if num_pseudo_queries is not None and (isinstance(num_pseudo_queries, bool) or
                                               not isinstance(num_pseudo_queries, int) or num_pseudo_queries < 1):
            raise ValueError(f"num_pseudo_queries must be a whole number >= 1, got {num_pseudo_queries!r}")
        self.target = index if isinstance(index, IndexReader) else IndexReader(index)
        self.method = make_method(method, seed=seed, verbose=verbose, **method_options)
        self.seed = seed
        self.verbose = verbose
        self.query_generator = query_generator
        self.num_pseudo_queries = num_pseudo_queries
        self.device = device if device is not None else self.target.device
        self.wait = wait

    def __repr__(self) -> str:
        return f"GenUpdater({self.target.path!r}, {self.method!r})"

    def index(self, inp: Iterable[dict] | pd.DataFrame) -> IndexReader:
        """Add the documents (``docno, text[, title]``); returns the index at its new generation."""
        docs = collect_documents(inp, verbose=self.verbose)
        IndexReader(self.target.path).meta  # a clear error for a missing or damaged index, before the lock
        with storage.IndexWriter(self.target.path, "update", wait=self.wait) as writer:
            self._update(docs, writer)
        self.target.reload()  # the caller's object now sees the new generation
        return self.target

    def _update(self, docs: pd.DataFrame, writer: storage.IndexWriter) -> None:
        """Identify the new documents, add them to the index's constraint (a trie's docids, or
        every n-gram view's suffix array), let the method change the model on their examples
        (replaying or preserving the live old documents'), and write the next generation."""
        old = IndexReader(self.target.path, device=self.device, verbose=self.verbose)  # read under the lock
        meta = old.meta
        constraint = old.constraint()
        if constraint.name not in self.method.constraints:
            from pt_genret.registry import UPDATE_METHODS

            able = [n for n in UPDATE_METHODS.names() if constraint.name in UPDATE_METHODS[n].constraints]
            raise ValueError(f"{old.path!r} is {constraint.description} ({meta['scheme']}): update method "
                             f"{self.method.name!r} cannot update its {constraint.name!r} constraint; "
                             f"use one of {', '.join(able)}")
        table = old.table()
        present = [d for d in docs["docno"] if d in table]
        if present:
            raise ValueError(f"{len(present)} new document(s) have docnos already in the index {old.path!r} "
                             f"(e.g. {present[:3]}); a removed document keeps its docno, so use new docnos")
        live_before = constraint.live_docs()
        if not live_before.any():
            raise ValueError(f"every document of {old.path!r} was removed: an update has nothing to preserve or "
                             "replay; build a new index from the new documents (pt-genret index)")
        num_queries = self.num_pseudo_queries or int(meta.get("num_pseudo_queries", 5))
        generator = get_query_generator(self._generator_spec(meta), num_queries,
                                        int(meta.get("train", {}).get("seed", 42)))
        storage.check_writable(old.path, need_bytes=2 * storage.folder_bytes(old.file("model")))
        seed_everything(self.seed)
        started = time.time()

        backbone = old.backbone()  # this reader's own copy: the method edits it in place
        scheme = old.scheme()
        new_table = constraint.identify(docs, backbone, scheme, table)
        new_tokens = dict(zip(new_table.docnos[len(table):], new_table.tokens[len(table):]))
        backbone.grow_head({t for ts in new_tokens.values() for t in ts})  # new documents may bring new docid tokens
        instruction = meta.get("instruction")
        docs = with_instruction(docs, instruction)  # as the build: each document's instruction, else the index's
        scheme.prepare_model(backbone, new_table, docs, fresh=False, verbose=self.verbose)  # dense_init: their rows
        if generator is not None:  # its pseudo-queries instructed as the build's were
            docs = instruct_pseudo_queries(generator.transform(docs), instruction)
        target_of = constraint.target_of(table, backbone, scheme)  # of the old documents, before the change
        grown = constraint.add(docs, new_table, backbone, scheme)
        old_tokens = {table.docnos[i]: table.tokens[i] for i in np.flatnonzero(live_before)}
        old_queries, old_texts = (frame[frame["docno"].isin(old_tokens.keys())].reset_index(drop=True)
                                  for frame in read_saved_examples(old.folder))  # of the live old documents
        ctx = UpdateContext(path=old.folder, meta=meta, backbone=backbone, new_docs=docs, new_tokens=new_tokens,
                            new_examples=grown.examples(docs, new_table, backbone, scheme, self.seed),
                            old_queries=old_queries, old_texts=old_texts, old_tokens=old_tokens,
                            train_config=update_train_config(meta), seed=self.seed, verbose=self.verbose,
                            target_of=target_of)
        prepared = time.time()
        info = self.method.update(ctx)
        seconds = time.time() - started

        record = generation_record(meta, self.method.name, self.method.options(), len(docs), 0, seconds, self.seed,
                                   len(grown), info)
        record["prepare_seconds"] = round(prepared - started, 3)  # model load, docids, constraint, pseudo-queries
        record["num_pseudo_queries"] = num_queries if generator is not None else 0
        new_meta = dict(meta, **grown.meta(), num_docs=len(grown), num_codes=backbone.num_codes,
                        max_docid_length=max(int(meta["max_docid_length"]), grown.max_length(new_table, scheme)))
        new_meta["generations"] = list(meta.get("generations", [])) + [record]
        new_meta["generation"] = record["generation"]
        write_generation(writer, old, new_meta, backbone=ctx.backbone, table=new_table, constraint=grown,
                         scheme=scheme, new_queries=docs if "querygen" in docs.columns else None,
                         keep_edit=self.method.keeps_edit_state, save_state=self.method.save_state)

    def _generator_spec(self, meta: dict) -> str | pt.Transformer | None:
        if self.query_generator is not None:
            return self.query_generator
        spec = meta.get("query_generator")
        if spec is None or spec in ("none", "extractive", "instructed"):
            return spec
        raise ValueError(f"the index was built with the query generator {str(spec)[:200]!r}; pass it again as "
                         "query_generator= to the updater: a model path is never taken from an index's metadata")


def remove_documents(index: IndexReader | str, docnos: Iterable[str], wait: bool | float = False) -> IndexReader:
    """Stop retrieving ``docnos`` through the index's constraint (a trie disallows their docids,
    an n-gram index masks them out); the model is unchanged. Returns the index at its new generation."""
    index = index if isinstance(index, IndexReader) else IndexReader(index)
    docnos = list(dict.fromkeys(str(d) for d in ([docnos] if isinstance(docnos, str) else docnos)))
    if not docnos:
        raise ValueError("no docnos to remove")
    IndexReader(index.path).meta  # a clear error for a missing or damaged index, before the lock
    with storage.IndexWriter(index.path, "remove", wait=wait) as writer:
        old = IndexReader(index.path, device=index.device, verbose=index.verbose)  # read under the lock
        meta, table = old.meta, old.table()
        unknown = [d for d in docnos if d not in table]
        if unknown:
            raise ValueError(f"{len(unknown)} docno(s) to remove are not in the index {old.path!r}: {unknown[:5]}")
        started = time.time()
        constraint = old.constraint()
        live = constraint.live_docs()
        idx = [table.index_of(d) for d in docnos]
        gone = [d for d, i in zip(docnos, idx) if not live[i]]
        if gone:
            raise ValueError(f"{len(gone)} docno(s) were already removed from {old.path!r}: {gone[:5]}")
        constraint.remove(idx)
        record = generation_record(meta, "remove", {}, 0, len(idx), time.time() - started, None, len(constraint), {})
        new_meta = dict(meta, **constraint.meta(), num_docs=len(constraint), generation=record["generation"],
                        generations=list(meta.get("generations", [])) + [record])
        write_generation(writer, old, new_meta, constraint=constraint, keep_edit=True)
    index.reload()
    return index


UPDATE_MAX_EPOCHS = 10


def update_train_config(meta: dict) -> TrainConfig:
    """The training settings updates start from: the build's, with as many epochs as the build
    trained (at most :data:`UPDATE_MAX_EPOCHS`; a budgeted build's ``epochs`` is only a cap; a
    zero-shot index, which trained none, :data:`UPDATE_MAX_EPOCHS`) and no time budget."""
    config = {k: v for k, v in meta["train"].items() if k in TrainConfig.__dataclass_fields__}
    trained = len(meta.get("epoch_losses") or []) or int(config.get("epochs") or UPDATE_MAX_EPOCHS)
    config.update(epochs=min(trained, UPDATE_MAX_EPOCHS), max_minutes=None)
    return TrainConfig(**config)

