"""A tiny build and search, run by tests/test_multiprocess.py in one process and under
``accelerate launch`` with two CPU processes: ``python multiprocess_job.py OUT_FOLDER``.

Every process writes what it retrieved to ``OUT/run.<rank>.json`` (the test checks that every
process holds the whole run); the index folder is written by the main process alone.
"""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from conftest import TINY_T5, build_tiny_index, make_docs  # noqa: E402

torch.set_num_threads(1)


def build_and_search(out: str) -> list[dict]:
    """Build a tiny index under a (generous) budget with validation, then retrieve for every
    document's title; returns the run as records."""
    from pt_genret import distributed
    from pt_genret.retriever import GenRetriever

    docs = make_docs(per_topic=4)
    # dropout 0: the masks would otherwise depend on how a batch is split across processes
    index = build_tiny_index(os.path.join(out, "index.gr"), docs, scheme="title", epochs=3,
                             backbone_options={**TINY_T5, "dropout": 0.0}, max_minutes=10,
                             validation_queries=8)
    topics = pd.DataFrame({"qid": [d["docno"] for d in docs], "query": [d["title"] for d in docs]})
    run = GenRetriever(index, num_results=5, batch_size=5).transform(topics)
    records = run[["qid", "docno", "rank", "score"]].to_dict("records")
    with open(os.path.join(out, f"run.{distributed.process_index()}.json"), "w") as f:
        json.dump(records, f)
    return records


if __name__ == "__main__":
    build_and_search(sys.argv[1])
