"""Semantic docids: hierarchical k-means over document embeddings (DSI-SE, NCI).

Documents are clustered into ``k`` groups, each group with more than ``k`` members is
clustered again, and so on; a document's identifier is its path of cluster numbers followed by
its position inside the final cluster, a code in ``[k]^m``. Positions are unique within a
leaf, so identifiers never collide. New documents walk down the stored centroids to the
nearest leaf and take its next free position (written in base ``k`` once the leaf is full).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

from pt_genret.docids.base import DocIdScheme
from pt_genret.documents import full_texts
from pt_genret.embeddings import TextEncoder
from pt_genret.options import option


def base_k_digits(n: int, k: int) -> list[int]:
    """Digits of ``n`` in base ``k``, most significant first (``[0]`` for zero)."""
    digits = []
    while True:
        digits.append(n % k)
        n //= k
        if n == 0:
            return digits[::-1]


@dataclass(kw_only=True, eq=False)
class SemanticScheme(DocIdScheme):
    """Hierarchical k-means codes; ``k`` children per node, ``encoder`` any HF encoder."""

    name = "semantic"
    kind = "codes"

    k: int = option(10, positive=True)
    encoder: str | None = option(None)
    max_depth: int = option(12, positive=True)
    position_aware: bool = option(False)  # NCI: cluster c at depth d is its own token d*k + c
    longest: int = field(default=1, init=False, repr=False)
    _encoder: TextEncoder | None = field(default=None, init=False, repr=False)
    # tree: node_children[i] lists the flat indices of node i's children; flat index c has
    # centroid centroids[c] and is node child_node[c]; a node without children is a leaf
    centroids: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32), init=False, repr=False)
    child_node: list[int] = field(default_factory=list, init=False, repr=False)
    node_children: list[list[int]] = field(default_factory=lambda: [[]], init=False, repr=False)
    leaf_fill: dict[int, int] = field(default_factory=dict, init=False, repr=False)
    _codes: dict[int, list[int]] = field(default_factory=dict, init=False, repr=False)

    def text_encoder(self) -> TextEncoder:
        if self._encoder is None:
            self._encoder = TextEncoder(self.encoder)
        return self._encoder

    def fit(self, docs: pd.DataFrame, embeddings: np.ndarray | None = None) -> "SemanticScheme":
        emb = embeddings if embeddings is not None else self.text_encoder().encode(full_texts(docs), verbose=True)
        self._cents: list[np.ndarray] = []
        self.child_node = []
        self.node_children = [[]]
        self.leaf_fill = {}
        self._fitted_codes: list[list[int]] = [[] for _ in range(len(docs))]
        self._split(np.arange(len(docs)), emb, node=0, prefix=[], depth=0)
        self.centroids = np.stack(self._cents).astype(np.float32) if self._cents else np.zeros((0, emb.shape[1]), np.float32)
        # the clustered documents keep the codes the clustering gave them
        self._pending = dict(zip(docs["docno"].astype(str), self._fitted_codes))
        self.fitted = True
        return self

    def _new_child(self, node: int, centroid: np.ndarray) -> int:
        """Add a child node under ``node``; returns the child's flat index."""
        flat = len(self._cents)
        self._cents.append(centroid)
        self.node_children.append([])
        self.child_node.append(len(self.node_children) - 1)
        self.node_children[node].append(flat)
        return flat

    def _split(self, idx: np.ndarray, emb: np.ndarray, node: int, prefix: list[int], depth: int) -> None:
        if len(idx) <= self.k or depth >= self.max_depth:
            # positions inside a leaf: the leaf is the node itself (keyed by node id)
            for pos, i in enumerate(idx):
                self._fitted_codes[i] = prefix + base_k_digits(pos, self.k)
            self.leaf_fill[node] = len(idx)
            return
        km = KMeans(n_clusters=self.k, random_state=self.seed + depth, n_init=1).fit(emb[idx])
        labels = km.labels_
        if len(np.unique(labels)) == 1:  # identical embeddings: split by order, deterministically
            labels = np.arange(len(idx)) * self.k // len(idx)
        for c in range(self.k):
            members = idx[labels == c]
            if len(members) == 0:
                continue
            flat = self._new_child(node, emb[members].mean(0))
            self._split(members, emb, self.child_node[flat], prefix + [len(self.node_children[node]) - 1], depth + 1)

    def propose(self, docs: pd.DataFrame) -> list[str]:
        pending = getattr(self, "_pending", {})
        docnos = docs["docno"].astype(str).tolist()
        new = [i for i, d in enumerate(docnos) if d not in pending]
        routed = iter(self._route(e) for e in self.text_encoder().encode(full_texts(docs.iloc[new]))) if new else iter(())
        codes = [pending.pop(d) if d in pending else next(routed) for d in docnos]
        self.longest = max([self.longest] + [len(c) for c in codes])
        if self.position_aware:
            codes = [[d * self.k + c for d, c in enumerate(code)] for code in codes]
        return ["-".join(map(str, c)) for c in codes]

    def _route(self, e: np.ndarray) -> list[int]:
        """Code for a new embedding: nearest centroid at each level, then the leaf's next slot."""
        node, code = 0, []
        while self.node_children[node]:
            children = self.node_children[node]
            best = int(np.argmax(self.centroids[children] @ e))
            code.append(best)
            node = self.child_node[children[best]]
        pos = self.leaf_fill.get(node, 0)
        self.leaf_fill[node] = pos + 1
        return code + base_k_digits(pos, self.k)

    def num_codes(self) -> int:
        return self.k * self.longest if self.position_aware else self.k

    def state(self) -> dict[str, np.ndarray]:
        starts = np.cumsum([0] + [len(c) for c in self.node_children]).astype(np.int64)
        flat_children = np.array([c for cs in self.node_children for c in cs], dtype=np.int64)
        fill = np.array([self.leaf_fill.get(n, -1) for n in range(len(self.node_children))], dtype=np.int64)
        return {"centroids": self.centroids, "child_node": np.array(self.child_node, dtype=np.int64),
                "node_starts": starts, "node_children": flat_children, "leaf_fill": fill,
                "longest": np.array([self.longest], dtype=np.int64)}

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.centroids = arrays["centroids"]
        self.child_node = arrays["child_node"].tolist()
        starts, flat = arrays["node_starts"], arrays["node_children"]
        self.node_children = [flat[starts[i]:starts[i + 1]].tolist() for i in range(len(starts) - 1)]
        self.leaf_fill = {n: int(f) for n, f in enumerate(arrays["leaf_fill"]) if f >= 0}
        self._pending = {}
        self.longest = int(arrays["longest"][0]) if "longest" in arrays else 1
        self.fitted = True
