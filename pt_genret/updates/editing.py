"""Model-editing machinery shared by DOME, MEMIT and ROME.

The decoder's feed-forward blocks are read as key→value memories: the input of a block's
output projection ``W`` (the *key* ``k``, after the activation) is mapped to its output
``v = W k (+ b)``. An edit changes ``W`` so that keys seen while the model writes a new
document's docid map to values that make it write that docid, while keys of the old
documents keep their values. Everything is measured *teacher-forced* at the docid-token
positions: decoder input ``[start, y1 .. y(T-1)]`` for docid tokens ``y1 .. yT``.

Pieces:

* :func:`ffn_sites`: where the decoder layers, their FFN output projections and (post-LN
  models) their output LayerNorms are, for T5 and BERT (``minilm``) decoders.
* :class:`TeacherForced`: (source, docid) rows with cached encoder states.
* :func:`run`: one teacher-forced decoder pass with hooks that read keys and layer outputs,
  add edit vectors to a layer's output, or replace it by a mean representation.
* :func:`key_second_moment`: ``E[k kᵀ]`` over old keys (the covariance MEMIT calls ``C0``).
* :func:`layer_patching`: the drop in accuracy when a layer's output is replaced by its mean.
* :func:`optimise_deltas`: edit vectors ``δ`` per new document and docid position, and the
  target outputs ``z = h + δ`` they give.
* :func:`spread_edits`: the closed-form least-squares update, spread over layers.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import pyterrier as pt
import torch
from torch import nn
from transformers.modeling_outputs import BaseModelOutput

from pt_genret.docid_head import OUTSIDE, installed
from pt_genret.backbone import Backbone


# ------------------------------------------------------------------------------------- sites
@dataclass
class FFNSite:
    """One decoder layer: its block, FFN output projection and post-residual LayerNorm (if any)."""

    layer: int
    block: nn.Module
    proj: nn.Linear
    norm: nn.LayerNorm | None  # post-LN (BERT): block output = norm(proj(k) + attention output)
    weight_name: str = ""      # the projection weight's name in the model's state dict


def ffn_sites(model: nn.Module) -> list[FFNSite]:
    """The decoder layers of a T5 or BERT-decoder (``minilm``) model, bottom to top."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    sites: list[FFNSite] = []
    if decoder is not None and hasattr(decoder, "block"):  # T5: pre-LN, FFN output added to the residual
        for i, block in enumerate(decoder.block):
            ff = block.layer[-1]
            proj = ff.DenseReluDense.wo
            sites.append(FFNSite(i, block, proj, None))
    elif decoder is not None and hasattr(decoder, "bert"):  # BertLMHeadModel decoder: post-LN
        for i, layer in enumerate(decoder.bert.encoder.layer):
            sites.append(FFNSite(i, layer, layer.output.dense, layer.output.LayerNorm))
    else:
        raise ValueError(f"model editing supports T5 and BERT (minilm) decoders, not {type(model).__name__}; "
                         "use the finetune or incremental update methods")
    names = {id(p): n for n, p in model.named_parameters()}
    for s in sites:
        s.weight_name = names.get(id(s.proj.weight), f"decoder layer {s.layer} FFN output")
    return sites


# ------------------------------------------------------------------------- teacher forcing
@dataclass
class Chunk:
    hidden: torch.Tensor   # (n, S, h) encoder states, float16 on the CPU
    mask: torch.Tensor     # (n, S) encoder attention mask
    dec_in: torch.Tensor   # (n, T) decoder input: start token, then the docid shifted right
    labels: torch.Tensor   # (n, T) docid tokens, -100 beyond each docid's length

    @property
    def valid(self) -> torch.Tensor:
        return self.labels != -100


class TeacherForced:
    """(source text, docid tokens) rows, encoded once and kept in chunks of ``chunk_size`` rows."""

    def __init__(self, backbone: Backbone, sources: Sequence[str], targets: Sequence[Sequence[int]],
                 max_source_length: int = 64, chunk_size: int = 128, groups: Sequence[int] | None = None) -> None:
        """``groups``: a group number per row (rows of a group adjacent); no chunk splits a group."""
        if len(sources) != len(targets) or not len(sources):
            raise ValueError("teacher forcing needs as many (non-zero) sources as targets")
        self.targets = [list(t) for t in targets]
        self.chunks: list[Chunk] = []
        encoder = backbone.model.get_encoder()
        with torch.no_grad():
            for start, end in _chunk_bounds(len(sources), chunk_size, groups):
                src = list(sources[start:end])
                tgt = self.targets[start:end]
                enc = backbone.tokenizer(src, padding=True, truncation=True, max_length=max_source_length,
                                         return_tensors="pt").to(backbone.device)
                hidden = encoder(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
                width = max(len(t) for t in tgt)
                labels = torch.full((len(tgt), width), -100, dtype=torch.long)
                for i, t in enumerate(tgt):
                    labels[i, :len(t)] = torch.tensor(t)
                shifted = torch.where(labels[:, :-1] < 0, backbone.pad_token_id, labels[:, :-1])
                start_tok = torch.full((len(tgt), 1), backbone.decoder_start_token_id, dtype=torch.long)
                self.chunks.append(Chunk(hidden.to(torch.float16).cpu(), enc["attention_mask"].cpu(),
                                         torch.cat([start_tok, shifted], 1), labels))

    def __len__(self) -> int:
        return len(self.targets)

    def head(self, n: int) -> "TeacherForced":
        """The first whole chunks holding at least ``n`` rows (shares their tensors)."""
        view = object.__new__(TeacherForced)
        view.chunks, rows = [], 0
        for c in self.chunks:
            if rows >= n:
                break
            view.chunks.append(c)
            rows += len(c.labels)
        view.targets = self.targets[:rows]
        return view

    @property
    def width(self) -> int:
        return max(len(t) for t in self.targets)


def _chunk_bounds(n: int, size: int, groups: Sequence[int] | None) -> list[tuple[int, int]]:
    """``(start, end)`` of chunks of at most ``size`` rows that end at group boundaries (a
    group longer than ``size`` is one chunk)."""
    if groups is None:
        return [(s, min(n, s + size)) for s in range(0, n, size)]
    cuts = [0] + [i for i in range(1, n) if groups[i] != groups[i - 1]] + [n]
    bounds, start = [], 0
    for a, b in zip(cuts, cuts[1:]):
        if b - start > size and a > start:
            bounds.append((start, a))
            start = a
    bounds.append((start, n))
    return bounds


@contextmanager
def _hooks(handles: list) -> Iterator[None]:
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _out(output):
    return output[0] if isinstance(output, tuple) else output


def _with(output, value):
    return (value,) + tuple(output[1:]) if isinstance(output, tuple) else value


def run(backbone: Backbone, chunk: Chunk, sites: list[FFNSite], keys: Sequence[int] = (),
        outputs: Sequence[int] = (), norms: Sequence[int] = (), add: tuple[int, torch.Tensor] | None = None,
        replace: tuple[int, torch.Tensor] | None = None) -> tuple[torch.Tensor, dict[str, dict[int, torch.Tensor]]]:
    """One teacher-forced decoder pass over ``chunk``: logits ``(n, T, vocab)`` and what was read.

    ``keys``/``outputs``/``norms``: layers whose FFN keys, block outputs, and post-LN input
    standard deviations are returned. ``add=(layer, δ)`` adds ``δ (n, T, h)`` to that layer's
    output; ``replace=(layer, mean)`` replaces its output by ``mean (T', h)`` at every position.
    """
    dev = backbone.device
    seen: dict[str, dict[int, torch.Tensor]] = {"keys": {}, "outputs": {}, "norms": {}}
    handles = []
    for j in keys:
        handles.append(sites[j].proj.register_forward_pre_hook(
            lambda m, args, j=j: seen["keys"].__setitem__(j, args[0])))
    for j in norms:
        norm = sites[j].norm
        handles.append(norm.register_forward_pre_hook(
            lambda m, args, j=j: seen["norms"].__setitem__(
                j, torch.sqrt(args[0].float().var(-1, unbiased=False, keepdim=True) + m.eps))))

    def on_output(module, args, output, j):
        value = _out(output)
        if replace is not None and replace[0] == j:
            mean = replace[1].to(value.dtype)
            value = mean[:value.shape[1]].unsqueeze(0).expand_as(value).contiguous()
        if add is not None and add[0] == j:
            value = value + add[1].to(value.dtype)
        if j in outputs:
            seen["outputs"][j] = value
        return _with(output, value)

    for j in sorted({*outputs, *([add[0]] if add else []), *([replace[0]] if replace else [])}):
        handles.append(sites[j].block.register_forward_hook(lambda m, a, o, j=j: on_output(m, a, o, j)))
    with _hooks(handles):
        logits = backbone.model(encoder_outputs=BaseModelOutput(last_hidden_state=chunk.hidden.to(dev).float()),
                                attention_mask=chunk.mask.to(dev), decoder_input_ids=chunk.dec_in.to(dev),
                                use_cache=False).logits
    return logits.float(), seen


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row: whether every docid token is the argmax (teacher-forced hit), and its log-likelihood."""
    labels = labels.to(logits.device)
    valid = labels != -100
    logp = torch.log_softmax(logits, -1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    hit = ((logits.argmax(-1) == labels) | ~valid).all(-1)
    return hit, (logp * valid).sum(-1)


@contextmanager
def frozen(model: nn.Module) -> Iterator[None]:
    """No parameter gradients (edit vectors are the only trainable tensors); eval mode."""
    flags = [p.requires_grad for p in model.parameters()]
    training = model.training
    model.eval().requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(model.parameters(), flags):
            p.requires_grad_(f)
        model.train(training)


# ---------------------------------------------------------------------------- old knowledge
@torch.no_grad()
def key_second_moment(backbone: Backbone, rows: TeacherForced, sites: list[FFNSite],
                      layers: Sequence[int]) -> dict[int, tuple[torch.Tensor, int]]:
    """``E[k kᵀ]`` (float64, returned on the CPU) and the number of keys it averages, per layer.

    The sums stay where the algebra runs (:func:`linalg_device`: the GPU when there is one), so a
    d_ff × d_ff matrix crosses to the CPU once per layer rather than once per chunk."""
    where = linalg_device(backbone)
    sums: dict[int, torch.Tensor] = {}
    count = 0
    with frozen(backbone.model):
        for chunk in rows.chunks:
            _, seen = run(backbone, chunk, sites, keys=layers)
            valid = chunk.valid.to(backbone.device)
            for j in layers:
                k = seen["keys"][j][valid].to(where, torch.float64)
                sums[j] = sums.get(j, 0) + k.T @ k
            count += int(valid.sum())
    return {j: ((sums[j] / count).cpu(), count) for j in layers}


@torch.no_grad()
def layer_patching(backbone: Backbone, rows: TeacherForced, sites: list[FFNSite]) -> list[dict]:
    """For each decoder layer, the drop in teacher-forced hit rate and docid log-likelihood on
    ``rows`` when the layer's output is replaced by its mean over the rows (per position)."""
    with frozen(backbone.model):
        base_hit, base_ll, sums, counts = [], [], {}, torch.zeros(rows.width, 1)
        for chunk in rows.chunks:
            logits, seen = run(backbone, chunk, sites, outputs=range(len(sites)))
            hit, ll = accuracy(logits, chunk.labels)
            base_hit.append(hit.float().cpu()); base_ll.append(ll.cpu())
            valid = chunk.valid.unsqueeze(-1).float()
            width = chunk.labels.shape[1]
            counts[:width] += valid.sum(0)
            for j, out in seen["outputs"].items():
                s = (out.float().cpu() * valid).sum(0)
                sums.setdefault(j, torch.zeros(rows.width, s.shape[-1]))[:width] += s
        base_hit, base_ll = torch.cat(base_hit).mean().item(), torch.cat(base_ll).mean().item()
        report = []
        for j in range(len(sites)):
            mean = sums[j] / counts.clamp(min=1)
            hits, lls = [], []
            for chunk in rows.chunks:
                logits, _ = run(backbone, chunk, sites, replace=(j, mean.to(backbone.device)))
                hit, ll = accuracy(logits, chunk.labels)
                hits.append(hit.float().cpu()); lls.append(ll.cpu())
            report.append({"layer": j, "hit_rate": round(torch.cat(hits).mean().item(), 4),
                           "log_likelihood": round(torch.cat(lls).mean().item(), 4),
                           "hit_drop": round(base_hit - torch.cat(hits).mean().item(), 4),
                           "log_likelihood_drop": round(base_ll - torch.cat(lls).mean().item(), 4)})
    return report


def critical_window(report: list[dict], size: int) -> list[int]:
    """The ``size`` consecutive layers whose patching hurts most (hit-rate drop, then log-likelihood drop)."""
    size = max(1, min(size, len(report)))
    best = max(range(len(report) - size + 1),
               key=lambda s: (round(sum(r["hit_drop"] for r in report[s:s + size]), 6),
                              sum(r["log_likelihood_drop"] for r in report[s:s + size]), s))
    return list(range(best, best + size))


# ---------------------------------------------------------------------------- edit vectors
@dataclass
class OutputHead:
    """The model's output head split as ``logits = transform(h) @ weight.T + bias``, so logits
    can be computed for a subset of the vocabulary."""

    transform: Callable[[torch.Tensor], torch.Tensor]
    weight: torch.Tensor
    bias: torch.Tensor | None
    allowed: torch.Tensor | None = None  # a docid head's tokens (a vocabulary mask); None: every token

    def __call__(self, h: torch.Tensor, vocab: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of ``vocab`` (token ids; all when ``None``) for the top decoder layer's output ``h``."""
        x = self.transform(h)
        weight = self.weight if vocab is None else self.weight[vocab]
        out = x @ weight.T
        if self.bias is not None:
            out = out + (self.bias if vocab is None else self.bias[vocab])
        if self.allowed is not None:  # as the model's docid head does outside its tokens
            allowed = self.allowed if vocab is None else self.allowed[vocab.to(self.allowed.device)]
            out = out.masked_fill(~allowed.to(out.device), OUTSIDE)
        return out


def output_head(model: nn.Module, sites: list[FFNSite], layer: int) -> OutputHead | None:
    """The output head after decoder ``layer`` when it is the top one, else ``None``.

    Edit vectors added to the top layer change nothing but the head's input, so their
    optimisation can skip the decoder (:func:`optimise_deltas` checks the head against a full
    pass once and falls back to full passes if they disagree).
    """
    if layer != len(sites) - 1:
        return None
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    head = installed(model)
    allowed = None
    if head is not None:
        linear = model.get_output_embeddings()
        allowed = torch.zeros(linear.out_features, dtype=torch.bool, device=linear.weight.device)
        allowed[head.ids.to(linear.weight.device)] = True
    if decoder is not None and hasattr(decoder, "cls"):  # BertLMHeadModel decoder
        predictions = decoder.cls.predictions
        return OutputHead(predictions.transform, predictions.decoder.weight, predictions.decoder.bias, allowed)
    if decoder is not None and hasattr(decoder, "final_layer_norm") and hasattr(model, "lm_head"):  # T5
        scale = getattr(model.config, "scale_decoder_outputs", getattr(model.config, "tie_word_embeddings", True))
        factor = model.config.d_model ** -0.5 if scale else 1.0
        return OutputHead(lambda h: decoder.final_layer_norm(h) * factor, model.lm_head.weight, model.lm_head.bias,
                          allowed)
    return None


def optimise_deltas(backbone: Backbone, rows: TeacherForced, row_doc: np.ndarray,
                    sites: list[FFNSite], layer: int, steps: int = 40, lr: float = 0.1,
                    lambda_start: float = 0.3, lambda_end: float = 1.0, anneal: float = 0.5,
                    weight_decay: float = 1e-3, stop_prob: float | None = None,
                    vocab: Sequence[int] | None = None, top_k: int = 32, seed: int = 42,
                    verbose: bool = False) -> tuple[list[torch.Tensor], dict]:
    """Edit vectors ``δ``, one per document and docid position, added to ``layer``'s output, that
    make the model write each document's docid for each of its rows. Returns, per chunk of
    ``rows``, the target output ``z = h + δ`` of ``layer`` at each row and position (``h`` from
    the unedited model; on the CPU), and facts to record.

    Loss: cross-entropy between the edited prediction and the hybrid target
    ``(1-λ)·p_orig + λ·onehot(docid token)``, λ going linearly from ``lambda_start`` to
    ``lambda_end`` over the first ``anneal`` fraction of the steps, then held; plus
    ``weight_decay·|δ|²``. Once λ is held, a chunk stops early when every docid token of every
    row has probability at least ``stop_prob`` under the loss's softmax (``None``: always run
    ``steps``). Documents are
    optimised chunk by chunk (a chunk of ``rows`` never splits a document), so ``p_orig`` is
    held for one chunk at a time, and only at the docid positions. At the top decoder layer
    only the output head is re-run at each step (:func:`output_head`).

    ``vocab`` (token ids, with every docid token): the softmax of the loss runs over these
    tokens, the ones constrained decoding can write, plus the ``top_k`` tokens the unedited
    model finds most likely at each docid position of the chunk (so the tokens that hold
    probability mass are still pushed down), instead of the whole vocabulary; the output
    head, the largest cost by far, then shrinks to them. Only used at the top decoder layer;
    the reported ``hit_rate_with_deltas`` is always over the whole vocabulary.
    """
    if not 0 < anneal <= 1:
        raise ValueError(f"anneal must be in (0, 1], got {anneal}")
    top_k = min(top_k, backbone.vocab_size)
    torch.manual_seed(seed)
    dev = backbone.device
    h = sites[layer].proj.out_features
    head = output_head(backbone.model, sites, layer)
    sub = None
    if vocab is not None:
        labels_all = torch.as_tensor([t for row in rows.targets for t in row], dtype=torch.long)
        sub = torch.unique(torch.cat([torch.as_tensor(vocab, dtype=torch.long), labels_all])).to(dev)
    starts = np.cumsum([0] + [c.labels.shape[0] for c in rows.chunks])
    ramp = max(1, int(round(anneal * steps)) - 1)
    targets, losses, hits, used, vocab_sizes, fast_chunks = [], [], [], [], [], 0
    with frozen(backbone.model):
        for c, s in pt.tqdm(list(zip(rows.chunks, starts)), desc="edit vectors", unit="chunk", disable=not verbose):
            docs = np.unique(row_doc[s:s + len(c.labels)])
            local = torch.as_tensor(np.searchsorted(docs, row_doc[s:s + len(c.labels)]), device=dev)
            valid = c.valid.to(dev)
            labels = c.labels.to(dev)[valid]
            d = torch.zeros(len(docs), c.labels.shape[1], h, device=dev, requires_grad=True)
            optimiser = torch.optim.Adam([d], lr=lr)
            with torch.no_grad():
                logits, seen = run(backbone, c, sites, outputs=[layer])
                unedited = seen["outputs"][layer].float()
                hidden = unedited[valid]
                if head is not None and not torch.allclose(head(hidden).float(), logits[valid], atol=1e-3, rtol=1e-3):
                    head = None  # an unknown head: full passes from here on
                logits = logits[valid]
                chunk_sub = sub
                if head is not None and sub is not None:
                    if top_k:
                        chunk_sub = torch.unique(torch.cat([sub, logits.topk(top_k, -1).indices.flatten()]))
                    position = torch.full((backbone.vocab_size,), -1, dtype=torch.long, device=dev)
                    position[chunk_sub] = torch.arange(len(chunk_sub), device=dev)
                    logits, labels = logits[:, chunk_sub], position[labels]
                p_orig = torch.softmax(logits, -1)
            onehot = torch.zeros_like(p_orig).scatter_(-1, labels.unsqueeze(-1), 1.0)

            def edited(d: torch.Tensor) -> torch.Tensor:
                """Logits ``(positions, vocab)`` at the docid positions with the edit vectors added."""
                if head is not None:
                    return head(hidden + d[local][valid], chunk_sub).float()
                return run(backbone, c, sites, add=(layer, d[local] * valid.unsqueeze(-1)))[0][valid]

            held = 0 if lambda_start == lambda_end else ramp  # from this step on λ = lambda_end
            taken, loss = 0, torch.zeros(())
            for step in range(steps):
                lam = lambda_end if step >= ramp else lambda_start + (lambda_end - lambda_start) * step / ramp
                optimiser.zero_grad()
                logp = torch.log_softmax(edited(d), -1)
                if stop_prob is not None and step >= held and \
                        bool((logp.detach().gather(-1, labels.unsqueeze(-1)) >= np.log(stop_prob)).all()):
                    break
                target = (1 - lam) * p_orig + lam * onehot
                loss = -(target * logp).sum(-1).mean()
                (loss + weight_decay * d.pow(2).sum(-1).mean()).backward()
                optimiser.step()
                taken += 1
            used.append(taken)
            if head is not None:
                fast_chunks += 1
                if chunk_sub is not None:
                    vocab_sizes.append(int(len(chunk_sub)))
            with torch.no_grad():
                logits, _ = run(backbone, c, sites, add=(layer, d[local] * valid.unsqueeze(-1)))
                hits.append(accuracy(logits, c.labels)[0].float().cpu())
            losses.append(loss.item() * len(c.labels))
            targets.append((unedited + d.detach()[local]).cpu())
    return targets, {"delta_loss": round(sum(losses) / len(rows), 4),
                   "hit_rate_with_deltas": round(torch.cat(hits).mean().item(), 4),
                   "delta_steps": round(float(np.mean(used)), 1),
                   "delta_fast_head": fast_chunks == len(rows.chunks),  # every chunk went through the head alone
                   "delta_vocab": max(vocab_sizes) if vocab_sizes else None}  # largest softmax of a chunk


# -------------------------------------------------------------------------- closed-form edit
def to_value_space(site: FFNSite, change: torch.Tensor, sigma: torch.Tensor | None) -> torch.Tensor:
    """A wanted change of the layer output as a change of the FFN output projection's output.

    Pre-LN (T5): the FFN output is added to the residual stream, so the change is the same.
    Post-LN (BERT): the output is ``LN(v + a)``; to first order a change ``Δ`` of the output
    needs ``Δ·σ/γ`` before the LayerNorm (``σ`` its input's standard deviation, ``γ`` its scale).
    """
    if site.norm is None:
        return change
    gamma = site.norm.weight.detach().float().to(change.device)
    gamma = torch.where(gamma.abs() < 1e-3, torch.full_like(gamma, 1e-3).copysign(gamma), gamma)
    return change * sigma / gamma


def linalg_device(backbone: Backbone) -> torch.device:
    """Where the closed-form updates' float64 algebra runs: the model's GPU (a d_ff × d_ff solve
    per layer takes seconds on a CPU thread at d_ff = 6144), else the CPU (MPS has no float64)."""
    return backbone.device if backbone.device.type == "cuda" else torch.device("cpu")


def spd_solve(a: torch.Tensor, b: torch.Tensor, ridge: float = 0.0) -> torch.Tensor:
    """``(a + ridge·(tr a / n + 1e-8)·I)⁻¹ b`` for a symmetric positive definite ``a`` (a key
    covariance; the ridge is relative to its mean diagonal) by Cholesky, 1.3–1.5× faster than a
    general solve at d_ff = 6,144–12,288 on the 2-core CPU (``benchmarks/closed_form_solve.py``);
    a general solve if the factorisation fails (``a`` not numerically positive definite)."""
    if ridge:
        a = a + ridge * (torch.trace(a) / a.shape[0] + 1e-8) * torch.eye(a.shape[0], dtype=a.dtype, device=a.device)
    factor, info = torch.linalg.cholesky_ex(a)
    if int(info) != 0:
        return torch.linalg.solve(a, b)
    return torch.cholesky_solve(b, factor)


@torch.no_grad()
def spread_edits(backbone: Backbone, rows: TeacherForced, sites: list[FFNSite], layers: Sequence[int],
                 target_layer: int, targets: list[torch.Tensor], moments: dict[int, tuple[torch.Tensor, float]],
                 weights: Sequence[float], ridge: float = 1e-4, verbose: bool = False) -> dict[int, torch.Tensor]:
    """Write the target outputs into the FFN output weights of ``layers``, bottom layer first.

    Before editing layer ``j`` the remaining residual ``r = z − h`` at ``target_layer`` is
    measured on the partly edited model; layer ``j`` takes the share ``w_j / Σ w`` (over the
    layers not yet edited) of it. Its weight change solves, in closed form,
    ``min ‖Δ K0‖² + ‖(W+Δ) K1 − V1‖²``:  ``Δ = R K1ᵀ (C0 + K1 K1ᵀ)⁻¹`` with ``R = V1 − W K1``
    and ``C0 = n0·E[k kᵀ]`` from ``moments[j] = (E[k kᵀ], n0)`` (any float dtype and device; ``n0``
    may be weighted). Returns, per layer, the new keys' ``K1 K1ᵀ`` (float64, on the algebra's device)
    and their number.
    """
    new_keys: dict[int, tuple[torch.Tensor, int]] = {}
    order = sorted(layers)
    dev = linalg_device(backbone)
    for pos, j in enumerate(pt.tqdm(order, desc="editing layers", unit="layer", disable=not verbose)):
        share = weights[pos] / sum(weights[pos:])
        site = sites[j]
        kk, kr, n1 = 0, 0, 0
        with frozen(backbone.model):
            for c, z in zip(rows.chunks, targets):
                _, seen = run(backbone, c, sites, keys=[j], outputs=[target_layer],
                              norms=[j] if site.norm is not None else [])
                valid = c.valid.to(dev)
                change = share * (z.to(dev) - seen["outputs"][target_layer].float().to(dev))
                sigma = seen["norms"][j].float().to(dev) if site.norm is not None else None
                r = to_value_space(site, change, sigma)[valid].double()
                k = seen["keys"][j].to(dev)[valid].double()
                kk, kr, n1 = kk + k.T @ k, kr + k.T @ r, n1 + len(k)
        moment, n0 = moments[j]
        update = spd_solve(n0 * moment.to(dev, torch.float64) + kk, kr, ridge).T  # (out, in)
        site.proj.weight.add_(update.to(site.proj.weight.dtype).to(site.proj.weight.device))
        new_keys[j] = (kk, n1)
    return new_keys
