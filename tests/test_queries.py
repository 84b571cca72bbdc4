"""Tests for pt_genret.queries: the extractive generator at scale and the teacher filter (small
in-code corpora, no network, no model)."""

import pandas as pd
import pyterrier as pt
import pytest

from conftest import make_docs
from pt_genret.queries import KINDS, ExtractiveQueryGenerator, TeacherFilter, get_query_generator, sanitise_query

LONG = [
    {"docno": "prot", "title": "Neural networks for protein folding",
     "text": "Deep neural networks predict protein structures from amino acid sequences. The model, trained on "
             "the Protein Data Bank, reaches near-experimental accuracy; however, membrane proteins remain hard. "
             "Attention layers capture long-range contacts between residues. We release code and weights for "
             "protein structure prediction. Evolutionary couplings from multiple sequence alignments improve "
             "predicted contact maps (especially for orphan families). Folding kinetics are not modelled."},
    {"docno": "vitd", "title": "Vitamin D and bone density",
     "text": "Vitamin D supplementation increased bone mineral density in older women. The effect was strongest "
             "in women with low baseline vitamin D levels, below 20 ng/ml. No effect on fracture risk was found. "
             "Calcium intake was recorded with a food frequency questionnaire. Adherence exceeded ninety percent "
             "over two years of follow-up; serum calcium stayed within normal limits."},
    {"docno": "bread", "title": "Sourdough baking",
     "text": "A sourdough starter ferments flour and water with wild yeast and lactic acid bacteria. Long cold "
             "proofing develops flavour and an open crumb. Bake the loaf in a preheated dutch oven, covered for "
             "twenty minutes, then uncovered until the crust is deep brown. Hydration around seventy five percent "
             "suits most wheat flours; whole grain flour absorbs more water."},
]


def _key(q):
    return " ".join(q.lower().split())


def test_counts_and_distinct_queries_up_to_100():
    frame = pd.DataFrame(LONG)
    for n in (1, 5, 20, 50, 100):
        out = ExtractiveQueryGenerator(n)(frame)
        for qs in out["querygen"]:
            assert len(qs) == n
            assert len({_key(q) for q in qs}) == n  # distinct, ignoring case
            assert all(q.strip() for q in qs)


def test_any_prefix_is_varied_and_all_kinds_present():
    out = ExtractiveQueryGenerator(100, record_kinds=True)(pd.DataFrame(LONG))
    for qs, kinds in zip(out["querygen"], out["querygen_kind"]):
        assert len(kinds) == len(qs)
        assert set(kinds) == set(KINDS)
        assert tuple(kinds[:len(KINDS)]) == KINDS  # the first round: one query of each kind, in order
        assert len(set(kinds[:5])) == 5
    prot = {}
    for kind, query in zip(out["querygen_kind"][0], out["querygen"][0]):
        prot.setdefault(kind, query)  # the first query of each kind
    assert prot["title"] == "Neural networks for protein folding"
    assert prot["sentence"].startswith("Deep neural networks predict protein")
    assert "protein" in prot["keyphrase"]  # its most frequent content word
    assert prot["title_keyphrase"].startswith("Neural networks for protein folding ")
    assert not {"neural", "networks", "protein", "folding"} & set(prot["title_keyphrase"].split()[5:])
    assert any(prot["question"].startswith(t) for t in ("what is", "how does", "information about", "relationship")) \
        or " effect" in prot["question"] or " vs " in prot["question"] or " and " in prot["question"] \
        or " in " in prot["question"] or prot["question"].endswith(("meaning", "explained", "overview"))
    # a smaller list is a prefix of a longer one: num_queries cuts, it does not reshuffle
    short = ExtractiveQueryGenerator(7)(pd.DataFrame(LONG))
    for a, b in zip(short["querygen"], out["querygen"]):
        assert a == b[:7]


def test_keyphrases_use_corpus_document_frequencies():
    # "sample" is frequent in the document but in every document of the corpus; "zymurgy" is rarer
    # in the document but only there
    docs = [{"docno": "x", "title": "", "text": "sample sample sample sample zymurgy zymurgy. Sample sample again."}]
    docs += [{"docno": f"o{i}", "title": "", "text": f"sample notes number {i} about other things entirely."}
             for i in range(20)]
    gen = ExtractiveQueryGenerator(3, kinds=["keyphrase"])
    alone = gen(pd.DataFrame(docs[:1]))["querygen"][0]
    together = gen(pd.DataFrame(docs))["querygen"][0]
    assert alone[0] == "sample"  # one document: tf alone decides
    assert together[0] == "zymurgy"  # the corpus makes "sample" uninformative
    # frozen statistics: the document alone, ranked against the corpus
    frozen = ExtractiveQueryGenerator(3, kinds=["keyphrase"]).fit_corpus(pd.DataFrame(docs))
    assert frozen(pd.DataFrame(docs[:1]))["querygen"][0] == together


def test_deterministic_and_order_independent():
    frame = pd.DataFrame(LONG + make_docs(per_topic=3))
    gen = ExtractiveQueryGenerator(60, seed=3)
    a = gen(frame)
    b = ExtractiveQueryGenerator(60, seed=3)(frame)
    shuffled = ExtractiveQueryGenerator(60, seed=3)(frame.sample(frac=1.0, random_state=1))
    assert list(a["querygen"]) == list(b["querygen"])
    by_doc = dict(zip(shuffled["docno"], shuffled["querygen"]))
    assert all(by_doc[d] == qs for d, qs in zip(a["docno"], a["querygen"]))
    other = ExtractiveQueryGenerator(60, seed=4)(frame)
    assert list(other["querygen"]) != list(a["querygen"])  # the seed matters (windows, questions)


def test_small_counts_and_edge_cases():
    frame = pd.DataFrame(make_docs())
    for n in (2, 3, 5):  # the counts the indexing tests rely on
        assert ExtractiveQueryGenerator(n)(frame)["querygen"].map(len).eq(n).all()
    first = ExtractiveQueryGenerator(3)(frame)["querygen"][0]
    assert first[0] == frame["title"][0] and first[1].startswith("The ")  # title, then first sentence
    edge = pd.DataFrame([
        {"docno": "t", "title": "Only a title", "text": ""},
        {"docno": "s", "title": "", "text": "the of and"},  # stopwords only: one sentence
        {"docno": "w", "title": "", "text": "a b"},  # no sentence, no content word: the text itself
    ])
    out = ExtractiveQueryGenerator(10, record_kinds=True)(edge)
    assert out["querygen"][0][:2] == ["Only a title", "title"]  # the title, then its key phrase
    assert set(out["querygen_kind"][0]) <= {"title", "keyphrase", "question"}
    assert out["querygen"].tolist()[1:] == [["the of and"], ["a b"]]
    assert out["querygen_kind"].tolist()[1:] == [["sentence"], ["text"]]
    with pytest.raises(ValueError, match="unknown query kinds"):
        ExtractiveQueryGenerator(5, kinds=["title", "poem"])


def test_get_query_generator_specs():
    gen = get_query_generator("extractive", 7, 1)
    assert isinstance(gen, ExtractiveQueryGenerator) and gen.num_queries == 7 and gen.seed == 1
    assert get_query_generator("none") is None and get_query_generator(None) is None
    pipeline = ExtractiveQueryGenerator(5) >> TeacherFilter(pt.Transformer.identity())
    assert get_query_generator(pipeline, 3) is pipeline


# --- teacher filter ----------------------------------------------------------------------

FILTER_DOCS = [
    {"docno": "a", "title": "zyzzogeton", "text": "the zyzzogeton alpha bravo charlie delta"},
    {"docno": "b", "title": "quokka", "text": "quokka quokka echo foxtrot golf"},
    {"docno": "c", "title": "", "text": "wombat hotel india juliet kilo lima mike november oscar papa"},
    {"docno": "d", "title": "", "text": "wombat wombat quebec"},
    {"docno": "e", "title": "", "text": "romeo sierra tango uniform victor"},
]


@pytest.fixture(scope="module")
def bm25(tmp_path_factory):
    from pt_genret.baselines import bm25_pisa

    return bm25_pisa(FILTER_DOCS, tmp_path_factory.mktemp("pisa") / "tiny", num_results=10)


def test_teacher_filter_with_bm25(bm25):
    frame = pd.DataFrame({
        "docno": ["a", "c", "e"],
        "text": ["x", "y", "z"],
        "extra": [1, 2, 3],
        "querygen": [
            ["quokka", "zyzzogeton alpha", "What's (zyzzogeton)?!", "wombat"],
            ["quokka", "wombat", "xylophone"],  # c: not retrieved, then rank 1 (d is first), then nothing
            ["romeo tango", "?!", ""],
        ],
        "querygen_kind": [["k1", "k2", "k3", "k4"], ["k1", "k2", "k3"], ["k1", "k2", "k3"]],
    })
    out = TeacherFilter(bm25, rank_cutoff=1, verbose=False)(frame)
    assert list(out.columns) == list(frame.columns)
    assert out["extra"].tolist() == [1, 2, 3] and out["docno"].tolist() == ["a", "c", "e"]
    # a's own-document queries survive, stored as generated (punctuation and all); "quokka" and "wombat" go
    assert out["querygen"][0] == ["zyzzogeton alpha", "What's (zyzzogeton)?!"]
    assert out["querygen_kind"][0] == ["k2", "k3"]
    # nothing of c passes rank 0: its best query (c at rank 1 for "wombat") is kept, not the first one
    assert out["querygen"][1] == ["wombat"] and out["querygen_kind"][1] == ["k2"]
    assert out["querygen"][2] == ["romeo tango"]
    # a looser cutoff keeps c's "wombat"; keep_at_least=0 lets a document lose everything
    loose = TeacherFilter(bm25, rank_cutoff=2, keep_at_least=0, verbose=False)(frame)
    assert loose["querygen"][1] == ["wombat"]
    none = TeacherFilter(bm25, rank_cutoff=1, keep_at_least=0, verbose=False)(frame.iloc[1:2])
    assert none["querygen"].tolist() == [[]]
    assert frame["querygen"][0] == ["quokka", "zyzzogeton alpha", "What's (zyzzogeton)?!", "wombat"]  # input untouched


def test_teacher_filter_composes_with_the_generator(tmp_path):
    from pt_genret.baselines import bm25_pisa

    docs = pd.DataFrame(make_docs(per_topic=4))  # topical words shared by several documents
    bm25 = bm25_pisa(docs.to_dict("records"), tmp_path / "pisa", num_results=10)
    generated = ExtractiveQueryGenerator(20, record_kinds=True)(docs)
    pipeline = ExtractiveQueryGenerator(20, record_kinds=True) >> TeacherFilter(bm25, rank_cutoff=1, verbose=False)
    out = pipeline(docs)
    assert out["querygen"].map(len).ge(1).all()
    assert out["querygen"].map(len).sum() < generated["querygen"].map(len).sum()  # something was dropped
    for qs, kinds, all_qs, all_kinds in zip(out["querygen"], out["querygen_kind"], generated["querygen"],
                                            generated["querygen_kind"]):
        assert qs == [q for q in all_qs if q in qs]  # a subsequence, in the generated order
        assert kinds == [all_kinds[all_qs.index(q)] for q in qs]
    # each kept query (beyond the one a document always keeps) has its document at rank 0
    for docno, qs in zip(out["docno"], out["querygen"]):
        if len(qs) > 1:
            res = bm25(pd.DataFrame({"qid": [str(i) for i in range(len(qs))],
                                     "query": [sanitise_query(q) for q in qs]}))
            top = res[res["rank"] == 0].set_index("qid")["docno"]
            assert all(top.get(str(i)) == docno for i in range(len(qs)))


class _CountingTeacher(pt.Transformer):
    """Ranks documents by how many query words they contain (score only, no rank); counts queries."""

    def __init__(self, docs):
        self.docs = {d["docno"]: set(d["text"].split()) for d in docs}
        self.seen: list[str] = []

    def transform(self, topics):
        assert "?" not in "".join(topics["query"])  # sanitised
        self.seen.extend(topics["query"])
        rows = [(qid, q, d, float(len(set(q.split()) & words)))
                for qid, q in zip(topics["qid"], topics["query"]) for d, words in self.docs.items()
                if set(q.split()) & words]
        return pd.DataFrame(rows, columns=["qid", "query", "docno", "score"])


def test_teacher_filter_batches_and_runs_each_query_once():
    docs = [{"docno": "p", "text": "red green blue"}, {"docno": "q", "text": "red yellow"}]
    teacher = _CountingTeacher(docs)
    frame = pd.DataFrame({"docno": ["p", "q"], "querygen": [["red green", "yellow?", "red"], ["red", "yellow"]]})
    out = TeacherFilter(teacher, rank_cutoff=1, batch_size=1, verbose=False)(frame)
    assert sorted(teacher.seen) == ["red", "red green", "yellow"]  # "red" and "yellow?"/"yellow" run once
    assert out["querygen"][0][0] == "red green" and "yellow?" not in out["querygen"][0]
    # "red" ties p and q; ranks come from scores, so exactly one of them keeps it
    assert sum("red" in qs for qs in out["querygen"]) == 1
    assert "yellow" in out["querygen"][1]
    assert sanitise_query("What's (this)?  e-mail") == "What s this e mail"
    with pytest.raises(ValueError):
        TeacherFilter(teacher, rank_cutoff=0)
