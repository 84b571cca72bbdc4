"""``finetune``: train on the new documents' examples only (the naive baseline).

Cheap and effective for the new documents, but nothing reminds the model of the old ones, so
it forgets them (catastrophic forgetting): the "New-Doc FT" row of the DOME paper.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pt_genret.options import option
from pt_genret.training import Example, TrainConfig, train
from pt_genret.updates.base import UpdateContext, UpdateMethod


@dataclass(kw_only=True, eq=False, repr=False)
class FinetuneUpdate(UpdateMethod):
    """Fine-tune the whole model (or the decoder, if the index froze its encoder) on new examples.

    Args:
        epochs, lr, batch_size: training settings; ``None`` takes the index's own.
    """

    name = "finetune"
    constraints = ("trie", "ngrams")

    epochs: int | None = option(None, positive=True)
    lr: float | None = option(None, positive=True)
    batch_size: int | None = option(None, positive=True)

    def config(self, ctx: UpdateContext) -> TrainConfig:
        """The index's training settings with this method's overrides and seed."""
        base = ctx.train_config
        return replace(base, epochs=self.epochs or base.epochs, lr=self.lr or base.lr,
                       batch_size=self.batch_size or base.batch_size, seed=self.seed)

    def examples(self, ctx: UpdateContext) -> list[Example]:
        return list(ctx.new_examples)

    def update(self, ctx: UpdateContext) -> dict[str, Any]:
        examples = self.examples(ctx)
        losses = train(ctx.backbone, examples, self.config(ctx), verbose=self.verbose)
        return {"examples": len(examples), "epoch_losses": [round(x, 4) for x in losses]}
