"""Decoder-only backbones: any ``AutoModelForCausalLM`` reads the prompt, then writes the docid.

A causal LM has no encoder, so the query (``instruction ⊕ query``) is a prompt and the docid its
continuation: ``prompt ⊕ [start] ⊕ docid``. The decoders' "encoder states" are then the
prompt's token ids and mask (:func:`encode_prompts`), and every model call is one forward pass
over prompt and docid prefix (:func:`continuation_logits`). Position ids follow the attention
mask, so a prompt's padding, left or right, changes nothing: training (right-padded batches)
and decoding see the same positions. Beam search runs the prompt once and then one token per
step from the model's key/value cache (:func:`cached_step`); re-ranking and training score
whole sequences in one pass.
"""
from __future__ import annotations

import torch


def is_decoder_only(model) -> bool:
    """Whether ``model`` (a HF model or one wrapped by Accelerate) is a causal LM without an encoder."""
    config = getattr(model, "config", None) or getattr(getattr(model, "module", None), "config", None)
    return config is not None and not getattr(config, "is_encoder_decoder", False)


def encode_prompts(tokenizer, texts: list[str], max_length: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompt token ids ``(n, len)`` and attention mask (right-padded), on ``device``."""
    enc = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    return enc["input_ids"].to(device), enc["attention_mask"].to(device)


def continuation_logits(model, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, continuation: torch.Tensor,
                        last_only: bool = False) -> torch.Tensor:
    """Logits ``(n, t, vocab)`` at each position of ``continuation`` ``(n, t)`` after its prompt (the
    next token of each prefix); ``last_only``: only the last position's ``(n, vocab)``."""
    continuation = continuation.to(prompt_ids.device)
    ids = torch.cat([prompt_ids, continuation], dim=1)
    mask, positions = _mask_and_positions(prompt_mask, continuation)
    logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False).logits
    return logits[:, -1] if last_only else logits[:, prompt_ids.shape[1]:]


def cached_step(model, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, prefixes: torch.Tensor, cache,
                cache_arg: str = "past_key_values"):
    """One decoding step of ``prompt ⊕ prefixes`` ``(n, t)`` reusing ``cache`` (the model's output).

    Without a cache the prompt and the prefixes are run whole; with one, only the last prefix
    token, its position counted from the real (unpadded) tokens before it, as in
    :func:`continuation_logits`, so the logits are the same as recomputing everything.
    """
    prefixes = prefixes.to(prompt_ids.device)
    mask, positions = _mask_and_positions(prompt_mask, prefixes)
    if cache is None:
        ids = torch.cat([prompt_ids, prefixes], dim=1)
    else:
        ids, positions = prefixes[:, -1:], positions[:, -1:]
    return model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **{cache_arg: cache})


def _mask_and_positions(prompt_mask: torch.Tensor, continuation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The attention mask of ``prompt ⊕ continuation`` and position ids that count only real
    tokens, so a prompt's padding does not shift the continuation's positions."""
    mask = torch.cat([prompt_mask, torch.ones_like(continuation, dtype=prompt_mask.dtype)], dim=1)
    return mask, (mask.long().cumsum(-1) - 1).clamp(min=0)
