"""ZeroGR's instructed query generator: B pseudo-queries per document, written for a task.

ZeroGR samples queries for each document *and instruction* from an instruction-tuned LM, so
that pseudo-queries look like the task's real queries (claims for a fact-checking corpus,
questions for QA, titles for citation search) instead of one generic style.

* ``model="extractive"`` (offline default): :class:`~pt_genret.queries.ExtractiveQueryGenerator`
  with its query kinds ordered by what the instruction asks for (:data:`STYLES`: a claim or
  argument gets sentences and clauses first, a question gets question templates and key
  phrases, a title or entity gets titles and keywords); round-robin over those kinds.
* ``model=<HF name or local path>``: any seq2seq or causal LM reads the instruction and the
  document and writes ``num_queries`` queries by seeded top-k sampling; a document it writes
  too few distinct queries for is topped up extractively.

The instruction is a document's ``instruction`` column where it has one, else the generator's
``instruction``. The output keeps every column and adds ``querygen`` (the bare queries: the
indexer prepends the instruction when it trains, :mod:`pt_genret.instructions`) and
``instruction``.
"""
from __future__ import annotations

import pandas as pd
import pyterrier as pt
import pyterrier_alpha as pta

from pt_genret.documents import full_texts, titles
from pt_genret.instructions import COLUMN, GENERIC_INSTRUCTION, check_instruction, row_instructions
from pt_genret.queries.extractive import KINDS, ExtractiveQueryGenerator

#: (words in the instruction, extractive query kinds first tried): the first match wins.
STYLES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("claim", "argument", "statement", "fact"), ("sentence", "clause", "terms", "keyphrase")),
    (("question", "ask", "answer"), ("question", "keyphrase", "sentence", "title_keyphrase")),
    (("title", "entity", "keyword", "cite"), ("title", "keyphrase", "keywords", "title_keyphrase")),
)
PROMPT = "{instruction}\nDocument: {text}\nWrite one search query for this task:"


def kinds_for(instruction: str) -> tuple[str, ...]:
    """The extractive query kinds, those the instruction asks for first."""
    text = instruction.lower()
    first = next((kinds for cues, kinds in STYLES if any(c in text for c in cues)), ())
    return tuple(first) + tuple(k for k in KINDS if k not in first)


class InstructedQueryGenerator(pt.Transformer):
    """Adds ``querygen`` (``num_queries`` pseudo-queries per document) and ``instruction``.

    Args:
        instruction: the task instruction of documents without an ``instruction`` column value.
        num_queries: B, the pseudo-queries per document and instruction.
        model: ``"extractive"`` (offline default) or a HF seq2seq/causal model name or local path.
        prompt: the generation prompt (``{instruction}``, ``{text}``).
        seed: seeds sampling and the extractive kinds' random choices.
        device, batch_size, max_input_length, max_query_length, top_k: generation settings.
    """

    def __init__(self, instruction: str | None = None, num_queries: int = 10, model: str = "extractive",
                 prompt: str = PROMPT, seed: int = 42, device: str | None = None, batch_size: int = 8,
                 max_input_length: int = 256, max_query_length: int = 32, top_k: int = 10) -> None:
        if isinstance(num_queries, bool) or not isinstance(num_queries, int) or num_queries < 1:
            raise ValueError(f"num_queries must be a whole number >= 1, got {num_queries!r}")
        self.instruction = check_instruction(instruction) or GENERIC_INSTRUCTION
        self.num_queries, self.model_name, self.prompt, self.seed = num_queries, model, prompt, seed
        self.top_k = top_k
        self._lm = None
        if model != "extractive":
            from pt_genret.textgen import PromptedGenerator

            self._lm = PromptedGenerator(model, max_input_length=max_input_length, max_new_tokens=max_query_length,
                                         batch_size=batch_size, device=device)

    def __repr__(self) -> str:
        return f"InstructedQueryGenerator({self.instruction!r}, num_queries={self.num_queries}, model={self.model_name!r})"

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        pta.validate.document_frame(inp, ["docno", "text"])
        out = inp.copy()
        instructions = row_instructions(inp, self.instruction)
        out[COLUMN] = instructions
        if len(inp) == 0:
            out["querygen"] = []
            return out
        num_docs, df = ExtractiveQueryGenerator.document_frequencies(full_texts(inp))
        extractive = {i: ExtractiveQueryGenerator(self.num_queries, seed=self.seed, kinds=kinds_for(i))
                      for i in dict.fromkeys(instructions)}
        texts, heads = inp["text"].fillna("").astype(str).tolist(), titles(inp).tolist()
        written = self._written(instructions, full_texts(inp))
        queries = []
        for docno, title, text, instruction, lm in zip(inp["docno"].astype(str), heads, texts, instructions, written):
            own = list(dict.fromkeys(q for q in lm if q.strip()))[: self.num_queries]
            if len(own) < self.num_queries:
                more = extractive[instruction].queries_for(docno, title, text, num_docs, df)
                own += [q for q in more if q not in own][: self.num_queries - len(own)]
            queries.append(own)
        out["querygen"] = queries
        return out

    def _written(self, instructions: list[str], texts: list[str]) -> list[list[str]]:
        """The LM's sampled queries per document (none for the extractive default)."""
        if self._lm is None:
            return [[] for _ in texts]
        prompts = [self.prompt.format(instruction=i, text=t) for i, t in zip(instructions, texts)]
        return self._lm.generate(prompts, num=self.num_queries, sample=True, seed=self.seed, top_k=self.top_k)
