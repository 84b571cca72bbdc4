"""Decoders. A new decoder is one module plus one line in :data:`pt_genret.registry.DECODERS`
(see :mod:`pt_genret.decoding.protocol`); step transforms such as :class:`Temperature` compose
with the beam decoder like HF's logits processors."""
from __future__ import annotations

from typing import Any

from pt_genret.decoding.beam import ConstrainedBeamSearch, sharpened
from pt_genret.decoding.ngram_search import NgramBeamSearch
from pt_genret.decoding.protocol import Decoder
from pt_genret.decoding.sampling import AnnealedSampling
from pt_genret.decoding.scoring import score_candidates
from pt_genret.decoding.transforms import StepTransform, Temperature, apply_transforms
from pt_genret.registry import DECODERS


def get_decoder(decoder: str | Any = "beam", **kwargs) -> Any:
    """A decoder object from a name (with constructor ``kwargs``) or the object itself."""
    if not isinstance(decoder, str):
        return decoder
    return DECODERS.create(decoder, **kwargs)


__all__ = ["DECODERS", "AnnealedSampling", "ConstrainedBeamSearch", "Decoder", "NgramBeamSearch", "StepTransform",
           "Temperature", "apply_transforms", "get_decoder", "score_candidates", "sharpened"]
