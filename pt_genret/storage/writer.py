"""A writer's session on an index folder: the lock, the current generation, the next one."""
from __future__ import annotations

import os
import shutil
from typing import Callable, Iterable

from pt_genret import distributed
from pt_genret.storage.faults import stage
from pt_genret.storage.folder import META_FILE, cleanup, describe_target, generation_folder, publish, read_meta
from pt_genret.storage.lock import WriteLock


class IndexWriter:
    """Holds the writer lock of the index at ``root`` for a ``with`` block.

    On entry it takes the lock (failing at once, or waiting with ``wait``) and removes what
    interrupted writers left; :attr:`meta` and :attr:`current` then describe the generation
    the writer starts from, read under the lock so that no other writer's work is lost, and
    :meth:`publish` makes the next generation current. A first build that fails leaves no
    folder behind.

    Across processes (``accelerate launch``) only the main process takes the lock and writes;
    :meth:`publish` is where all processes meet: the others wait there until the new
    generation is published, then read it like the main process.
    """

    def __init__(self, root: str, purpose: str, wait: bool | float = False) -> None:
        self.root, self.purpose, self.wait = str(root), purpose, wait
        self._created = False
        self.lock: WriteLock | None = None
        self.published: str | None = None

    def __enter__(self) -> "IndexWriter":
        if not distributed.is_main():
            return self
        self._created = not os.path.exists(self.root)
        self.lock = WriteLock(self.root, wait=self.wait, purpose=self.purpose).acquire()
        try:
            cleanup(self.root)
        except BaseException:
            self.lock.release()
            raise
        stage(f"{self.purpose}:locked")
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.lock is None:  # not the main process: it wrote nothing
            return
        try:
            if exc_type is not None and self._created and self.published is None:
                if describe_target(self.root)[0] == "index":  # only what this writer made
                    shutil.rmtree(self.root, ignore_errors=True)
        finally:
            self.lock.release()

    @property
    def meta(self) -> dict | None:
        """The current generation's ``pt_meta.json``; ``None`` when no index is published yet."""
        if not os.path.exists(os.path.join(self.root, META_FILE)):
            return None
        return read_meta(self.root)

    @property
    def current(self) -> str | None:
        """The folder of the current generation's files (``None`` before the first build)."""
        meta = self.meta
        return None if meta is None else generation_folder(self.root, meta)

    def publish(self, meta: dict, write: Callable[[str], None], base: str | None = None,
                skip: Iterable[str] = ()) -> str:
        """Write and publish the next generation (see :func:`pt_genret.storage.folder.publish`)."""
        if distributed.launched():
            distributed.barrier()  # every process has read what it needs from the current generation
            name = self._publish(meta, write, base, skip) if distributed.is_main() else None
            self.published = distributed.broadcast(name)  # and waits for the main process's write
            return self.published
        return self._publish(meta, write, base, skip)

    def _publish(self, meta: dict, write: Callable[[str], None], base: str | None, skip: Iterable[str]) -> str:
        if self.lock is None or not self.lock.held:
            raise RuntimeError("IndexWriter.publish outside its with block")
        self.published = publish(self.root, meta, write, base=base, skip=skip)
        return self.published
