"""compute_metrics' hand-written scores against scikit-learn's, ms per call (median of rounds).

What this decides: fer_core.training.evaluate._compute_metrics and report.topk_accuracy keep
their own numpy code because scikit-learn's confusion_matrix + precision_recall_fscore_support +
top_k_accuracy_score (the same numbers, checked in tests/test_evaluate.py and test_report.py)
are several times slower, and the Model page scores every model on every rerun.

    OMP_NUM_THREADS=1 python bench/bench_metrics.py
"""
from __future__ import annotations

import statistics
import time

import numpy as np
from sklearn.metrics import (
    confusion_matrix,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)

from fer_core.training.evaluate import _compute_metrics
from fer_core.training.report import topk_accuracy


def _hand(labels, p):
    k = p.shape[1]
    pred = p.argmax(1)
    conf = np.zeros((k, k), np.int64)
    np.add.at(conf, (labels, pred), 1)
    tp, support, predicted = np.diag(conf).astype(np.float64), conf.sum(1), conf.sum(0)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0)
    return (np.argpartition(-p, 2, axis=1)[:, :3] == labels[:, None]).any(1).mean()


def _sklearn(labels, p):
    cls = np.arange(p.shape[1])
    pred = p.argmax(1)
    confusion_matrix(labels, pred, labels=cls)
    precision_recall_fscore_support(labels, pred, labels=cls, zero_division=0)
    return top_k_accuracy_score(labels, p, k=3, labels=cls)


def _topk_sklearn(labels, p):
    k = p.shape[1]
    return [top_k_accuracy_score(labels, p, k=j, labels=np.arange(k)) if j < k else 1.0 for j in range(1, k + 1)]


def _ms(f, *args, rounds=7, reps=10):
    f(*args)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            f(*args)
        times.append((time.perf_counter() - t) / reps * 1e3)
    return statistics.median(times)


def main() -> None:
    rng = np.random.default_rng(0)
    for n in (3589, 28709):  # PrivateTest, Training
        p = rng.dirichlet(np.ones(7) * 0.5, n)
        y = rng.integers(0, 7, n)
        for name, f in (("compute_metrics (all of it)", _compute_metrics),
                        ("confusion+P/R/F1+top-3, numpy", _hand), ("confusion+P/R/F1+top-3, sklearn", _sklearn),
                        ("top-k curve, numpy", topk_accuracy), ("top-k curve, sklearn", _topk_sklearn)):
            print(f"n={n:6d}  {name:34s} {_ms(f, y, p):7.2f} ms")


if __name__ == "__main__":
    main()
