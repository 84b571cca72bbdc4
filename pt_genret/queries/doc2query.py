"""doc2query pseudo-queries from any HF seq2seq model (e.g. ``castorini/doc2query-t5-base-msmarco``).

The model writes queries for a document by top-k sampling, seeded. Needs a model by name (with
a hub) or a local folder; the offline default is :class:`ExtractiveQueryGenerator`.
"""
from __future__ import annotations

import pandas as pd
import pyterrier as pt
import pyterrier_alpha as pta
import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer


class Doc2QueryGenerator(pt.Transformer):
    """Adds a ``querygen`` column of ``num_queries`` sampled queries per document."""

    def __init__(self, model: str, num_queries: int = 5, batch_size: int = 8, max_input_length: int = 256,
                 max_query_length: int = 32, top_k: int = 10, seed: int = 42, device: str | None = None,
                 verbose: bool = False) -> None:
        self.model_name = model
        self.num_queries = num_queries
        self.batch_size = batch_size
        self.max_input_length = max_input_length
        self.max_query_length = max_query_length
        self.top_k = top_k
        self.seed = seed
        self.verbose = verbose
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.model = AutoModelForSeq2SeqLM.from_pretrained(model, trust_remote_code=False).to(self.device).eval()

    @torch.inference_mode()
    def generate(self, texts: list[str]) -> list[list[str]]:
        torch.manual_seed(self.seed)
        out: list[list[str]] = []
        for start in pt.tqdm(range(0, len(texts), self.batch_size), desc="doc2query", unit="batch",
                             disable=not self.verbose):
            enc = self.tokenizer(texts[start:start + self.batch_size], padding=True, truncation=True,
                                 max_length=self.max_input_length, return_tensors="pt").to(self.device)
            gen = self.model.generate(**enc, do_sample=True, top_k=self.top_k, max_length=self.max_query_length,
                                      num_return_sequences=self.num_queries)
            decoded = self.tokenizer.batch_decode(gen, skip_special_tokens=True)
            out.extend(decoded[i:i + self.num_queries] for i in range(0, len(decoded), self.num_queries))
        return out

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        pta.validate.document_frame(inp, ["docno", "text"])
        out = inp.copy()
        out["querygen"] = self.generate(inp["text"].fillna("").tolist()) if len(inp) else []
        return out
