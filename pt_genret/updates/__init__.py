"""Updating a generative index with new documents, without rebuilding it.

A new update method is one module plus one line in :data:`pt_genret.registry.UPDATE_METHODS`.
"""
from __future__ import annotations

from pt_genret.registry import UPDATE_METHODS
from pt_genret.updates.base import UpdateContext, UpdateMethod


def __getattr__(name: str):
    if name in ("GenUpdater", "remove_documents"):  # lazy: the updater imports pt_genret.index
        from pt_genret.updates import updater

        return getattr(updater, name)
    raise AttributeError(f"module 'pt_genret.updates' has no attribute {name!r}")


__all__ = ["UPDATE_METHODS", "UpdateContext", "UpdateMethod", "GenUpdater", "remove_documents"]
