"""Atomic file writes, durable renames and hard-linked copies: the primitives every writer uses."""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from typing import IO, Any, Iterator


@contextmanager
def atomic_file(path: str, mode: str = "w", encoding: str | None = "utf8") -> Iterator[IO]:
    """Open a temporary file beside ``path`` and replace ``path`` with it once the block ends
    without an error (flushed and fsynced first), so ``path`` holds the old or the new content."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.tmp-", dir=folder)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    fsync_dir(folder)


def write_json(path: str, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    with atomic_file(path) as f:
        json.dump(obj, f, indent=1)


def fsync_dir(folder: str) -> None:
    """Make a rename or file creation in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(folder: str) -> None:
    """fsync every file and folder under ``folder``: what a generation holds is on disk before it is published."""
    for root, _, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(root)


def link_missing(src: str, dst: str, skip: frozenset[str] = frozenset()) -> None:
    """Hard-link (or copy, where linking fails) into ``dst`` every file of ``src`` that ``dst``
    lacks, recursively, except the top-level names in ``skip``: a new generation shares the
    files it did not rewrite. Files present in ``dst`` are never opened, so a linked file is
    never written through."""
    for name in os.listdir(src):
        if name in skip:
            continue
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if os.path.isdir(s):
            os.makedirs(d, exist_ok=True)
            link_missing(s, d)
        elif not os.path.lexists(d):
            try:
                os.link(s, d)
            except OSError:
                shutil.copy2(s, d)


def make_folder(parent: str, prefix: str) -> str:
    """A new empty folder in ``parent`` named ``prefix`` + random letters, readable as any folder
    the user makes (``mkdtemp`` makes it private)."""
    tmp = tempfile.mkdtemp(prefix=prefix, dir=parent)
    os.chmod(tmp, 0o777 & ~_umask())
    return tmp


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def versions() -> dict[str, str]:
    """Versions of what wrote a folder: recorded in ``pt_meta.json`` by every writer."""
    import pyterrier as pt
    import torch
    import transformers

    from pt_genret import __version__

    return {"pt_genret": __version__, "python": sys.version.split()[0], "torch": torch.__version__,
            "transformers": transformers.__version__, "pyterrier": pt.__version__}
