"""Sharing an index with PyTerrier's artifact API, offline: ``build_package`` writes one
``.tar.lz4`` file (and its ``.json`` metadata), ``pt.Artifact.from_url`` downloads it (here from
an HTTP server on the loopback interface: PyTerrier 1.1 reads ``http(s)://`` URLs and treats an
existing local path as an already unpacked artifact, so ``file://`` is not an option), checks
its SHA-256 against the metadata and unpacks it into PyTerrier's artifact cache as a
:class:`GenIndex` that retrieves exactly as the original. ``to_hf``/``from_hf`` take the same
route through the HF hub."""
from __future__ import annotations

import functools
import http.server
import json
import os
import threading

import pandas as pd
import pyterrier as pt
import pytest

from pt_genret.index import GenIndex
from pt_genret.retriever import GenRetriever


@pytest.fixture()
def artifact_home(tmp_path, monkeypatch):
    """PyTerrier's artifact cache in a temporary folder (not ~/.pyterrier)."""
    monkeypatch.setenv("PYTERRIER_HOME", str(tmp_path / "pyterrier-home"))
    return tmp_path


@pytest.fixture()
def served(artifact_home):
    """``(folder, base URL)``: a folder served over HTTP on 127.0.0.1 (no network needed)."""
    folder = artifact_home / "served"
    folder.mkdir()
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize("generic", [True, False])
def test_package_and_load_back(title_index, docs, served, generic):
    folder, base = served
    package = title_index.build_package(str(folder / "title.tar.lz4"), verbose=False)
    assert os.path.isfile(package)
    with open(package + ".json") as f:
        info = json.load(f)
    assert info["expected_sha256"] and info["total_size"] > 0

    # pt.Artifact finds GenIndex through the package's pt_meta.json (type, format) and the entry point
    loader = pt.Artifact if generic else GenIndex
    loaded = loader.from_url(f"{base}/title.tar.lz4")
    assert isinstance(loaded, GenIndex) and os.path.realpath(loaded.path) != os.path.realpath(title_index.path)
    assert loaded.meta["num_docs"] == title_index.meta["num_docs"] == len(docs)

    topics = pd.DataFrame({"qid": ["1", "2"], "query": [docs[0]["title"], docs[9]["title"]]})
    cols = ["qid", "docno", "score", "gr_docid"]
    original, shared = GenRetriever(title_index, num_results=3)(topics), GenRetriever(loaded, num_results=3)(topics)
    pd.testing.assert_frame_equal(original[cols], shared[cols], check_exact=False, rtol=1e-5)


def test_load_by_path_with_artifact_load(title_index):
    """``pt.Artifact.load(path)`` finds GenIndex from pt_meta.json (type, format, package_hint)."""
    loaded = pt.Artifact.load(title_index.path)
    assert isinstance(loaded, GenIndex)
    assert loaded.meta["package_hint"] == "pt_genret" or loaded.meta["package_hint"] == "pt-genret"
