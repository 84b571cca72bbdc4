"""Adding and removing documents: each change writes a new *generation* of the index.

:class:`GenUpdater` (a ``pt.Indexer``) gives new documents docids with the index's fitted
scheme, inserts them into the trie, writes their pseudo-queries with the generator the index
was built with, lets an update method change the model, and writes the result as a new
generation at the same path. :func:`remove_documents` only disallows docids in the trie.

A generation is written like a build: into a temporary sibling folder, renamed into place
when complete, so the previous generation stays loadable if an update fails. Files an update
does not change are hard-linked (or copied) from the previous generation. ``pt_meta.json``
keeps a ``generations`` list: what each update did, with which options, and how long it took.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
import pyterrier as pt

from pt_genret.backbone import Backbone
from pt_genret.constraints.trie import PrefixTrie
from pt_genret.docids import DocIdScheme, DocIdTable
from pt_genret.documents import collect_documents
from pt_genret.index import (PSEUDO_QUERIES, GenIndex, _versions, _write_atomically, read_saved_examples,
                             spell_unique, write_pseudo_queries)
from pt_genret.queries import get_query_generator
from pt_genret.training import TrainConfig, build_examples, seed_everything
from pt_genret.updates.base import UpdateContext, UpdateMethod, edit_dir



def make_method(method: str | UpdateMethod | type, seed: int = 42, verbose: bool = True,
                **options: Any) -> UpdateMethod:
    """An update method from a registered name (with its options), a class, or an object."""
    from pt_genret.updates import UPDATE_METHODS

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
        return cls(seed=seed, verbose=verbose, **options)
    except TypeError as e:
        import inspect

        accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "seed", "verbose")]
        raise ValueError(f"bad options for update method {cls.name!r}: {e}; it accepts {accepted}") from None


class GenUpdater(pt.Indexer):
    """Adds documents to an existing :class:`GenIndex` without rebuilding it.

    Args:
        index: the index to update (or its path); the new generation replaces it at the same path.
        method: a name in :data:`pt_genret.updates.UPDATE_METHODS` (``dome``, ``incremental``,
            ``finetune``, ``memit``, ``rome``), an :class:`UpdateMethod` class or object.
        seed: seeds the method (and torch, numpy, random).
        query_generator: pseudo-query generator for the new documents; default: the one the
            index was built with (needed when it was built with a custom transformer).
        num_pseudo_queries: pseudo-queries per new document; default: as many as the index was
            built with. More pseudo-queries give an edit more contexts to generalise from (the
            DOME paper's ablation: R@1 0.506 with one, 0.652 with seven).
        device: where the model runs.
        method_options: the method's own options (see its class).
    """

    def __init__(self, index: GenIndex | str, method: str | UpdateMethod | type = "dome", seed: int = 42,
                 verbose: bool = True, query_generator: str | pt.Transformer | None = None,
                 num_pseudo_queries: int | None = None, device: str | None = None, **method_options: Any) -> None:
        if num_pseudo_queries is not None and num_pseudo_queries < 1:
            raise ValueError(f"num_pseudo_queries must be >= 1, got {num_pseudo_queries}")
        self.target = index if isinstance(index, GenIndex) else GenIndex(index)
        self.method = make_method(method, seed=seed, verbose=verbose, **method_options)
        self.seed = seed
        self.verbose = verbose
        self.query_generator = query_generator
        self.num_pseudo_queries = num_pseudo_queries
        self.device = device if device is not None else self.target.device

    def __repr__(self) -> str:
        return f"GenUpdater({self.target.path!r}, {self.method!r})"

    def index(self, inp: Iterable[dict] | pd.DataFrame) -> GenIndex:
        """Add the documents (``docno, text[, title]``); returns the index at its new generation."""
        old = GenIndex(self.target.path, device=self.device, verbose=self.verbose)
        meta = old.meta
        _check_docid_index(old)
        table, docs = old.table(), collect_documents(inp, verbose=self.verbose)
        present = [d for d in docs["docno"] if d in table]
        if present:
            raise ValueError(f"{len(present)} new document(s) have docnos already in the index {old.path!r} "
                             f"(e.g. {present[:3]}); a removed document keeps its docno, so use new docnos")
        seed_everything(self.seed)
        started = time.time()

        backbone = Backbone.load(os.path.join(old.path, "model"), meta["backbone"], meta["num_codes"], self.device)
        scheme = old.scheme()
        docids = scheme.assign(docs, taken=table.docids)
        if scheme.kind == "codes":  # after assign: new documents may need new code tokens
            backbone.ensure_codes(scheme.num_codes())
        docids, tokens = spell_unique(scheme, backbone, docids, taken={tuple(t) for t in table.tokens})
        backbone.grow_head({t for ts in tokens for t in ts})  # new documents may bring new docid tokens
        trie = _grow(PrefixTrie.load(os.path.join(old.path, "trie.npz")), backbone.vocab_size, table)
        live_before = _live(trie)
        trie.insert(tokens)
        new_table = table.extend(docs["docno"].tolist(), docids, tokens)

        num_queries = self.num_pseudo_queries or int(meta.get("num_pseudo_queries", 5))
        generator = get_query_generator(self._generator_spec(meta), num_queries,
                                        int(meta.get("train", {}).get("seed", 42)))
        if generator is not None:
            docs = generator.transform(docs)
        new_tokens = dict(zip(docs["docno"], tokens))
        old_tokens = {table.docnos[i]: table.tokens[i] for i in np.flatnonzero(live_before)}
        old_queries, old_texts = (frame[frame["docno"].isin(old_tokens.keys())].reset_index(drop=True)
                                  for frame in read_saved_examples(old.path))  # of the live old documents
        ctx = UpdateContext(path=old.path, meta=meta, backbone=backbone, new_docs=docs, new_tokens=new_tokens,
                            new_examples=build_examples(docs, new_tokens), old_queries=old_queries, old_texts=old_texts,
                            old_tokens=old_tokens, train_config=update_train_config(meta), seed=self.seed,
                            verbose=self.verbose)
        prepared = time.time()
        info = self.method.update(ctx)
        seconds = time.time() - started

        record = _record(meta, self.method.name, self.method.options(), len(docs), 0, seconds, self.seed,
                         len(trie), info)
        record["prepare_seconds"] = round(prepared - started, 3)  # model load, docids, trie, pseudo-queries
        record["num_pseudo_queries"] = num_queries if generator is not None else 0
        new_meta = dict(meta, num_docs=len(trie), num_codes=backbone.num_codes,
                        max_docid_length=max(len(t) for t in new_table.tokens))
        new_meta["generations"] = list(meta.get("generations", [])) + [record]
        new_meta["generation"] = record["generation"]
        write_generation(old.path, new_meta, backbone=ctx.backbone, table=new_table, trie=trie, scheme=scheme,
                         new_queries=docs if "querygen" in docs.columns else None,
                         keep_edit=self.method.keeps_edit_state, save_state=self.method.save_state)
        self.target._cache.clear()  # the caller's object now sees the new generation
        return GenIndex(old.path, device=self.device, verbose=self.verbose)

    def _generator_spec(self, meta: dict) -> str | pt.Transformer | None:
        if self.query_generator is not None:
            return self.query_generator
        spec = meta.get("query_generator")
        if spec is None or spec in ("none", "extractive"):
            return spec
        if os.path.isdir(spec) or "/" in spec:
            return spec  # a doc2query model name or folder
        raise ValueError(f"the index was built with a custom query generator ({spec}); pass the same "
                         "transformer as query_generator= to the updater")


def remove_documents(index: GenIndex, docnos: Iterable[str]) -> GenIndex:
    """Disallow the docids of ``docnos`` (the model is unchanged); returns the new generation."""
    docnos = list(dict.fromkeys(str(d) for d in ([docnos] if isinstance(docnos, str) else docnos)))
    if not docnos:
        raise ValueError("no docnos to remove")
    old = GenIndex(index.path, device=index.device, verbose=index.verbose)
    meta, table = old.meta, old.table()
    _check_docid_index(old)
    unknown = [d for d in docnos if d not in table]
    if unknown:
        raise ValueError(f"{len(unknown)} docno(s) to remove are not in the index {old.path!r}: {unknown[:5]}")
    started = time.time()
    trie = PrefixTrie.load(os.path.join(old.path, "trie.npz"))
    live = _live(trie)
    idx = [table.index_of(d) for d in docnos]
    gone = [d for d, i in zip(docnos, idx) if not live[i]]
    if gone:
        raise ValueError(f"{len(gone)} docno(s) were already removed from {old.path!r}: {gone[:5]}")
    trie.remove(idx)
    record = _record(meta, "remove", {}, 0, len(idx), time.time() - started, None, len(trie), {})
    new_meta = dict(meta, num_docs=len(trie), generation=record["generation"],
                    generations=list(meta.get("generations", [])) + [record])
    write_generation(old.path, new_meta, trie=trie, keep_edit=True)
    index._cache.clear()
    return GenIndex(old.path, device=index.device, verbose=index.verbose)


def _check_docid_index(index: GenIndex) -> None:
    if index.meta.get("scheme_kind") == "ngrams":
        raise ValueError(f"{index.path!r} is an n-gram index ({index.meta['scheme']}): updates and removals "
                         "need a docid index (a docid scheme and its prefix trie)")


def write_generation(path: str, meta: dict, backbone: Backbone | None = None, table: DocIdTable | None = None,
                     trie: PrefixTrie | None = None, scheme: DocIdScheme | None = None,
                     new_queries: pd.DataFrame | None = None, keep_edit: bool = True,
                     save_state: Callable[[str], None] | None = None) -> None:
    """Write the next generation of the index at ``path``: given parts are saved, the rest linked."""

    def write(tmp: str) -> None:
        written = {"pt_meta.json"}
        for name, part, save in (("model", backbone, lambda f: backbone.save(f)),
                                 ("docids.jsonl", table, lambda f: table.save(f)),
                                 ("trie.npz", trie, lambda f: trie.save(f)),
                                 ("scheme", scheme, lambda f: scheme.save(f))):
            if part is not None:
                save(os.path.join(tmp, name))
                written.add(name)
        if new_queries is not None:
            target = os.path.join(tmp, PSEUDO_QUERIES)
            if os.path.exists(os.path.join(path, PSEUDO_QUERIES)):
                shutil.copyfile(os.path.join(path, PSEUDO_QUERIES), target)  # copied, not linked: appended to
            with open(target, "a", encoding="utf8") as f:
                write_pseudo_queries(f, new_queries)
            written.add(PSEUDO_QUERIES)
        if not keep_edit:
            written.add(os.path.basename(edit_dir(tmp)))
        for name in os.listdir(path):
            if name not in written:
                _link_or_copy(os.path.join(path, name), os.path.join(tmp, name))
        if save_state is not None:
            save_state(tmp)
        with open(os.path.join(tmp, "pt_meta.json"), "w") as f:
            json.dump(meta, f, indent=1)

    _write_atomically(path, True, write)


def _link_or_copy(src: str, dst: str) -> None:
    """Hard-link a file or folder tree (copy where linking fails): generations share unchanged files."""
    def link(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    if os.path.isdir(src):
        shutil.copytree(src, dst, copy_function=link)
    else:
        link(src, dst)


def _live(trie: PrefixTrie) -> np.ndarray:
    """Boolean mask over document indices: which docids are still allowed."""
    leaves = trie.leaf_of_doc
    return (trie.count[leaves] > 0) & (trie.doc[leaves] == np.arange(len(leaves)))


UPDATE_MAX_EPOCHS = 10


def update_train_config(meta: dict) -> TrainConfig:
    """The training settings updates start from: the build's, with as many epochs as the build
    trained (at most :data:`UPDATE_MAX_EPOCHS`; a budgeted build's ``epochs`` is only a cap) and
    no time budget."""
    config = {k: v for k, v in meta["train"].items() if k in TrainConfig.__dataclass_fields__}
    trained = len(meta.get("epoch_losses") or []) or int(config.get("epochs", UPDATE_MAX_EPOCHS))
    config.update(epochs=min(trained, UPDATE_MAX_EPOCHS), max_minutes=None)
    return TrainConfig(**config)


def _grow(trie: PrefixTrie, vocab_size: int, table: DocIdTable) -> PrefixTrie:
    """The trie over a larger vocabulary (new code tokens), keeping removed documents removed."""
    if vocab_size <= trie.vocab_size:
        return trie
    live = _live(trie)
    grown = PrefixTrie.build(table.tokens, vocab_size)
    if not live.all():
        grown.remove(np.flatnonzero(~live))
    return grown


def _record(meta: dict, method: str, options: dict, added: int, removed: int, seconds: float, seed: int | None,
            num_docs: int, details: dict) -> dict:
    return {
        "generation": int(meta.get("generation", 0)) + 1, "method": method, "options": options,
        "docs_added": added, "docs_removed": removed, "num_docs": num_docs, "seconds": round(seconds, 3),
        "seconds_per_added_doc": round(seconds / added, 4) if added else None, "seed": seed,
        "versions": _versions(), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "details": details,
    }
