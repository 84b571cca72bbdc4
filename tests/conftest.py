"""Shared fixtures: a small seeded corpus written in code and tiny trained GR indexes.

Everything is offline (no HF hub, no ../shared). Indexes are trained once per session with a
tiny from-scratch T5 so the whole suite stays fast on a couple of CPU cores.
"""
from __future__ import annotations

import os
import random

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

# Tiny models are dominated by thread synchronisation; one intra-op thread is both faster and far
# more robust when the machine is shared (OpenMP spin-waiting under load is very slow).
torch.set_num_threads(int(os.environ.get("PT_GENRET_TEST_THREADS", "1")))

TINY_T5 = {"d_model": 64, "layers": 2, "vocab_size": 400}

TOPICS = {
    "astronomy": ("planet star galaxy telescope orbit comet nebula moon asteroid eclipse solar cosmic "
                  "meteor supernova gravity").split(),
    "cooking": ("recipe oven flour butter garlic onion simmer roast sauce pepper dough bake "
                "spice broth skillet").split(),
    "football": ("striker goal midfield referee penalty league stadium coach match tackle keeper "
                 "offside trophy season corner").split(),
    "programming": ("python compiler function variable debugger syntax library runtime thread "
                    "database algorithm recursion interface module bytecode").split(),
}
NAMES = ("amber basil cedar delta ember fjord garnet harbor indigo juniper kestrel lumen "
         "marble nectar onyx prairie").split()


def make_docs(per_topic: int = 8, seed: int = 7, topics: tuple[str, ...] | None = None) -> list[dict]:
    """``per_topic`` documents for each topic: distinct titles, topical seeded text."""
    rng = random.Random(seed)
    docs = []
    for t, (topic, vocab) in enumerate(TOPICS.items()):
        if topics is not None and topic not in topics:
            continue
        for i in range(per_topic):
            name = NAMES[(i + 3 * t) % len(NAMES)]
            kw = rng.sample(vocab, 3)
            words = [rng.choice(vocab) for _ in range(18)]
            docs.append({
                "docno": f"{topic[:3]}{i}",
                "title": f"{name} {kw[0]} {topic}",
                "text": f"The {name} {kw[0]} notes cover {kw[1]} and {kw[2]}. " + " ".join(words) + ".",
            })
    return docs


FILLER = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
          "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee").split()


def filler_docs(n: int = 30, seed: int = 13) -> list[dict]:
    """``n`` documents of random filler words (3-word title, 20-word text): a corpus in which
    the BM25 tests plant the few terms their queries look for."""
    rng = random.Random(seed)
    return [{"docno": f"d{i}", "title": " ".join(rng.choices(FILLER, k=3)),
             "text": " ".join(rng.choices(FILLER, k=20))} for i in range(n)]


def build_tiny_index(path, docs, scheme: str = "title", epochs: int = 2, seed: int = 42, **kwargs):
    """A GenIndex trained with the tiny from-scratch T5 backbone."""
    from pt_genret.index import GenIndex

    options = dict(backbone="t5-scratch", backbone_options=dict(TINY_T5), epochs=epochs, batch_size=16,
                   lr=3e-3, seed=seed, verbose=False, max_minutes=None, num_pseudo_queries=5)
    options.update(kwargs)
    return GenIndex(str(path)).indexer(scheme=scheme, **options).index(pd.DataFrame(docs))


@pytest.fixture(scope="session")
def docs() -> list[dict]:
    """32 documents over four topics."""
    return make_docs()


@pytest.fixture(scope="session")
def docs_frame(docs) -> pd.DataFrame:
    return pd.DataFrame(docs)


@pytest.fixture(scope="session")
def title_index(tmp_path_factory, docs):
    """Title docids, trained long enough that a document's own title/text finds it."""
    return build_tiny_index(tmp_path_factory.mktemp("idx") / "title.gr", docs, scheme="title", epochs=15)


@pytest.fixture(scope="session")
def code_index(tmp_path_factory, docs):
    """Semantic (hierarchical k-means) code docids; barely trained: for decoding invariants."""
    return build_tiny_index(tmp_path_factory.mktemp("idx") / "semantic.gr", docs, scheme="semantic",
                            epochs=2, scheme_options={"k": 4})


@pytest.fixture(scope="session", params=["title", "semantic"])
def any_index(request):
    return request.getfixturevalue("title_index" if request.param == "title" else "code_index")


@pytest.fixture(scope="session")
def text_encoder():
    """The offline MiniLM sentence encoder, loaded once."""
    from pt_genret.embeddings import TextEncoder

    return TextEncoder()
