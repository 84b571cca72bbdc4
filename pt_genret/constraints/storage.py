"""Reading and writing constraint structures as ``.npz`` files of plain arrays (no pickle)."""
from __future__ import annotations

import os

import numpy as np


def save_arrays(path: str, version: int, **arrays: np.ndarray) -> None:
    np.savez(path, format_version=np.array([version]), **arrays)


def load_arrays(path: str, what: str, version: int, names: set[str]) -> dict[str, np.ndarray]:
    """The arrays in ``path``, after checking the file exists, is intact, complete and of ``version``."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} file missing: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = dict(z)
    except Exception as e:  # zip/npy corruption
        raise ValueError(f"corrupt {what} file {path}: {e}") from None
    missing = ({"format_version"} | names) - set(arrays)
    if missing:
        raise ValueError(f"corrupt {what} file {path}: missing arrays {sorted(missing)}")
    found = int(arrays["format_version"][0])
    if found != version:
        raise ValueError(f"{what} file {path} has format version {found}; this pt-genret reads {version}")
    return arrays
