"""Decoders. A new decoder is one module plus one line in :data:`DECODERS`."""
from __future__ import annotations

from typing import Any

from functools import partial

from pt_genret.decoding.beam import ConstrainedBeamSearch
from pt_genret.decoding.ngram_search import NgramBeamSearch
from pt_genret.decoding.sampling import AnnealedSampling
from pt_genret.decoding.scoring import score_candidates

DECODERS: dict[str, Any] = {
    "beam": ConstrainedBeamSearch,
    # "control the sharpness": the model's step distributions raised to 1/T (T < 1 sharpens)
    "sharpened": partial(ConstrainedBeamSearch, temperature=0.5, name="sharpened"),
    "annealed": AnnealedSampling,
    "ngram": NgramBeamSearch,  # n-gram indexes (SEAL, MINDER)
}


def get_decoder(decoder: str | Any = "beam", **kwargs) -> Any:
    """A decoder object from a name (with constructor ``kwargs``) or the object itself."""
    if not isinstance(decoder, str):
        return decoder
    if decoder not in DECODERS:
        raise ValueError(f"unknown decoder {decoder!r}; choose one of {sorted(DECODERS)}")
    return DECODERS[decoder](**kwargs)


__all__ = ["DECODERS", "AnnealedSampling", "ConstrainedBeamSearch", "NgramBeamSearch", "get_decoder", "score_candidates"]
