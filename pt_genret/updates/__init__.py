"""Updating a generative index with new documents, without rebuilding it.

A new update method is one module plus one line in :data:`UPDATE_METHODS`.
"""
from __future__ import annotations

from pt_genret.updates.base import UpdateContext, UpdateMethod
from pt_genret.updates.dome import DomeUpdate
from pt_genret.updates.finetune import FinetuneUpdate
from pt_genret.updates.incremental import IncrementalUpdate
from pt_genret.updates.memit import MemitUpdate
from pt_genret.updates.rome import RomeUpdate

UPDATE_METHODS: dict[str, type[UpdateMethod]] = {
    "finetune": FinetuneUpdate,
    "incremental": IncrementalUpdate,
    "dome": DomeUpdate,
    "memit": MemitUpdate,
    "rome": RomeUpdate,
}


def __getattr__(name: str):
    if name in ("GenUpdater", "remove_documents"):  # lazy: the updater imports pt_genret.index
        from pt_genret.updates import updater

        return getattr(updater, name)
    raise AttributeError(f"module 'pt_genret.updates' has no attribute {name!r}")


__all__ = ["UPDATE_METHODS", "UpdateContext", "UpdateMethod", "GenUpdater", "remove_documents"]
