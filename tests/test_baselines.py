"""Tests for pt_genret.baselines (small in-code data, no network)."""

import pandas as pd
import pyterrier as pt
import pyterrier_alpha as pta
import pytest

from conftest import filler_docs
from pt_genret.baselines import bm25_pisa, default_dense_model, dense_retriever, rrf


def _bm25_corpus():
    docs = filler_docs()
    docs[17]['text'] += ' zyzzogeton'  # exact query term, only in the body of d17
    docs[5]['title'] = 'quokka habitat'  # term only present in the title of d5
    return docs


def test_bm25_pisa(tmp_path):
    docs = _bm25_corpus()
    path = tmp_path / 'pisa'
    bm25 = bm25_pisa(docs, path, num_results=10)
    assert isinstance(bm25, pt.Transformer)
    topics = pd.DataFrame({'qid': ['1', '2'], 'query': ['zyzzogeton', 'quokka']})
    res = bm25(topics)
    pta.validate.result_frame(res, extra_columns=['score', 'rank'])
    assert set(res['docno']) <= {d['docno'] for d in docs}
    top = res.sort_values(['qid', 'rank']).groupby('qid')['docno'].first()
    assert top['1'] == 'd17'
    assert top['2'] == 'd5'  # title is indexed together with text
    assert res.groupby('qid').size().max() <= 10

    # the existing index is reused (no corpus needed)
    again = bm25_pisa(None, path, num_results=10)(topics)
    assert list(again['docno']) == list(res['docno'])


DENSE_DOCS = [
    {'docno': 'cat', 'title': 'Pets', 'text': 'The cat is sleeping on the mat in the living room.'},
    {'docno': 'stocks', 'title': 'Finance', 'text': 'Stock markets fell sharply after the interest rate announcement.'},
    {'docno': 'bread', 'title': 'Baking', 'text': 'Mix flour, water, salt and yeast, knead the dough and bake it in a hot oven.'},
    {'docno': 'football', 'title': 'Sport', 'text': 'The striker scored twice in the second half of the match.'},
    {'docno': 'rain', 'title': 'Weather', 'text': 'Heavy showers and thunderstorms are expected over the weekend.'},
    {'docno': 'python', 'title': 'Programming', 'text': 'Lists and dictionaries are built-in container types in Python.'},
]


def test_dense_retriever(tmp_path):
    model = default_dense_model()
    path = tmp_path / 'dense.flex'
    dense = dense_retriever(DENSE_DOCS, path, model=model, num_results=3, batch_size=4)
    assert isinstance(dense, pt.Transformer)
    # paraphrases with (almost) no lexical overlap with the relevant document
    topics = pd.DataFrame({'qid': ['q1', 'q2', 'q3'], 'query': [
        'a kitten napping on a rug',
        'how do I make a homemade loaf',
        'will it be wet and stormy on Saturday',
    ]})
    res = dense(topics)
    pta.validate.result_frame(res, extra_columns=['score', 'rank'])
    assert 'query_vec' not in res.columns
    assert set(res['docno']) <= {d['docno'] for d in DENSE_DOCS}
    assert res.groupby('qid').size().max() == 3
    top = res.sort_values(['qid', 'rank']).groupby('qid')['docno'].first()
    assert top.to_dict() == {'q1': 'cat', 'q2': 'bread', 'q3': 'rain'}

    # reuse of the existing index
    again = dense_retriever(None, path, model=model, num_results=3)(topics)
    assert list(again['docno']) == list(res['docno'])


# --- fusion pitfall -------------------------------------------------------------------

RUNS = {
    'A': {'1': ['d2', 'd1', 'd3'], '2': ['e1', 'e2']},
    'B': {'1': ['d4', 'd1', 'd3'], '2': ['e3', 'e2']},
}


def _fixed_retriever(name):
    """A retriever returning a fixed ranking per qid, keeping the (possibly rewritten) input query."""
    def _retrieve(topics):
        rows = []
        for qid, query in zip(topics['qid'], topics['query']):
            for rank, docno in enumerate(RUNS[name][qid]):
                rows.append({'qid': qid, 'query': query, 'docno': docno, 'score': 10. - rank, 'rank': rank})
        return pd.DataFrame(rows, columns=['qid', 'query', 'docno', 'score', 'rank'])
    return pt.apply.generic(_retrieve)


def _systems():
    sys_a = _fixed_retriever('A')
    # B cleans/rewrites the query (as e.g. query cleaning or an instruction prefix would)
    sys_b = pt.apply.query(lambda r: 'instruct: ' + r['query'].lower()) >> _fixed_retriever('B')
    return sys_a, sys_b


TOPICS = pd.DataFrame({'qid': ['1', '2'], 'query': ['Some Query', 'Other Query']})


def _expected(k):
    exp = {}
    for qid in ['1', '2']:
        scores = {}
        for run in RUNS.values():
            for r, docno in enumerate(run[qid]):  # pyterrier ranks are 0-based
                scores[docno] = scores.get(docno, 0.) + 1. / (k + r)
        exp[qid] = scores
    return exp


def test_plain_rrfusion_loses_overlap():
    """Documents the pitfall: RRFusion joins on the query text, so overlaps are lost."""
    sys_a, sys_b = _systems()
    res = pta.RRFusion(sys_a, sys_b, k=60)(TOPICS)
    q1 = res[res['qid'] == '1']
    # d1 and d3 were retrieved by both systems but appear twice, each with one contribution
    assert q1['docno'].duplicated().any()
    assert list(q1.loc[q1['docno'] == 'd1', 'score']) == pytest.approx([1 / 61, 1 / 61])
    # ... so the single-system top documents d2/d4 outrank d1, which both systems retrieved
    assert set(q1.sort_values('rank')['docno'].iloc[:2]) == {'d2', 'd4'}


@pytest.mark.parametrize('k', [60, 10])
def test_rrf_sums_over_rewritten_query(k):
    sys_a, sys_b = _systems()
    fused = rrf(sys_a, sys_b, k=k)
    assert isinstance(fused, pt.Transformer)
    res = fused(TOPICS)
    pta.validate.result_frame(res, extra_columns=['score', 'rank'])
    assert not res.duplicated(['qid', 'docno']).any()
    # the original query is kept
    assert dict(zip(res['qid'], res['query'])) == {'1': 'Some Query', '2': 'Other Query'}
    exp = _expected(k)
    for qid, group in res.groupby('qid'):
        got = dict(zip(group['docno'], group['score']))
        assert got == pytest.approx(exp[qid], rel=1e-12)
        ordered = group.sort_values('rank')
        assert list(ordered['score']) == sorted(ordered['score'], reverse=True)
    q1 = res[res['qid'] == '1'].set_index('docno')['score']
    assert q1['d1'] == pytest.approx(1 / (k + 1) + 1 / (k + 1))
    assert q1['d3'] == pytest.approx(1 / (k + 2) + 1 / (k + 2))
    assert q1['d2'] == pytest.approx(1 / (k + 0))
    assert q1.idxmax() == 'd1'


def test_rrf_cutoff_and_experiment():
    sys_a, sys_b = _systems()
    res = rrf(sys_a, sys_b, num_results=2)(TOPICS)
    assert res.groupby('qid').size().to_dict() == {'1': 2, '2': 2}
    assert rrf(sys_a, sys_b, num_results=None)(TOPICS).groupby('qid').size().to_dict() == {'1': 4, '2': 3}

    qrels = pd.DataFrame({'qid': ['1', '2'], 'docno': ['d1', 'e2'], 'label': [1, 1]})
    exp = pt.Experiment([rrf(sys_a, sys_b), pta.RRFusion(sys_a, sys_b)], TOPICS, qrels,
                        eval_metrics=['recip_rank'], names=['rrf', 'plain'])
    rr = dict(zip(exp['name'], exp['recip_rank']))
    assert rr['rrf'] == pytest.approx(1.0)  # d1 and e2 are top-1 once both contributions are summed
    assert rr['plain'] < 1.0
