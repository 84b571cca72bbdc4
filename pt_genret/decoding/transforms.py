"""Step transforms: functions of a decoding step's logits, composed like HF's logits processors.

A step transform is any callable ``(logits, step) -> logits`` over a ``rows x vocabulary``
(or ``rows x docid-head columns``) tensor; decoders apply their ``step_transforms`` in order
before normalising, so ``ConstrainedBeamSearch(step_transforms=(Temperature(0.5),))`` searches
the model's step distributions sharpened by 1/T. A new transform is one small class.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import torch


class StepTransform(Protocol):
    def __call__(self, logits: torch.Tensor, step: int) -> torch.Tensor: ...


@dataclass(frozen=True)
class Temperature:
    """Logits divided by ``value``: below 1 sharpens the step distribution, above 1 flattens it."""

    value: float

    def __post_init__(self) -> None:
        if not self.value > 0:
            raise ValueError(f"Temperature value must be > 0, got {self.value}")

    def __call__(self, logits: torch.Tensor, step: int) -> torch.Tensor:
        return logits if self.value == 1.0 else logits / self.value


def apply_transforms(transforms: Sequence[StepTransform], logits: torch.Tensor, step: int) -> torch.Tensor:
    """``logits`` passed through ``transforms`` in order."""
    for transform in transforms:
        logits = transform(logits, step)
    return logits
