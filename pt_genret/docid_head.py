"""The docid-token output head: the model scores only the tokens that docids use.

A docid decoder never writes any other token (the trie forbids it), yet a full-vocabulary
output layer projects every step onto all ~30k words, and in training that projection and its
softmax are most of a step's work. With a docid head installed, the output layer computes the
logits of the docid tokens (and end of sequence) alone, from the same weights (rows of the tied
embedding matrix), so the softmax is over what can be written.

The head is the model's own output ``nn.Linear`` with its class changed to :class:`DocIdLinear`,
not a new module, so checkpoints, tied weights and ``save_pretrained`` are unchanged; the token
list is saved beside the weights (``docid_head.json``). Two output shapes:

* *compact* (inside :func:`compact_logits`): ``(..., H)`` logits, column ``j`` for token
  ``head.ids[j]``. Training and beam search use it; :meth:`DocIdHead.columns` maps token ids
  to columns.
* *full width* (everywhere else): ``(..., vocab)`` logits with :data:`OUTSIDE` at every token
  outside the head, so code written for the full vocabulary (model editing, sampling) computes
  the same distribution as the compact head, only more slowly.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from typing import Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

OUTSIDE = -1.0e4  # the logit of a token outside the head, in full-width mode (exp underflows to 0)
HEAD_FILE = "docid_head.json"
HEADS = ("docid", "full")  # the output heads an index can be built with


class DocIdHead:
    """The token ids the head scores, in column order, and their inverse map."""

    def __init__(self, ids: Iterable[int], vocab_size: int) -> None:
        ids = np.unique(np.asarray(list(ids), dtype=np.int64))
        if len(ids) == 0:
            raise ValueError("a docid head needs at least one token id")
        if ids[0] < 0 or ids[-1] >= vocab_size:
            bad = ids[0] if ids[0] < 0 else ids[-1]
            raise ValueError(f"docid head token id {bad} is outside the vocabulary [0, {vocab_size})")
        self.vocab_size = int(vocab_size)
        self.ids = torch.from_numpy(ids)
        self.position = np.full(self.vocab_size, -1, dtype=np.int64)
        self.position[ids] = np.arange(len(ids))
        self._position_t = torch.from_numpy(self.position)
        self.compact = False

    def __len__(self) -> int:
        return len(self.ids)

    def columns(self, tokens):
        """Logit columns of token ids (numpy or torch, any shape); ``-100`` (ignored labels) stays
        ``-100``. A token outside the head raises: the head was built without it."""
        if isinstance(tokens, torch.Tensor):
            pos = self._position_t.to(tokens.device)[tokens.clamp(min=0)]
            outside = (pos < 0) & (tokens >= 0)
            if bool(outside.any()):
                raise ValueError(f"token {int(tokens[outside][0])} is outside the model's docid head; "
                                 "grow the head with its tokens (Backbone.grow_head)")
            return torch.where(tokens < 0, tokens, pos)
        tokens = np.asarray(tokens)
        pos = self.position[np.clip(tokens, 0, None)]
        outside = (pos < 0) & (tokens >= 0)
        if outside.any():
            raise ValueError(f"token {int(tokens[outside][0])} is outside the model's docid head; "
                             "grow the head with its tokens (Backbone.grow_head)")
        return np.where(tokens < 0, tokens, pos)

    def grown(self, ids: Iterable[int], vocab_size: int | None = None) -> "DocIdHead":
        """A head over these tokens as well (updates that add documents with new tokens)."""
        return DocIdHead(np.concatenate([self.ids.numpy(), np.asarray(list(ids), dtype=np.int64)]),
                         vocab_size or self.vocab_size)

    def save(self, folder: str) -> None:
        with open(os.path.join(folder, HEAD_FILE), "w") as f:
            json.dump({"vocab_size": self.vocab_size, "ids": self.ids.tolist()}, f)

    @classmethod
    def load(cls, folder: str) -> "DocIdHead | None":
        path = os.path.join(folder, HEAD_FILE)
        if not os.path.exists(path):
            return None
        try:
            with open(path) as f:
                state = json.load(f)
            return cls(state["ids"], int(state["vocab_size"]))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise ValueError(f"corrupt {path!r}: {e}; rebuild the index") from None


class DocIdLinear(nn.Linear):
    """An ``nn.Linear`` output layer computing only its docid head's rows (see the module doc).

    :func:`install` turns the model's own output layer into one by changing its class, so its
    parameters, ties and state-dict names stay as they are, and it pickles and deep-copies."""

    _genret_head: DocIdHead

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        head = self._genret_head
        ids = head.ids.to(self.weight.device)
        out = F.linear(x, self.weight.index_select(0, ids),
                       None if self.bias is None else self.bias.index_select(0, ids))
        if head.compact:
            return out
        full = out.new_full(out.shape[:-1] + (self.out_features,), OUTSIDE)
        full[..., ids] = out
        return full


def install(model: nn.Module, head: DocIdHead | None) -> None:
    """Make ``model``'s output layer a docid head (``None`` restores the full vocabulary)."""
    linear = model.get_output_embeddings()
    if type(linear) not in (nn.Linear, DocIdLinear):
        raise ValueError(f"a docid head needs a plain nn.Linear output layer, the model has "
                         f"{type(linear).__name__}; build with output_head='full'")
    if head is None:
        linear.__class__ = nn.Linear
        linear.__dict__.pop("_genret_head", None)
        return
    if head.vocab_size != linear.out_features:
        head = DocIdHead(head.ids.numpy(), linear.out_features)
    linear._genret_head = head
    linear.__class__ = DocIdLinear


def installed(model: nn.Module) -> DocIdHead | None:
    """The docid head of ``model``'s output layer, if any."""
    return getattr(model.get_output_embeddings(), "_genret_head", None)


@contextmanager
def compact_logits(model: nn.Module) -> Iterator[DocIdHead | None]:
    """Inside, a docid head returns ``(..., H)`` logits; yields the head (``None``: no head, the
    logits are the full vocabulary's)."""
    head = installed(model)
    if head is None:
        yield None
        return
    previous, head.compact = head.compact, True
    try:
        yield head
    finally:
        head.compact = previous
