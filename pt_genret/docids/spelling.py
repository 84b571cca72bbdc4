"""Token spellings of docids that stay unique after tokenisation."""
from __future__ import annotations

from typing import TYPE_CHECKING

from pt_genret.docids.base import DocIdScheme

if TYPE_CHECKING:
    from pt_genret.backbone import Backbone


def spell_unique(scheme: DocIdScheme, backbone: "Backbone", docids: list[str],
                 taken: set[tuple[int, ...]] = frozenset()) -> tuple[list[str], list[list[int]]]:
    """Token spellings of ``docids``, disambiguating docids that differ as strings but not as
    tokens (a tokenizer that drops accents or maps characters to ``<unk>``)."""
    used, strings = set(taken), set(docids)
    out_ids, out_tokens = [], []
    for docid in docids:
        unique, n = docid, 1
        tokens = tuple(backbone.spell(unique, scheme.kind))
        while tokens in used:
            unique = scheme.disambiguate(docid, n)
            n += 1
            if unique in strings:
                continue
            if scheme.kind == "codes":
                backbone.ensure_codes(scheme.num_codes())
            tokens = tuple(backbone.spell(unique, scheme.kind))
        used.add(tokens)
        strings.add(unique)
        out_ids.append(unique)
        out_tokens.append(list(tokens))
    return out_ids, out_tokens
