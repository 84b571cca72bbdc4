"""The layout of an index folder, its generations, and how they are published and cleaned.

Layout::

    <index>/pt_meta.json     the artifact's metadata; names the current generation folder
    <index>/write.lock       the writer lock (see :mod:`pt_genret.storage.lock`)
    <index>/gen-000003/      the files of the current generation (model/, docids.jsonl, trie.npz, ...)
    <index>/gen-000002/      the previous generation, kept for readers that opened it

A writer (build, update, remove, LTRGR, distillation) holds the lock, writes the files of the
next generation into a ``.genret-tmp-*`` folder, fsyncs them, renames the folder to the next
``gen-N`` and then publishes it in one atomic step: ``pt_meta.json`` is replaced (written
beside it, fsynced, renamed over it) by a version naming ``gen-N``, as Lucene's ``segments_N``
names a commit. A crash at any point leaves ``pt_meta.json`` naming the old generation or the
new one, both complete; what else it left (temporary folders, an unpublished ``gen-N``, old
generations) is removed by the next writer, or when the index is opened and no writer runs.

Indexes of format version 1 kept their files directly in ``<index>/``; they are read as they
are, and their first new generation moves them to this layout.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from typing import Callable, Iterable

from pt_genret.storage.atomic import fsync_dir, fsync_tree, link_missing, make_folder, write_json
from pt_genret.storage.faults import stage
from pt_genret.storage.lock import LOCK_FILE, WriteLock, try_lock

META_FILE = "pt_meta.json"
FOLDER_KEY = "generation_folder"
GEN_PREFIX = "gen-"
TMP_PREFIX = ".genret-tmp-"
KEEP_PREVIOUS = 1  # generations kept besides the current one, for readers that opened them
_GEN_NAME = re.compile(r"gen-(\d{6,})")
#: what a format-1 (single-generation) index kept in its root, and what its writers left there
LEGACY_NAMES = frozenset({"model", "docids.jsonl", "trie.npz", "ngrams", "scheme", "pseudo_queries.jsonl",
                          "heldout_queries.jsonl", "training_curve.png", "edit", ".model-old", "pt_meta.json.tmp"})
_LEGACY_PREFIXES = (".model-tmp-", f".{META_FILE}.tmp-")


def read_meta(root: str) -> dict:
    """``pt_meta.json`` of the folder ``root``, checked to be a JSON object."""
    path = os.path.join(root, META_FILE)
    try:
        with open(path, encoding="utf8") as f:
            meta = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"no GR index at {root!r}{_leftover_hint(root)}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"corrupt {META_FILE} in {root!r}: {e}; rebuild the index (pt-genret index ... "
                         "--overwrite)") from None
    if not isinstance(meta, dict):
        raise ValueError(f"corrupt {META_FILE} in {root!r}: it holds a {type(meta).__name__}, not a JSON object; "
                         "rebuild the index (pt-genret index ... --overwrite)")
    return meta


def generation_folder(root: str, meta: dict) -> str:
    """The folder holding the files of the generation ``meta`` describes (``root`` itself for format 1)."""
    name = meta.get(FOLDER_KEY)
    if name is None:
        return root
    if not isinstance(name, str) or not _GEN_NAME.fullmatch(name):  # never a path out of the index
        raise ValueError(f"corrupt {META_FILE} in {root!r}: {FOLDER_KEY} is {name!r}, not gen-NNNNNN")
    folder = os.path.join(root, name)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"GR index {root!r} is incomplete: its current generation folder {name} is missing")
    return folder


def has_leftovers(root: str) -> bool:
    """Whether ``root`` holds what an interrupted writer or a superseded generation left."""
    try:
        names = os.listdir(root)
    except OSError:
        return False
    return bool(_removable(root, names))


def recover(root: str) -> bool:
    """Clean up leftovers of interrupted writers when no writer runs now (the lock is free); a
    reader's call: never waits and never fails. Returns whether it cleaned."""
    if not has_leftovers(root):
        return False
    lock = try_lock(root, "recovery")
    if lock is None:
        return False
    try:
        cleanup(root)
    finally:
        lock.release()
    return True


def cleanup(root: str) -> list[str]:
    """Remove temporary folders, unpublished and superseded generations and format-1 files
    that a published generation replaced (call with the lock held). Returns what it removed."""
    gone = _removable(root, os.listdir(root))
    for name in gone:
        path = os.path.join(root, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
    return gone


def _removable(root: str, names: list[str]) -> list[str]:
    try:
        meta = read_meta(root)
    except (FileNotFoundError, ValueError):
        meta = None
    current = meta.get(FOLDER_KEY) if meta else None
    out = [n for n in names if n.startswith(TMP_PREFIX) or n.startswith(_LEGACY_PREFIXES)]
    gens = sorted((n for n in names if _GEN_NAME.fullmatch(n)), key=_seq)
    if meta is not None and current is None:
        return out  # a format-1 index: its files are the index
    if current in gens:
        older = [g for g in gens if _seq(g) < _seq(current)]
        keep = set(older[-KEEP_PREVIOUS:]) if KEEP_PREVIOUS else set()
        out += [g for g in gens if g != current and g not in keep]
        out += [n for n in names if n in LEGACY_NAMES]
    elif meta is None:
        out += gens  # never published: a build that did not finish
    return out


def _seq(name: str) -> int:
    return int(name[len(GEN_PREFIX):])


def next_generation_name(root: str) -> str:
    seqs = [_seq(n) for n in os.listdir(root) if _GEN_NAME.fullmatch(n)]
    return f"{GEN_PREFIX}{max(seqs, default=-1) + 1:06d}"


def publish(root: str, meta: dict, write: Callable[[str], None], base: str | None = None,
            skip: Iterable[str] = ()) -> str:
    """Write and publish the next generation of the index at ``root`` (the caller holds its lock).

    ``write(folder)`` saves the parts that changed; then every file of ``base`` (the current
    generation's folder) that ``folder`` lacks is hard-linked in, except the top-level names in
    ``skip``; then the folder is fsynced, renamed to the next ``gen-N`` and published by
    replacing ``pt_meta.json`` (``meta`` plus the folder name). Returns the new folder.
    """
    stage("publish:start")
    meta = {k: v for k, v in meta.items() if k != FOLDER_KEY}
    tmp = make_folder(root, TMP_PREFIX)
    try:
        write(tmp)
        stage("publish:written")
        if base is not None:
            link_missing(base, tmp, skip=frozenset(skip) | {META_FILE, LOCK_FILE} | {
                n for n in os.listdir(base) if _GEN_NAME.fullmatch(n) or n.startswith(TMP_PREFIX)})
        stage("publish:linked")
        write_json(os.path.join(tmp, META_FILE), meta)  # a copy: the folder describes itself
        fsync_tree(tmp)
        stage("publish:synced")
        name = next_generation_name(root)
        os.rename(tmp, os.path.join(root, name))
        fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    stage("publish:renamed")
    write_json(os.path.join(root, META_FILE), {**meta, FOLDER_KEY: name})  # the atomic step
    stage("publish:published")
    cleanup(root)
    stage("publish:cleaned")
    return os.path.join(root, name)


def _leftover_hint(root: str) -> str:
    """Where an index of pt-genret before format 2 went if a crash hit its two-rename swap."""
    parent, base = os.path.split(os.path.abspath(root))
    if not os.path.isdir(parent):
        return ""
    old = sorted(os.path.join(parent, n, "index") for n in os.listdir(parent) if n.startswith(".genret-old-")
                 and os.path.exists(os.path.join(parent, n, "index", META_FILE)))
    if not old:
        return "" if not os.path.exists(os.path.join(root, LOCK_FILE)) else \
            " (only a write.lock: a build was interrupted or is running)"
    return (f"; {parent!r} holds the previous index of an interrupted update by an older pt-genret: "
            f"move {old[0]!r} back to {root!r}")


# targets of a build ---------------------------------------------------------------------------
def describe_target(path: str) -> tuple[str, list[str]]:
    """What is at ``path``: ``missing``, ``file``, ``empty``, ``index`` (a pt-genret index or
    what only a pt-genret writer leaves), or ``foreign`` with the names that make it so."""
    if not os.path.lexists(path):
        return "missing", []
    if not os.path.isdir(path) or os.path.islink(path):
        return "file", []
    names = os.listdir(path)
    if not names:
        return "empty", []
    if os.path.exists(os.path.join(path, META_FILE)):
        try:
            meta = read_meta(path)
        except ValueError:
            meta = {}
        if meta.get("type") == "generative_index":
            return "index", []
        return "foreign", [META_FILE]
    ours = {LOCK_FILE} | set()
    foreign = sorted(n for n in names if n not in ours and not n.startswith(TMP_PREFIX)
                     and not _GEN_NAME.fullmatch(n))
    return ("foreign", foreign) if foreign else ("index", [])


def check_target(path: str, overwrite: bool, protect: Iterable[str] = ()) -> None:
    """Refuse to build at ``path`` unless it is free: missing, an empty folder, the leftovers of
    an interrupted build, or (with ``overwrite``) a pt-genret index. Never a folder holding
    anything else, and never one of ``protect`` (the input corpus) or a folder containing it."""
    real = os.path.realpath(path)
    for p in protect:
        other = os.path.realpath(p)
        if real == other or other.startswith(real.rstrip(os.sep) + os.sep):
            raise ValueError(f"refusing to write the index to {path!r}: it {'is' if real == other else 'contains'} "
                             f"the input {p!r}; choose another output folder")
    kind, names = describe_target(path)
    if kind == "file":
        raise FileExistsError(f"{path!r} is a file, not a folder; choose another output folder")
    if kind == "foreign":
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise FileExistsError(f"refusing to write the index to {path!r}: it is not a pt-genret index and not empty "
                              f"(it holds {shown}); choose another output folder or empty it")
    if kind == "index" and os.path.exists(os.path.join(path, META_FILE)) and not overwrite:
        raise FileExistsError(f"{path!r} already exists and holds a GR index; pass overwrite=True (--overwrite) to "
                              "replace it")


def check_writable(folder: str, need_bytes: int = 0) -> None:
    """Fail now, not after hours of training, when ``folder`` (or the nearest existing folder
    above it) cannot be written or has less than ``need_bytes`` free."""
    probe = os.path.abspath(folder)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write to {probe!r} (permission denied); choose a writable output folder")
    if need_bytes:
        free = shutil.disk_usage(probe).free
        if free < need_bytes:
            raise OSError(f"not enough disk space at {probe!r}: about {need_bytes / 2**20:.0f} MiB needed, "
                          f"{free / 2**20:.0f} MiB free; free some space or choose another output folder")


def folder_bytes(folder: str) -> int:
    """Total size of the files under ``folder``."""
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(folder) for f in fs)


# plain folders (the Lucene baseline) ------------------------------------------------------------
def replace_folder(path: str, write: Callable[[str], None], overwrite: bool) -> None:
    """Write a folder that is not a GR index (a Lucene index) atomically: ``write(tmp)`` fills a
    sibling ``.<name>.genret-tmp-*`` folder, which then replaces ``path``. The old folder is
    first renamed to ``.<name>.genret-old-*``; :func:`recover_folder` puts it back if a crash
    came between the two renames. Holds a sibling lock ``.<name>.write.lock`` meanwhile."""
    parent, base = os.path.split(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    with _sibling_lock(path, f"write {base}"):
        recover_folder(path, locked=True)
        tmp = make_folder(parent, f".{base}{TMP_PREFIX}")
        try:
            write(tmp)
            fsync_tree(tmp)
            stage("replace:written")
            if os.path.exists(path):
                if not overwrite:
                    raise FileExistsError(f"{path!r} appeared while writing; not replacing it")
                old = os.path.join(parent, f".{base}.genret-old-{os.getpid()}")
                os.rename(path, old)
                stage("replace:moved-aside")
                os.rename(tmp, path)
                fsync_dir(parent)
                stage("replace:renamed")
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(tmp, path)
                fsync_dir(parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def recover_folder(path: str, locked: bool = False) -> None:
    """Undo what a crash inside :func:`replace_folder` left: put the old folder back if ``path``
    is missing, remove temporary and old copies otherwise."""
    parent, base = os.path.split(os.path.abspath(path))
    if not os.path.isdir(parent):
        return
    names = [n for n in os.listdir(parent) if n.startswith((f".{base}{TMP_PREFIX}", f".{base}.genret-old-"))]
    if not names:
        return
    lock = None
    if not locked:
        try:
            lock = _sibling_lock(path, f"recover {base}").acquire()
        except Exception:
            return  # a writer runs: it recovers
    try:
        old = [n for n in names if n.startswith(f".{base}.genret-old-")]
        if old and not os.path.exists(path):
            os.rename(os.path.join(parent, old[0]), path)
        for n in names:
            shutil.rmtree(os.path.join(parent, n), ignore_errors=True)
    finally:
        if lock is not None:
            lock.release()


def _sibling_lock(path: str, purpose: str) -> WriteLock:
    """The writer lock of a plain folder: ``.<name>.write.lock`` beside it, removed on release."""
    parent, base = os.path.split(os.path.abspath(path))
    return WriteLock(parent, purpose=purpose, name=f".{base}.{LOCK_FILE}", remove_on_release=True)
