"""reorder_rows moves a key/value cache's rows exactly as HF's full reorder does."""
import pytest
import torch
from transformers import DynamicCache

from pt_genret.decoding.cache_rows import reorder_rows


def _cache(rows: int = 8, layers: int = 2, length: int = 5) -> DynamicCache:
    cache = DynamicCache()
    g = torch.Generator().manual_seed(0)
    for i in range(layers):
        cache.update(torch.randn(rows, 3, length, 4, generator=g), torch.randn(rows, 3, length, 4, generator=g), i)
    return cache


def _states(cache: DynamicCache) -> list[torch.Tensor]:
    return [t.clone() for layer in cache.layers for t in (layer.keys, layer.values)]


@pytest.mark.parametrize("rows", [
    [0, 1, 2, 3, 4, 5, 6, 7],  # identity: nothing copied
    [1, 0, 2, 3, 4, 5, 6, 7],  # a swap: in place, each reads the other's old states
    [0, 0, 2, 2, 4, 5, 6, 6],  # a few duplicated: in place
    [3, 3, 3, 3, 0, 1, 2, 7],  # most move: the full index_select
])
def test_reorder_rows_matches_full_reorder(rows):
    ours, theirs = _cache(), _cache()
    index = torch.tensor(rows)
    reorder_rows(ours, index)
    theirs.reorder_cache(index)
    for a, b in zip(_states(ours), _states(theirs)):
        assert torch.equal(a, b)
