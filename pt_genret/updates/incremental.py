"""``incremental``: DSI++-style continual fine-tuning with replay of old examples.

The new documents' examples are mixed with a seeded sample of old documents' pseudo-queries
(``replay_ratio`` old examples per new one), so training on the new docids also rehearses
old ones and forgetting is much smaller than with ``finetune``. The cost grows with the
replayed data (DSI++ row of the DOME paper).
"""
from __future__ import annotations

from dataclasses import dataclass

from pt_genret.options import option
from pt_genret.training import Example
from pt_genret.updates.base import UpdateContext
from pt_genret.updates.finetune import FinetuneUpdate


@dataclass(kw_only=True, eq=False, repr=False)
class IncrementalUpdate(FinetuneUpdate):
    """Fine-tune on new examples plus replayed old pseudo-query examples.

    Args:
        replay_ratio: old examples replayed per new example (0 is ``finetune``); at most every
            saved old example is replayed, so a large ratio means "replay everything".
        epochs, lr, batch_size: training settings; ``None`` takes the index's own.
    """

    name = "incremental"

    replay_ratio: float = option(1.0)

    def examples(self, ctx: UpdateContext) -> list[Example]:
        new = list(ctx.new_examples)
        want = int(round(self.replay_ratio * len(new)))
        if want and ctx.old_queries.empty:
            raise ValueError(f"incremental updates replay the old documents' pseudo-queries, but {ctx.path!r} "
                             "has none saved (built without a query generator); use replay_ratio=0 or finetune")
        return new + ctx.old_examples(limit=want)
