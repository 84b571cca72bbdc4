"""The two model calls every decoder makes: encode queries once, then score next tokens.

Both go through the standard ``forward`` of any HF encoder-decoder (``encoder_outputs`` plus
``decoder_input_ids``), so no generation code is copied or pinned to a transformers version.
"""
from __future__ import annotations

import inspect
from contextlib import contextmanager
from typing import Iterator

import torch
from transformers.modeling_outputs import BaseModelOutput

from pt_genret import causal
from pt_genret.backbone import Backbone
from pt_genret.decoding.cache_rows import reorder_rows
from pt_genret.docid_head import compact_logits
from pt_genret.training import padded_labels, shift_right


@torch.inference_mode()
def encode(backbone: Backbone, texts: list[str], max_length: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Encoder states ``(n, len, h)`` and attention mask ``(n, len)`` of ``texts``."""
    if backbone.decoder_only:  # a causal LM's "encoder states" are its prompts (pt_genret.causal)
        return causal.encode_prompts(backbone.tokenizer, texts, max_length, backbone.device)
    enc = backbone.tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    enc = enc.to(backbone.device)
    hidden = backbone.model.get_encoder()(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
    return hidden.last_hidden_state, enc["attention_mask"]


@contextmanager
def last_position_logits(model) -> Iterator[None]:
    """Make the output projection see only the last position of each sequence.

    The vocabulary projection is most of a decoding step's cost (n × t × vocab × hidden);
    decoding needs one position of it. A forward pre-hook on the model's output embeddings
    slices its input, which works for any HF model that projects with ``get_output_embeddings``.
    """
    handle = model.get_output_embeddings().register_forward_pre_hook(lambda _, args: (args[0][:, -1:],))
    try:
        yield
    finally:
        handle.remove()


@torch.inference_mode()
def next_token_logits(backbone: Backbone, hidden: torch.Tensor, mask: torch.Tensor,
                      prefixes: torch.Tensor) -> torch.Tensor:
    """Logits ``(n, vocab)`` of the token after each decoder prefix ``(n, t)``."""
    if backbone.decoder_only:
        with last_position_logits(backbone.model):
            return causal.continuation_logits(backbone.model, hidden, mask, prefixes, last_only=True).float()
    with last_position_logits(backbone.model):
        out = backbone.model(encoder_outputs=BaseModelOutput(last_hidden_state=hidden), attention_mask=mask,
                             decoder_input_ids=prefixes, use_cache=False)
    return out.logits[:, -1, :].float()


def token_logprobs(model, head_model, labels: torch.Tensor, decoder_start: int, pad: int,
                   **inputs) -> torch.Tensor:
    """Teacher-forced log P of each label token ``(n, width)``, 0 at ignored positions; over the
    docid head's tokens where ``head_model`` has one. ``model`` is called (it may be a wrapped
    ``head_model``) with ``inputs`` (encoder outputs and mask)."""
    with compact_logits(head_model) as head:  # the docid head's columns only, where there is one
        if causal.is_decoder_only(head_model):  # inputs: the prompts' input_ids and attention_mask
            logits = causal.continuation_logits(model, inputs["input_ids"], inputs["attention_mask"],
                                                shift_right(labels, decoder_start, pad)).float()
        else:
            logits = model(**inputs, decoder_input_ids=shift_right(labels, decoder_start, pad),
                           use_cache=False).logits.float()
    columns = labels if head is None else head.columns(labels)
    picked = logits.gather(-1, columns.clamp(min=0).unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    return picked * (labels != -100)


def teacher_forced_logprobs(backbone: Backbone, hidden: torch.Tensor, mask: torch.Tensor,
                            targets: list[list[int]]) -> torch.Tensor:
    """Teacher-forced log-likelihood of each whole target sequence (one per encoder row).

    Differentiable: learning to rank trains through it; decoders use :func:`sequence_logprobs`.
    """
    labels = padded_labels(targets).to(hidden.device)
    inputs = ({"input_ids": hidden} if backbone.decoder_only
              else {"encoder_outputs": BaseModelOutput(last_hidden_state=hidden)})
    return token_logprobs(backbone.model, backbone.model, labels, backbone.decoder_start_token_id,
                          backbone.pad_token_id, attention_mask=mask, **inputs).sum(-1)


@torch.inference_mode()
def sequence_logprobs(backbone: Backbone, hidden: torch.Tensor, mask: torch.Tensor,
                      targets: list[list[int]]) -> torch.Tensor:
    """:func:`teacher_forced_logprobs` without gradients, for scoring candidates."""
    return teacher_forced_logprobs(backbone, hidden, mask, targets)


class IncrementalDecoder:
    """Next-token logits one token at a time, reusing the model's key/value cache.

    Without a cache every step recomputes the decoder over the whole prefix (and the
    cross-attention projections of every beam's copy of the query), quadratic in the docid
    length. HF encoder-decoders return a cache object with ``reorder_cache``, which follows
    beams as they are re-selected. A model that returns none falls back to recomputing. A
    decoder-only backbone passes its prompts' ids and mask as ``hidden`` and ``mask``: its first
    step runs prompt ⊕ start token, later steps one token each (:func:`pt_genret.causal.cached_step`).

    With ``group > 1`` the rows are queries × ``group`` beams, consecutive, and ``hidden`` and
    ``mask`` hold one row per *query*. The first step (every beam of a query writes the same
    token) then runs once per query and is copied to its beams, so the cross-attention keys
    and values (or a causal LM's prompt) are computed once per query, not once per beam;
    afterwards a reorder moves only the self-attention cache, because rows stay within their
    query and the cross-attention cache is the same for every beam of a query.
    """

    def __init__(self, backbone: Backbone, hidden: torch.Tensor, mask: torch.Tensor, use_cache: bool = True,
                 group: int = 1) -> None:
        self.backbone, self.group = backbone, max(int(group), 1)
        self.query_hidden, self.query_mask = hidden, mask
        self.hidden, self.mask = (hidden, mask) if self.group == 1 else (None, None)
        params = inspect.signature(backbone.model.forward).parameters
        self.cache_arg = "cache" if "cache" in params else "past_key_values"  # renamed in transformers 5
        self.cache = None
        self.incremental = use_cache  # a causal LM caches its prompt ⊕ prefix (causal.cached_step)
        self.per_query = False  # the cache holds one row per query, not yet copied to the beams
        self.prefixes: torch.Tensor | None = None

    def _rows(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder states and mask with one row per beam (copied from the queries' once)."""
        if self.hidden is None:
            self.hidden = self.query_hidden.repeat_interleave(self.group, 0)
            self.mask = self.query_mask.repeat_interleave(self.group, 0)
        return self.hidden, self.mask

    @torch.inference_mode()
    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append ``tokens`` (one per row) and return the logits ``(n, vocab)`` of the next token."""
        tokens = tokens.reshape(-1, 1).to(self.query_hidden.device)
        self.prefixes = tokens if self.prefixes is None else torch.cat([self.prefixes, tokens], dim=1)
        if self.per_query:  # stepped twice without a reorder: give every beam its own rows now
            self._expand()
        if not self.incremental:
            return next_token_logits(self.backbone, *self._rows(), self.prefixes)
        g = self.group
        once = self.cache is None and g > 1 and bool((tokens.view(-1, g) == tokens[::g]).all())
        hidden, mask = (self.query_hidden, self.query_mask) if once else self._rows()
        with last_position_logits(self.backbone.model):
            if self.backbone.decoder_only:  # hidden, mask: the prompts' ids and mask
                prefixes = self.prefixes[::g] if once else self.prefixes
                out = causal.cached_step(self.backbone.model, hidden, mask, prefixes, self.cache, self.cache_arg)
            else:
                out = self.backbone.model(encoder_outputs=BaseModelOutput(last_hidden_state=hidden),
                                          attention_mask=mask, decoder_input_ids=tokens[::g] if once else tokens,
                                          use_cache=True, **{self.cache_arg: self.cache})
        self.cache = _output_cache(out)
        if self.cache is None or not hasattr(self.cache, "reorder_cache"):
            self.incremental = False
            if self.prefixes.shape[1] > 1:
                return next_token_logits(self.backbone, *self._rows(), self.prefixes)
        logits = out.logits[:, -1, :].float()
        if once:
            self.per_query = self.incremental
            logits = logits.repeat_interleave(g, 0)
        return logits

    def _expand(self, rows: torch.Tensor | None = None) -> None:
        n = self.prefixes.shape[0]
        rows = torch.arange(n, device=self.prefixes.device) if rows is None else rows
        self.cache.reorder_cache(rows // self.group)  # self- and cross-attention (or a causal LM's), one row per beam
        self.per_query = False

    def reorder(self, rows: torch.Tensor) -> None:
        """Row ``i`` continues the sequence that was row ``rows[i]`` (rows stay within a query)."""
        rows = rows.to(self.query_hidden.device)
        self.prefixes = self.prefixes[rows]
        if not self.incremental:
            return
        if self.per_query:
            self._expand(rows)
        elif self.group > 1:
            if not bool((rows // self.group == torch.arange(len(rows), device=rows.device) // self.group).all()):
                raise ValueError("IncrementalDecoder.reorder: with group > 1 every row must stay within its query")
            # copies only the rows that move: of the self-attention cache (the cross-attention one is
            # the same for every beam of a query), or of a causal LM's whole cache
            reorder_rows(getattr(self.cache, "self_attention_cache", self.cache), rows)
        else:
            self.cache.reorder_cache(rows)


def _output_cache(out):
    """The key/value cache a model call returned: ``cache`` (transformers 5) or ``past_key_values``
    (earlier versions, and models that keep the old name); ``None`` when there is none."""
    for name in ("cache", "past_key_values"):
        cache = out.get(name) if isinstance(out, dict) else getattr(out, name, None)
        if cache is not None:  # an empty Cache is falsy: test identity, not truth
            return cache
    return None
