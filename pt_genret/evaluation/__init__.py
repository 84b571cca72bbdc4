"""Evaluation protocols beyond a single static ``pt.Experiment``.

* :func:`run_dynamic` -- the dynamic-corpus protocol: train on D0, add D1..Dn with each GR update
  method (and re-index BM25 / dense), score initial and new documents after every step;
* :func:`write_report` -- the seed talk's tables (F_n, GA_n) as CSV and Markdown, and the curves as PNG;
* :func:`forgetting_interval`, :func:`generalization_interval`, :func:`generalization_difference` --
  95% intervals over queries of F_n, GA_n and the difference of two methods' GA_n.
"""
from pt_genret.evaluation.intervals import (Interval, forgetting_interval, generalization_difference,
                                            generalization_interval)
from pt_genret.evaluation.protocol import DEFAULT_MEASURES, DynamicResult, run_dynamic, score_step
from pt_genret.evaluation.report import (forgetting, generalization, initial_table, new_table, summary_table,
                                         write_report)
from pt_genret.evaluation.split import doc_steps, mixed_queries, query_groups, split_corpus, subsample
from pt_genret.evaluation.systems import BASELINES, update_methods

__all__ = ["DEFAULT_MEASURES", "DynamicResult", "run_dynamic", "score_step", "forgetting", "generalization",
           "initial_table", "new_table", "summary_table", "write_report", "doc_steps", "mixed_queries",
           "query_groups", "split_corpus", "subsample", "BASELINES", "update_methods", "Interval",
           "forgetting_interval", "generalization_interval", "generalization_difference"]
