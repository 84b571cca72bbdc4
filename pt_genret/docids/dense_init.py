"""Atomic docids whose output embeddings start as the documents' dense encodings.

With atomic docids a GR model is a dual encoder in disguise (Nguyen & Yates, *Generative
Retrieval as Dense Retrieval*, 2023): the docid's output embedding is the document vector and
the decoder's first hidden state is the query vector. RIPOR builds on the same view: its seq2seq
model is first trained as a dense encoder, and its docid tokens start as the quantiser's
centroids, so that decoding scores start where dense retrieval is. This scheme does that for
atomic docids on an encoder-decoder backbone with a BERT decoder (``minilm``):

* the decoder is set to compute the encoder's mean-pooled output at its first step (uniform
  cross-attention, identity value and output maps, a bias cancelling the start position's own
  input, every other sub-layer's output zero), so its first hidden state is the query's
  sentence encoding (:func:`pooling_decoder`);
* each docid's output row is the document's sentence encoding (title and text, by the same
  encoder), centred and scaled by ``scale`` (a softmax temperature);
* the second position's input is one fixed direction and end of sequence's output row points
  along it, so after any docid token the model is certain the docid has ended (else that
  step's log-probability, different for every document, would be added to its score);
* a document that carries an instruction (ZeroGR, :mod:`pt_genret.instructions`) has its row
  made orthogonal to the instruction's own encoding. The model reads ``instruction ⊕ query`` and
  the first step pools over both, so every query vector leans the same way; a row's component
  along that direction would be a bonus for the document whatever the query. On Cranfield,
  MiniLM's nDCG@10 falls from 0.382 to 0.336 when the instruction is prepended, and comes back to
  0.374 with the rows projected (``docs/zerogr.md``).

So before any training the model ranks as dense retrieval with the backbone's own encoder
(all-MiniLM-L6-v2 by default; LayerNorm centres the query vector, so the score is the cosine
of centred vectors), and training on pseudo-queries, real queries and a teacher's rankings
moves it from there. Everything after initialisation is the ordinary GR machinery: constrained
decoding of one code token per document, the docid head, updates and model editing. A
document added later gets its own encoding as its row (:meth:`DenseInitScheme.init_rows`)
instead of a random vector.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from pt_genret.docids.numeric import AtomicScheme
from pt_genret.documents import full_texts
from pt_genret.embeddings import mean_pooled
from pt_genret.instructions import COLUMN, row_instructions
from pt_genret.options import option

GELU_SHIFT = 30.0  # the prediction head's GELU is the identity (up to e-200) on inputs shifted this far
END_POSITION = 100.0  # the second position's embedding: far larger than any token's, so its input is fixed
END_WEIGHT = 2.0  # end of sequence's logit at the second step: about END_WEIGHT × 19


@dataclass(kw_only=True, eq=False)
class DenseInitScheme(AtomicScheme):
    """One code token per document, its output embedding initialised from the document's encoding."""

    name = "dense_init"
    learning_rate = 7e-5  # the model starts as a dense retriever: fine-tune it gently (docs/benchmarks.md)
    legacy_defaults = {"project_instruction": False}  # indexes built before it: their rows were not projected

    scale: float = option(20.0, positive=True)  # a docid's first logit: scale × the centred cosine
    max_length: int = option(256, positive=True)  # tokens of a document the encoder reads for its row
    batch_size: int = option(64, positive=True, record=False)  # documents per encoding batch
    project_instruction: bool = option(True)  # rows orthogonal to their instruction's encoding (see above)

    def prepare_model(self, backbone, table, docs: pd.DataFrame, fresh: bool, verbose: bool = False) -> None:
        """Set a fresh model's decoder to mean pooling, and every docid's row to its document's encoding."""
        if fresh:
            pooling_decoder(backbone.model, self.seed)
        self.init_rows(backbone, table, docs, verbose)

    def init_rows(self, backbone, table, docs: pd.DataFrame, verbose: bool = False) -> None:
        """Rows of ``docs``' docid tokens = their centred encodings, each without its instruction's
        direction (``project_instruction``), at unit length × ``scale``."""
        _check_backbone(backbone.model)
        texts = full_texts(docs)
        vectors = encode_mean_pooled(backbone, texts, self.max_length, self.batch_size, verbose)
        vectors = vectors - vectors.mean(dim=1, keepdim=True)
        if self.project_instruction:
            vectors = without_instruction_directions(backbone, vectors, docs, self.max_length)
        vectors = torch.nn.functional.normalize(vectors, dim=1)
        hidden = vectors.shape[1]
        rows = torch.tensor([table.tokens[table.index_of(d)][0] for d in docs["docno"].astype(str)])
        out = backbone.model.decoder.get_output_embeddings()
        with torch.no_grad():
            # logit = <LayerNorm(pooled query), row>; LayerNorm's output has norm sqrt(hidden)
            out.weight[rows.to(out.weight.device)] = (vectors * (self.scale / hidden ** 0.5)).to(out.weight)
            if out.bias is not None:
                out.bias[rows.to(out.bias.device)] = 0.0


def _check_backbone(model) -> None:
    from transformers import BertLMHeadModel, EncoderDecoderModel

    if not (isinstance(model, EncoderDecoderModel) and isinstance(model.decoder, BertLMHeadModel)):
        raise ValueError("the dense_init docid scheme needs an encoder-decoder backbone with a BERT decoder "
                         f"(backbone='minilm'), got {type(model).__name__}; use scheme='atomic' for other backbones")


@torch.inference_mode()
def encode_mean_pooled(backbone, texts: list[str], max_length: int, batch_size: int,
                       verbose: bool = False) -> torch.Tensor:
    """Mean-pooled outputs of the backbone's own encoder (what the pooling decoder computes)."""
    model = backbone.model
    was_training = model.training
    model.eval()
    try:
        return mean_pooled(model.encoder, backbone.tokenizer, texts, max_length, batch_size,
                           model.config.encoder.hidden_size, desc="encoding documents", verbose=verbose)
    finally:
        model.train(was_training)


def without_instruction_directions(backbone, vectors: torch.Tensor, docs: pd.DataFrame,
                                   max_length: int) -> torch.Tensor:
    """Centred document vectors minus their component along their own instruction's centred,
    unit-length encoding (documents without an instruction are left as they are)."""
    if COLUMN not in docs.columns:
        return vectors
    instructions = row_instructions(docs, None)
    vectors = vectors.clone()
    for text in sorted({i for i in instructions if i}):
        direction = encode_mean_pooled(backbone, [text], max_length, 1)[0]
        direction = torch.nn.functional.normalize(direction - direction.mean(), dim=0)
        rows = torch.tensor([i == text for i in instructions])
        vectors[rows] -= (vectors[rows] @ direction)[:, None] * direction[None]
    return vectors


@torch.no_grad()
def pooling_decoder(model, seed: int = 42) -> None:
    """Make a BERT decoder's first hidden state LayerNorm(mean of the encoder's outputs).

    Cross-attention in the first layer has zero queries (uniform over the unmasked source
    tokens), identity value and output maps, and an output bias that cancels the start
    position's own input ``a`` in the residual sum, so LayerNorm(mean + a - a) is left; every
    other sub-layer writes zero into the residual stream (trainable from there, as in
    zero-initialised residual branches); the prediction head's transform is the identity up to
    LayerNorm's centring. (Cancelling ``a`` with a bias, not zeroing the start input, keeps the
    construction stable under training: LayerNorm would blow a near-zero input up to unit scale.)

    The second position's input is dominated by a seeded direction ``z`` (its position
    embedding), so after any docid token the residual sum is mean + x2 - a with x2 - a far larger
    than the mean, and end of sequence's output row points along it: its logit there is about
    ``END_WEIGHT`` × 19, against a few for any docid token, so the first step alone ranks the docids.
    """
    _check_backbone(model)
    bert, head = model.decoder.bert, model.decoder.cls.predictions
    hidden = bert.config.hidden_size
    eye = torch.eye(hidden)
    emb = bert.embeddings
    emb.LayerNorm.weight.fill_(1.0)
    emb.LayerNorm.bias.zero_()
    z = torch.randn(hidden, generator=torch.Generator().manual_seed(seed))
    z = torch.nn.functional.normalize(z - z.mean(), dim=0)  # centred: LayerNorm keeps it
    emb.position_embeddings.weight[1] = END_POSITION * z
    for i, layer in enumerate(bert.encoder.layer):
        for block in (layer.attention.output, layer.crossattention.output, layer.output):
            block.dense.weight.zero_()
            block.dense.bias.zero_()
            block.LayerNorm.weight.fill_(1.0)
            block.LayerNorm.bias.zero_()
    device = emb.word_embeddings.weight.device
    ids = torch.tensor([[model.config.decoder_start_token_id, model.config.eos_token_id]], device=device)
    was_training = emb.training
    emb.eval()
    start, second = emb(input_ids=ids)[0]  # the inputs at the start position and (roughly) the second
    emb.train(was_training)
    cross = bert.encoder.layer[0].crossattention
    cross.self.query.weight.zero_()
    cross.self.query.bias.zero_()
    cross.self.value.weight.copy_(eye)
    cross.self.value.bias.zero_()
    cross.output.dense.weight.copy_(eye)
    cross.output.dense.bias.copy_(-start)
    end = torch.nn.functional.layer_norm(second - start, (hidden,))  # the second step's direction
    emb.word_embeddings.weight[model.config.eos_token_id] = END_WEIGHT * end / hidden ** 0.5  # tied: its output row
    if head.decoder.bias is not None:
        head.decoder.bias[model.config.eos_token_id] = 0.0
    head.transform.dense.weight.copy_(eye)
    head.transform.dense.bias.fill_(GELU_SHIFT)
    head.transform.LayerNorm.weight.fill_(1.0)
    head.transform.LayerNorm.bias.zero_()
