"""The two model calls every decoder makes: encode queries once, then score next tokens.

Both go through the standard ``forward`` of any HF encoder-decoder (``encoder_outputs`` plus
``decoder_input_ids``), so no generation code is copied or pinned to a transformers version.
"""
from __future__ import annotations

import torch
from transformers.modeling_outputs import BaseModelOutput

from pt_genret.backbone import Backbone


@torch.inference_mode()
def encode(backbone: Backbone, texts: list[str], max_length: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Encoder states ``(n, len, h)`` and attention mask ``(n, len)`` of ``texts``."""
    enc = backbone.tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    enc = enc.to(backbone.device)
    hidden = backbone.model.get_encoder()(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
    return hidden.last_hidden_state, enc["attention_mask"]


@torch.inference_mode()
def next_token_logits(backbone: Backbone, hidden: torch.Tensor, mask: torch.Tensor,
                      prefixes: torch.Tensor) -> torch.Tensor:
    """Logits ``(n, vocab)`` of the token after each decoder prefix ``(n, t)``."""
    out = backbone.model(encoder_outputs=BaseModelOutput(last_hidden_state=hidden), attention_mask=mask,
                         decoder_input_ids=prefixes, use_cache=False)
    return out.logits[:, -1, :].float()


def teacher_forced_logprobs(backbone: Backbone, hidden: torch.Tensor, mask: torch.Tensor,
                            targets: list[list[int]]) -> torch.Tensor:
    """Teacher-forced log-likelihood of each whole target sequence (one per encoder row).

    Differentiable: learning to rank trains through it; decoders use :func:`sequence_logprobs`.
    """
    width = max(len(t) for t in targets)
    labels = torch.full((len(targets), width), -100, dtype=torch.long)
    for i, t in enumerate(targets):
        labels[i, :len(t)] = torch.tensor(t)
    labels = labels.to(hidden.device)
    start = torch.full((len(targets), 1), backbone.decoder_start_token_id, device=hidden.device)
    shifted = labels[:, :-1]
    dec_in = torch.cat([start, torch.where(shifted < 0, backbone.pad_token_id, shifted)], dim=1)
    logits = backbone.model(encoder_outputs=BaseModelOutput(last_hidden_state=hidden), attention_mask=mask,
                            decoder_input_ids=dec_in, use_cache=False).logits.float()
    logp = torch.log_softmax(logits, dim=-1)
    picked = logp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * (labels != -100)).sum(-1)


@torch.inference_mode()
def sequence_logprobs(backbone: Backbone, hidden: torch.Tensor, mask: torch.Tensor,
                      targets: list[list[int]]) -> torch.Tensor:
    """:func:`teacher_forced_logprobs` without gradients, for scoring candidates."""
    return teacher_forced_logprobs(backbone, hidden, mask, targets)
