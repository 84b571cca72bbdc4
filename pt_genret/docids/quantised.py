"""Quantised semantic docids: residual quantisation (TIGER) and product quantisation (Ultron-PQ).

Both schemes embed each document's title and text (the same encoder as
:class:`~pt_genret.docids.semantic.SemanticScheme`) and write it as a fixed-length code of
``m`` numbers, one per *level*:

- :class:`ResidualQuantisedScheme` (``rq``) quantises the embedding, then the residual left
  by that quantisation, and so on: level ``l`` clusters the residuals of level ``l - 1``;
- :class:`ProductQuantisedScheme` (``pq``) cuts the embedding into ``m`` sub-vectors and
  quantises each on its own.

**Position-aware code tokens.** The code value chosen at level ``l`` (cluster ``c`` of ``k``)
is written as ``l * k + c``, so cluster 3 at level 0 and cluster 3 at level 1 are different
tokens (``<c3>`` and ``<c{k+3}>``): the model never has to infer a token's meaning from its
position. A code is therefore ``"c_0-c_1-...-c_{m-1}"`` with ``c_l`` in ``[l*k, (l+1)*k)``.

**Collisions.** Different documents can quantise to the same ``m`` codes. The first keeps the
plain code; the ``n``-th duplicate (n ≥ 1) gets one extra *suffix* token ``m * k + (n - 1)``
(for example ``"2-21-40-48"`` with ``m=3, k=16``). ``max_suffix`` (default 64) suffix tokens
are reserved, so :meth:`num_codes` is ``m * k + max_suffix``; a code shared by more than
``max_suffix + 1`` documents raises a ``ValueError`` (use a larger ``k`` or ``m``, or a larger
``max_suffix``).

**Small corpora.** With fewer documents than ``k``, each level uses ``k_eff = min(k, n_docs)``
clusters; the code vocabulary still follows the configured ``k``, so ``num_codes`` does not
depend on the corpus size.

New documents are encoded and quantised with the stored centroids (nearest centroid by
Euclidean distance per level); nothing is refitted. Fitting is deterministic given ``seed``:
level ``l`` uses ``KMeans(k_eff, random_state=seed + l, n_init=1)``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

from pt_genret.docids.base import DocIdScheme
from pt_genret.documents import full_texts
from pt_genret.embeddings import TextEncoder
from pt_genret.options import option


def nearest(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid (squared Euclidean distance) for each row of ``x``;
    ties go to the lowest index."""
    x = np.asarray(x, dtype=np.float64)
    c = np.asarray(centroids, dtype=np.float64)
    dist = (x * x).sum(1)[:, None] - 2.0 * x @ c.T + (c * c).sum(1)[None, :]
    return np.argmin(dist, axis=1)


def _kmeans(x: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Centroids (float32) and labels of a seeded single-init k-means."""
    with warnings.catch_warnings():
        # duplicate points (fewer distinct vectors than k) are fine: some clusters repeat
        warnings.simplefilter("ignore", ConvergenceWarning)
        km = KMeans(n_clusters=k, random_state=seed, n_init=1).fit(x)
    return km.cluster_centers_.astype(np.float32), km.labels_.astype(np.int64)


@dataclass(kw_only=True, eq=False)
class _QuantisedScheme(DocIdScheme):
    """Shared machinery: embeddings, fitted codes, position-aware tokens, suffix collisions."""

    kind = "codes"

    m: int = option(3, positive=True)
    k: int = option(16, positive=True)
    encoder: str | None = option(None)
    max_suffix: int = option(64)
    _encoder: TextEncoder | None = field(default=None, init=False, repr=False)
    _fitted_codes: dict[str, list[int]] = field(default_factory=dict, init=False, repr=False)

    def text_encoder(self) -> TextEncoder:
        if self._encoder is None:
            self._encoder = TextEncoder(self.encoder)
        return self._encoder

    def _embed(self, docs: pd.DataFrame, verbose: bool = False) -> np.ndarray:
        return np.asarray(self.text_encoder().encode(full_texts(docs), verbose=verbose), dtype=np.float32)

    # subclasses: cluster numbers per level, shape (n, m) ----------------------------------
    def _fit_levels(self, emb: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _quantise(self, emb: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fit(self, docs: pd.DataFrame, embeddings: np.ndarray | None = None) -> "_QuantisedScheme":
        """Fit the quantiser; ``embeddings`` (one row per document) skips the encoder."""
        if len(docs) == 0:
            raise ValueError(f"{self.name}: cannot fit on an empty corpus")
        emb = self._embed(docs, verbose=True) if embeddings is None else np.asarray(embeddings, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[0] != len(docs):
            raise ValueError(f"{self.name}: embeddings must have shape (n_docs={len(docs)}, dim), got {emb.shape}")
        clusters = self._fit_levels(emb)
        # the fitted documents keep the codes the clustering gave them
        self._fitted_codes = dict(zip(docs["docno"].astype(str), self._tokens(clusters)))
        self.fitted = True
        return self

    def _tokens(self, clusters: np.ndarray) -> list[list[int]]:
        """Position-aware code values: cluster ``c`` at level ``l`` is ``l * k + c``."""
        offsets = np.arange(self.m, dtype=np.int64) * self.k
        return (np.asarray(clusters, dtype=np.int64) + offsets[None, :]).tolist()

    def codes(self, docs: pd.DataFrame) -> list[list[int]]:
        """The (position-aware) ``m`` code values of each document, before disambiguation."""
        docnos = docs["docno"].astype(str).tolist()
        new = [i for i, d in enumerate(docnos) if d not in self._fitted_codes]
        routed = iter(self._tokens(self._quantise(self._embed(docs.iloc[new])))) if new else iter(())
        return [list(self._fitted_codes[d]) if d in self._fitted_codes else next(routed) for d in docnos]

    def propose(self, docs: pd.DataFrame) -> list[str]:
        return ["-".join(map(str, c)) for c in self.codes(docs)]

    def disambiguate(self, docid: str, n: int) -> str:
        """The ``n``-th duplicate of a code gets the suffix token ``m * k + n - 1``."""
        if n > self.max_suffix:
            raise ValueError(
                f"{self.name}: more than {self.max_suffix + 1} documents share the code {docid!r}; "
                f"use a larger k (now {self.k}) or m (now {self.m}), or a larger max_suffix")
        return f"{docid}-{self.m * self.k + n - 1}"

    def num_codes(self) -> int:
        return self.m * self.k + self.max_suffix


@dataclass(kw_only=True, eq=False)
class ResidualQuantisedScheme(_QuantisedScheme):
    """TIGER-style residual quantisation: ``m`` levels (default 3) of ``k`` codes (default 16).

    Level 0 clusters the embeddings, level ``l`` the residuals ``x - centroid`` left after
    level ``l - 1``. Code values are position-aware (``l * k + c``, see the module docstring);
    ``num_codes() == m * k + max_suffix`` (``max_suffix`` tokens for colliding codes).
    """

    name = "rq"

    m: int = option(3, positive=True)
    centroids: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), dtype=np.float32), init=False,
                                  repr=False)  # (m, k_eff, dim)

    def _fit_levels(self, emb: np.ndarray) -> np.ndarray:
        k_eff = min(self.k, len(emb))
        residual = emb.astype(np.float32).copy()
        cents, labels = [], []
        for level in range(self.m):
            c, lab = _kmeans(residual, k_eff, self.seed + level)
            cents.append(c)
            labels.append(lab)
            residual = residual - c[lab]
        self.centroids = np.stack(cents).astype(np.float32)
        return np.stack(labels, axis=1)

    def _quantise(self, emb: np.ndarray) -> np.ndarray:
        residual = np.asarray(emb, dtype=np.float32).copy()
        labels = []
        for level in range(self.m):
            lab = nearest(residual, self.centroids[level])
            labels.append(lab)
            residual = residual - self.centroids[level][lab]
        return np.stack(labels, axis=1) if labels else np.zeros((len(emb), 0), np.int64)

    def state(self) -> dict[str, np.ndarray]:
        return {"centroids": self.centroids}

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.centroids = arrays["centroids"].astype(np.float32)
        if self.centroids.ndim != 3 or self.centroids.shape[0] != self.m:
            raise ValueError(f"rq: saved centroids have shape {self.centroids.shape}, expected ({self.m}, k, dim)")
        self._fitted_codes = {}
        self.fitted = True


@dataclass(kw_only=True, eq=False)
class ProductQuantisedScheme(_QuantisedScheme):
    """Ultron-PQ product quantisation: ``m`` sub-vectors (default 4), ``k`` codes each (default 16).

    The embedding's dimensions are cut into ``m`` contiguous, near-equal sub-spaces
    (``numpy.array_split``); each is clustered on its own. Code values are position-aware
    (``l * k + c``); ``num_codes() == m * k + max_suffix``.
    """

    name = "pq"

    m: int = option(4, positive=True)
    sub_centroids: list[np.ndarray] = field(default_factory=list, init=False, repr=False)  # m arrays (k_eff, sub_dim_l)
    bounds: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), init=False,
                               repr=False)  # m + 1 column boundaries

    def _fit_levels(self, emb: np.ndarray) -> np.ndarray:
        dim = emb.shape[1]
        if dim < self.m:
            raise ValueError(f"pq: cannot split {dim}-dimensional embeddings into m={self.m} sub-spaces")
        self.bounds = np.array([0] + np.cumsum([len(p) for p in np.array_split(np.arange(dim), self.m)]).tolist(),
                               dtype=np.int64)
        k_eff = min(self.k, len(emb))
        self.sub_centroids, labels = [], []
        for level in range(self.m):
            sub = emb[:, self.bounds[level]:self.bounds[level + 1]]
            c, lab = _kmeans(sub, k_eff, self.seed + level)
            self.sub_centroids.append(c)
            labels.append(lab)
        return np.stack(labels, axis=1)

    def _quantise(self, emb: np.ndarray) -> np.ndarray:
        emb = np.asarray(emb, dtype=np.float32)
        labels = [nearest(emb[:, self.bounds[l]:self.bounds[l + 1]], self.sub_centroids[l]) for l in range(self.m)]
        return np.stack(labels, axis=1)

    def state(self) -> dict[str, np.ndarray]:
        out = {"bounds": self.bounds}
        out.update({f"centroids_{l}": c for l, c in enumerate(self.sub_centroids)})
        return out

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.bounds = arrays["bounds"].astype(np.int64)
        if len(self.bounds) != self.m + 1:
            raise ValueError(f"pq: saved state has {len(self.bounds) - 1} sub-spaces, expected m={self.m}")
        self.sub_centroids = [arrays[f"centroids_{l}"].astype(np.float32) for l in range(self.m)]
        self._fitted_codes = {}
        self.fitted = True
