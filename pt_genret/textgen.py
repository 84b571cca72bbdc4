"""Prompted text generation with any HF model: seq2seq (T5, BART) or decoder-only (GPT-2, Llama).

ZeroGR's docid generator and instructed query generator are LMs that read a prompt and write
a short text. :class:`PromptedGenerator` loads either kind by name or local path (the config
says which: ``is_encoder_decoder``), never with remote code, weights from safetensors, and
returns only the generated continuation (a causal model's prompt is cut off).
"""
from __future__ import annotations

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer


def load_generation_model(name: str, device: str | None = None):
    """``(tokenizer, model, is_seq2seq)`` for a HF model name or local folder; a one-line error when
    it cannot be loaded."""
    try:
        config = AutoConfig.from_pretrained(name, trust_remote_code=False)
        seq2seq = bool(getattr(config, "is_encoder_decoder", False))
        tokenizer = AutoTokenizer.from_pretrained(name)
        auto = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
        model = auto.from_pretrained(name, trust_remote_code=False, use_safetensors=True)
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot load generation model {name!r}: not a local model folder with safetensors "
                         f"weights or a reachable HF model ({str(e).splitlines()[0]})") from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not seq2seq:
        tokenizer.padding_side = "left"  # continuations start right after every prompt
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return tokenizer, model.to(device).eval(), seq2seq


class PromptedGenerator:
    """Writes continuations of prompts with a HF seq2seq or causal LM.

    Args:
        model: a HF model name or local path.
        max_input_length: prompt tokens kept (the prompt's start; documents are cut).
        max_new_tokens: tokens written per continuation.
        batch_size: prompts per ``generate`` call.
        device: where the model runs (default: a GPU when present).
    """

    def __init__(self, model: str, max_input_length: int = 256, max_new_tokens: int = 32, batch_size: int = 8,
                 device: str | None = None) -> None:
        self.name = model
        self.tokenizer, self.model, self.seq2seq = load_generation_model(model, device)
        self.max_input_length, self.max_new_tokens, self.batch_size = max_input_length, max_new_tokens, batch_size

    @torch.inference_mode()
    def generate(self, prompts: list[str], num: int = 1, sample: bool = False, seed: int = 42,
                 top_k: int = 10) -> list[list[str]]:
        """``num`` continuations per prompt: greedy (``sample=False``, deterministic, ``num`` 1) or
        seeded top-``top_k`` sampling."""
        out: list[list[str]] = []
        device = self.model.device
        for start in range(0, len(prompts), self.batch_size):
            torch.manual_seed(seed + start)  # a batch's draws do not depend on earlier batches
            enc = self.tokenizer(prompts[start:start + self.batch_size], padding=True, truncation=True,
                                 max_length=self.max_input_length, return_tensors="pt").to(device)
            options = dict(do_sample=True, top_k=top_k, num_return_sequences=num) if sample else dict(do_sample=False)
            gen = self.model.generate(**enc, max_new_tokens=self.max_new_tokens, pad_token_id=self.tokenizer.pad_token_id,
                                      **options)
            if not self.seq2seq:
                gen = gen[:, enc["input_ids"].shape[1]:]
            texts = [" ".join(t.split()) for t in self.tokenizer.batch_decode(gen, skip_special_tokens=True)]
            per = num if sample else 1
            out.extend(texts[i:i + per] for i in range(0, len(texts), per))
        return out
