"""Reading and writing constraint structures as ``.npz`` files of plain arrays (no pickle)."""
from __future__ import annotations

import os

import numpy as np


def save_arrays(path: str, version: int, compressed: bool = False, **arrays: np.ndarray) -> None:
    """Write ``arrays`` and ``format_version``; ``compressed`` deflates them (smaller, slower to read)."""
    (np.savez_compressed if compressed else np.savez)(path, format_version=np.array([version]), **arrays)


def read_arrays(path: str, what: str) -> dict[str, np.ndarray]:
    """Every array in ``path``, after checking the file exists, is intact and has a format version."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} file missing: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = dict(z)
    except Exception as e:  # zip/npy corruption
        raise ValueError(f"corrupt {what} file {path}: {e}") from None
    check_names(path, what, arrays, {"format_version"})
    return arrays


def check_names(path: str, what: str, arrays: dict[str, np.ndarray], names: set[str]) -> None:
    """A one-line error naming the arrays ``path`` lacks."""
    missing = set(names) - set(arrays)
    if missing:
        raise ValueError(f"corrupt {what} file {path}: missing arrays {sorted(missing)}")


def load_arrays(path: str, what: str, version: int, names: set[str]) -> dict[str, np.ndarray]:
    """The arrays in ``path``, after checking the file exists, is intact, complete and of ``version``."""
    arrays = read_arrays(path, what)
    check_names(path, what, arrays, names)
    found = int(arrays["format_version"][0])
    if found != version:
        raise ValueError(f"{what} file {path} has format version {found}; this pt-genret reads {version}")
    return arrays
