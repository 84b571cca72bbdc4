"""matplotlib, an optional dependency (the ``plot`` extra): only the curves need it."""
from __future__ import annotations

from typing import Any

MISSING = ("matplotlib is not installed, so no curves (PNG) are drawn: pip install 'pt-genret[plot]' "
           "(the tables and every other output are written without it)")


def has_matplotlib() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the file-only Agg backend; a one-line ImportError naming the extra."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(MISSING) from None
    return plt
