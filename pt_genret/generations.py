"""Writing a new generation of a GR index: what changed is saved, the rest is shared.

Every change after a build goes through here (updates, removals, LTRGR and distillation
phases): under the writer lock (:class:`pt_genret.storage.IndexWriter`) the given parts are
saved into the next generation's folder, the unchanged files of the current one are
hard-linked in, and :func:`pt_genret.storage.publish` makes it current. ``pt_meta.json``
keeps a ``generations`` list: what each change did, with which options, and how long it took.
"""
from __future__ import annotations

import os
import shutil
import time
from typing import Any, Callable

import pandas as pd

from pt_genret import storage
from pt_genret.storage.faults import stage
from pt_genret.reader import FORMAT_VERSION, IndexReader
from pt_genret.saved_queries import PSEUDO_QUERIES, write_pseudo_queries

EDIT_DIR = "edit"  # model-editing state (see pt_genret.updates.base.edit_dir)


def write_generation(writer: storage.IndexWriter, old: IndexReader, meta: dict, backbone=None, table=None,
                     constraint=None, scheme=None, new_queries: pd.DataFrame | None = None, keep_edit: bool = True,
                     save_state: Callable[[str], None] | None = None) -> str:
    """Publish the generation after ``old`` (read under ``writer``'s lock) with ``meta``: given
    parts are saved (``constraint``: a :class:`~pt_genret.constraints.base.Constraint`, saved
    where it says), every other file is shared with ``old``. Returns the new folder."""
    base = old.folder

    def write(tmp: str) -> None:
        for name, part in (("model", backbone), ("docids.jsonl", table), (None, constraint), ("scheme", scheme)):
            if part is not None:
                part.save(tmp if name is None else os.path.join(tmp, name))
                stage(f"write:{name or part.location}")
        if new_queries is not None:
            target = os.path.join(tmp, PSEUDO_QUERIES)
            if os.path.exists(os.path.join(base, PSEUDO_QUERIES)):
                shutil.copyfile(os.path.join(base, PSEUDO_QUERIES), target)  # copied, not linked: appended to
            with open(target, "a", encoding="utf8") as f:
                write_pseudo_queries(f, new_queries)
            stage(f"write:{PSEUDO_QUERIES}")
        if save_state is not None:
            save_state(tmp)
            stage("write:state")

    meta = {**meta, "format_version": FORMAT_VERSION, "num_docids": len(table if table is not None else old.table())}
    return writer.publish(meta, write, base=base, skip=() if keep_edit else {EDIT_DIR})


def generation_record(meta: dict, method: str, options: dict, added: int, removed: int, seconds: float,
                      seed: int | None, num_docs: int, details: dict) -> dict:
    """The ``generations`` entry of a change to the index ``meta`` describes."""
    return {
        "generation": int(meta.get("generation", 0)) + 1, "method": method, "options": options,
        "docs_added": added, "docs_removed": removed, "num_docs": num_docs, "seconds": round(seconds, 3),
        "seconds_per_added_doc": round(seconds / added, 4) if added else None, "seed": seed,
        "versions": storage.versions(), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "details": details,
    }


def save_model_phase(index: IndexReader, backbone, key: str, record: dict[str, Any], wait: bool | float = False) -> None:
    """Publish a generation of ``index`` with ``backbone``'s weights (a training phase after the
    build: LTRGR, distillation), recording ``record`` under ``key`` and in ``generations``.

    The phase trained on the generation ``index`` had open; if a writer changed the index
    meanwhile, its work is not overwritten: the phase fails and must be run again."""
    trained_on = index.meta
    with storage.IndexWriter(index.path, purpose=key, wait=wait) as writer:
        now = writer.meta
        if now is None or now.get(storage.FOLDER_KEY) != trained_on.get(storage.FOLDER_KEY) or \
                now.get("generation") != trained_on.get("generation"):
            raise ValueError(f"{index.path!r} changed while the {key} phase trained (generation "
                             f"{trained_on.get('generation', 0)} -> {(now or {}).get('generation', 0)}); run it again")
        old = IndexReader(index.path, device=index.device, verbose=index.verbose)
        meta = dict(old.meta)
        meta.setdefault(key, [])
        meta[key] = list(meta[key]) + [record]
        entry = generation_record(meta, key, {k: v for k, v in record.items() if k != "epoch_losses"}, 0, 0,
                                  0.0, record.get("seed"), int(meta["num_docs"]), {})
        meta.update(generation=entry["generation"], generations=list(meta.get("generations", [])) + [entry])
        write_generation(writer, old, meta, backbone=backbone)
    index.reload()
