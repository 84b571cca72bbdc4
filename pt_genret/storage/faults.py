"""Named points in every write where a test can kill the writer (fault injection).

``PT_GENRET_CRASH_AT=<stage>`` makes the process exit at once (``os._exit``, as ``kill -9``:
no clean-up, no ``finally``) when a writer reaches that stage; ``PT_GENRET_CRASH_AT=list``
prints every stage reached, one a line, on stderr. Unset, :func:`stage` costs one lookup.
"""
from __future__ import annotations

import os
import sys

CRASH_ENV = "PT_GENRET_CRASH_AT"
CRASH_EXIT_CODE = 86


def stage(name: str) -> None:
    """Mark that a writer reached ``name``; die there if the environment asks for it."""
    wanted = os.environ.get(CRASH_ENV)
    if not wanted:
        return
    if wanted == "list":
        print(f"{CRASH_ENV} stage: {name}", file=sys.stderr, flush=True)
    elif wanted == name:
        os._exit(CRASH_EXIT_CODE)
