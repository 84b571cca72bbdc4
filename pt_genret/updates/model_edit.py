"""The flow shared by the model-editing update methods (DOME, MEMIT, ROME).

1. Choose the decoder layers to edit (:meth:`EditUpdate.choose_layers`).
2. Old knowledge: ``E[k kᵀ]`` of the old documents' keys at those layers, read from the
   index's ``edit/key_covariance.safetensors`` or computed on a seeded sample of old
   pseudo-queries (and then saved with the new generation).
3. Edit vectors ``δ`` per new document and docid position, at the top edited layer.
4. The weight change (:meth:`EditUpdate.apply`); the new keys join the stored second moment,
   so the next update also preserves this one's documents.

The edit state in ``edit/`` (second moments, chosen layers, the patching report) is kept
from generation to generation; a fine-tuning update drops it (the weights it describes
changed), and the next edit recomputes it.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Sequence

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from pt_genret.options import option
from pt_genret.updates.base import UpdateContext, UpdateMethod, edit_dir
from pt_genret.updates.editing import (FFNSite, TeacherForced, accuracy, ffn_sites, frozen, key_second_moment,
                                       optimise_deltas, run, spread_edits)

COVARIANCE_FILE = "key_covariance.safetensors"
STATE_FILE = "state.json"


@dataclass(kw_only=True, eq=False, repr=False)
class EditUpdate(UpdateMethod):
    """Base of the closed-form editing methods; subclasses choose layers, labels and the spread.

    Args:
        steps, lr, weight_decay: optimisation of the edit vectors δ (Adam).
        lambda_start, lambda_end: hard-label weight λ of the target ``(1-λ)·p_orig + λ·onehot``,
            annealed linearly over the first ``anneal`` fraction of the steps, then held
            (1, 1: hard labels only).
        stop_prob: once λ is held, stop optimising a batch's edit vectors when every docid
            token has at least this probability (``None``: always run ``steps``).
        docid_softmax: optimise the edit vectors with a softmax over the tokens that occur in
            docids (the ones constrained decoding can write) and the ``softmax_top_k`` most
            likely tokens at each position, instead of the whole vocabulary; much faster when
            the edit is at the top decoder layer (see
            :func:`~pt_genret.updates.editing.optimise_deltas`).
        preservation: weight of the old keys: ``C0 = preservation · n0 · E[k kᵀ]``, with ``n0``
            the number of old keys (old pseudo-queries × docid length).
        cov_queries: old pseudo-queries sampled to estimate ``E[k kᵀ]`` (when not stored yet).
        batch_rows: new pseudo-queries per forward pass (edit vectors are optimised for the
            documents of one such batch at a time).
        max_source_length: query truncation, as in training.
        check_rows: old pseudo-queries whose teacher-forced hit rate is reported before and
            after the edit, and about as many new rows after it (0: no check).
        sources: the new documents' rows the edit is fitted on: ``"all"``, their pseudo-queries and
            their indexing example (the document's own text, as fine-tuning sees it), or
            ``"queries"``, the pseudo-queries only (as in the DOME paper). The old keys preserved
            are of the same kinds: with ``"all"`` the old documents' saved texts join their
            pseudo-queries in the covariance sample.
    """

    keeps_edit_state = True
    #: how the update is shared among the edited layers: ``"even"`` (MEMIT) or ``"inverse_distance"`` (DOME)
    spread: ClassVar[str] = "even"

    steps: int = option(40, positive=True)
    lr: float = option(0.1, positive=True)
    weight_decay: float = option(1e-3)
    lambda_start: float = option(1.0, interval="[0, 1]")
    lambda_end: float = option(1.0, interval="[0, 1]")
    anneal: float = option(0.5, interval="(0, 1]")
    stop_prob: float | None = option(None, interval="(0, 1)")
    docid_softmax: bool = option(True)
    softmax_top_k: int = option(32)
    preservation: float = option(0.3)
    cov_queries: int = option(2000, positive=True)
    batch_rows: int = option(256, positive=True)
    max_source_length: int = option(64, positive=True)
    check_rows: int = option(128)
    sources: str = option("all", choices=("queries", "all"))
    _state: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _moments: dict[int, torch.Tensor] = field(default_factory=dict, init=False, repr=False)

    # to specialise ------------------------------------------------------------------------
    def choose_layers(self, ctx: UpdateContext, sites: list[FFNSite], probe: Callable[[int], TeacherForced],
                      state: dict) -> tuple[list[int], dict]:
        """The layers to edit (ascending) and facts to record; ``state`` is the stored edit state,
        ``probe(n)`` encodes ``n`` old pseudo-queries (for layer patching)."""
        raise NotImplementedError

    def layer_weights(self, layers: list[int], target: int) -> list[float]:
        """Share of the update each layer takes (bottom to top): equal, or ``1/dist(j, target)``."""
        if self.spread == "inverse_distance":
            return [1.0 / (abs(target - j) + 1) for j in layers]
        return [1.0] * len(layers)

    def apply(self, ctx: UpdateContext, sites: list[FFNSite], rows: TeacherForced, row_doc: np.ndarray,
              layers: list[int], targets: list[torch.Tensor], moments: dict[int, tuple[torch.Tensor, float]]
              ) -> dict[int, tuple[torch.Tensor, int]]:
        """Change the weights so ``layers[-1]`` outputs ``targets``; returns per layer the new
        keys' ``K1 K1ᵀ`` and their number (they join the stored second moment)."""
        return spread_edits(ctx.backbone, rows, sites, layers, layers[-1], targets, moments,
                            self.layer_weights(layers, layers[-1]), verbose=self.verbose)

    # the flow -------------------------------------------------------------------------------
    def update(self, ctx: UpdateContext) -> dict[str, Any]:
        backbone = ctx.backbone
        sites = ffn_sites(backbone.model)
        if ctx.old_queries.empty:
            raise ValueError(f"model editing preserves the old documents' keys, read from their pseudo-queries, "
                             f"but {ctx.path!r} has none saved (built without a query generator)")
        clock = _Clock()
        state, stored = _load_state(ctx.path)
        texts = self.sources == "all"  # preserve the kinds of rows the edit is fitted on
        old = _OldRows(backbone, ctx.old_examples(limit=self.cov_queries, seed=self.seed, texts=texts),
                       self.max_source_length)
        layers, details = self.choose_layers(ctx, sites, old.head, state)
        clock.lap("choose_layers")
        old_docnos = [*ctx.old_queries["docno"], *(ctx.old_texts["docno"] if texts else [])]
        n0 = float(sum(len(ctx.old_tokens[d]) for d in old_docnos))
        missing = [j for j in layers if j not in stored]
        if missing:
            stored.update({j: m for j, (m, _) in key_second_moment(backbone, old.head(), sites, missing).items()})
        # preservation weights the old keys' count; the d_ff × d_ff moments stay float32 on the CPU until
        # the algebra's device takes them (one conversion there, no float64 copies here)
        moments = {j: (stored[j], self.preservation * n0) for j in layers}
        clock.lap("covariance")

        doc_of = {tuple(t): i for i, t in enumerate(ctx.new_tokens.values())}
        chosen = ctx.new_query_examples() if self.sources == "queries" else list(ctx.new_examples)
        examples = sorted(chosen, key=lambda e: doc_of[tuple(e.target)])  # stable: by document
        row_doc = np.array([doc_of[tuple(e.target)] for e in examples])
        rows = TeacherForced(backbone, [e.source for e in examples], [e.target for e in examples],
                             self.max_source_length, chunk_size=self.batch_rows, groups=row_doc)
        vocab = None
        if self.docid_softmax:
            vocab = sorted({t for tokens in (*ctx.old_tokens.values(), *ctx.new_tokens.values()) for t in tokens})
        check = old.head(self.check_rows) if self.check_rows else None
        old_before = _hit_rate(backbone, check, sites)
        clock.lap("encode_new")
        targets, delta_info = optimise_deltas(backbone, rows, row_doc, sites, layers[-1], self.steps,
                                              self.lr, self.lambda_start, self.lambda_end, self.anneal,
                                              self.weight_decay, self.stop_prob, vocab, self.softmax_top_k,
                                              self.seed, self.verbose)
        clock.lap("edit_vectors")
        new_keys = self.apply(ctx, sites, rows, row_doc, layers, targets, moments)
        clock.lap("weight_update")

        # the new documents' keys become old knowledge for the next update
        for j, (kk, n1) in new_keys.items():
            stored[j] = ((n0 * stored[j].to(kk.device, torch.float64) + kk) / (n0 + n1)).float().cpu()
        clock.lap("key_moments")
        self._moments = stored
        self._state = dict(state, **{k: v for k, v in details.items() if k in ("critical_layers", "patching")})
        if missing:
            self._state["keys_sampled"] = old.encoded
        new_check = rows.head(self.check_rows) if self.check_rows else None  # a diagnostic: a sample will do
        hit_rates = {"old_before": old_before, "old_after": _hit_rate(backbone, check, sites),
                     "new_after": _hit_rate(backbone, new_check, sites)}
        clock.lap("check")
        return dict(details, edited_layers=layers, edited_weights=[sites[j].weight_name for j in layers],
                    new_rows=len(rows), old_rows_encoded=old.encoded, old_keys=int(n0),
                    old_texts=len(ctx.old_texts) if texts else 0,
                    teacher_forced_hit_rate=hit_rates, stage_seconds=clock.laps, **delta_info)

    def save_state(self, folder: str) -> None:
        if not self._moments:
            return
        out = edit_dir(folder)
        os.makedirs(out, exist_ok=True)
        save_file({f"layer{j}.second_moment": m.float().contiguous() for j, m in sorted(self._moments.items())},
                  os.path.join(out, COVARIANCE_FILE), metadata={"what": "mean k k^T of FFN output-projection inputs "
                                                                "at docid positions, per decoder layer"})
        with open(os.path.join(out, STATE_FILE), "w") as f:
            json.dump(self._state, f, indent=1)


class _OldRows:
    """A seeded sample of old pseudo-query examples, encoded only as far as a caller needs
    (none at all when the layers and key covariance are stored and no check is asked for)."""

    def __init__(self, backbone, sample: list, max_source_length: int) -> None:
        self.backbone, self.sample, self.max_source_length = backbone, sample, max_source_length
        self.rows: TeacherForced | None = None

    @property
    def encoded(self) -> int:
        return 0 if self.rows is None else len(self.rows)

    def head(self, n: int | None = None) -> TeacherForced:
        """At least the first ``n`` examples of the sample (all when ``None``; whole chunks), encoded;
        a larger ``n`` later encodes only the examples not encoded yet."""
        n = len(self.sample) if n is None else min(n, len(self.sample))
        if n <= 0:
            raise ValueError(f"cannot encode {n} old pseudo-queries: ask for at least one")
        have = self.encoded
        if have < n:
            more = self.sample[have:n]
            extra = TeacherForced(self.backbone, [e.source for e in more], [e.target for e in more],
                                  self.max_source_length)
            if self.rows is None:
                self.rows = extra
            else:
                self.rows.chunks.extend(extra.chunks)
                self.rows.targets.extend(extra.targets)
        return self.rows.head(n)


class _Clock:
    """Seconds spent in each named stage."""

    def __init__(self) -> None:
        self.last, self.laps = time.perf_counter(), {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.last, 3)
        self.last = now


def _load_state(path: str) -> tuple[dict, dict[int, torch.Tensor]]:
    """The stored edit state of an index: (state.json, per-layer second moments)."""
    folder = edit_dir(path)
    state, moments = {}, {}
    file = os.path.join(folder, STATE_FILE)
    try:
        if os.path.exists(file):
            with open(file) as f:
                state = json.load(f)
            if not isinstance(state, dict):
                raise ValueError(f"a JSON object was expected, got {type(state).__name__}")
        file = os.path.join(folder, COVARIANCE_FILE)
        if os.path.exists(file):
            for name, tensor in load_file(file).items():
                moments[int(name.split(".")[0][len("layer"):])] = tensor
    except Exception as e:  # damaged JSON or safetensors, whatever the library raised
        raise ValueError(f"corrupt model-editing state {file!r}: {str(e).splitlines()[0] if str(e) else type(e).__name__}; "
                         "rebuild the index, or update with method 'finetune' (which does not read it)")
    return state, moments


@torch.no_grad()
def _hit_rate(backbone, rows: TeacherForced | None, sites) -> float | None:
    """Teacher-forced docid hit rate (every token the argmax) of the rows."""
    if rows is None:
        return None
    hits = []
    with frozen(backbone.model):
        for c in rows.chunks:
            hits.append(accuracy(run(backbone, c, sites)[0], c.labels)[0].float().cpu())
    return round(torch.cat(hits).mean().item(), 4)


def default_num_critical(num_layers: int) -> int:
    """As many critical layers as the DOME paper's 5 of 24 decoder layers, and at least two (where
    the decoder has two), so the update is spread over layers as DOME intends: on a 2-layer
    decoder one critical layer wrote far fewer new docids (docs/benchmarks.md)."""
    return min(num_layers, max(2, math.ceil(num_layers * 5 / 24)))


def layer_list(layers: Sequence[int] | None, sites: list[FFNSite]) -> list[int]:
    """Validated ascending layer numbers (``None``: every decoder layer)."""
    if layers is None:
        return list(range(len(sites)))
    out = sorted({int(j) for j in layers})
    bad = [j for j in out if not 0 <= j < len(sites)]
    if bad or not out:
        raise ValueError(f"decoder layers {list(layers)} invalid: the decoder has layers 0..{len(sites) - 1}")
    return out
