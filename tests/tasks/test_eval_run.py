"""`eval-run`'s scoring: accuracy and per-label precision, recall and F1."""

from __future__ import annotations

import pytest

from tasks.builtin.eval_run import score

CASES = [
    {"id": "1", "expected": "cat", "predicted": "cat"},
    {"id": "2", "expected": "cat", "predicted": "dog"},
    {"id": "3", "expected": "dog", "predicted": "dog"},
    {"id": "4", "expected": "dog", "predicted": "dog"},
    {"id": "5", "expected": "bird", "predicted": "cat"},
    {"id": "6", "expected": "cat", "predicted": "cat"},
]


def test_score_of_a_hand_computed_example():
    report = score(CASES)

    assert report["cases"] == 6
    assert report["accuracy"] == pytest.approx(4 / 6, abs=1e-6)
    assert report["failed_cases"] == ["2", "5"]
    # cat: 2 of 3 predicted right, 2 of 3 found.
    assert report["labels"]["cat"] == {"precision": pytest.approx(2 / 3, abs=1e-6),
                                       "recall": pytest.approx(2 / 3, abs=1e-6),
                                       "f1": pytest.approx(2 / 3, abs=1e-6), "support": 3}
    # dog: 2 of 3 predicted right, both found; F1 = 2·(2/3)·1 / (2/3 + 1) = 0.8.
    assert report["labels"]["dog"] == {"precision": pytest.approx(2 / 3, abs=1e-6),
                                       "recall": 1.0, "f1": pytest.approx(0.8), "support": 2}
    # bird: never predicted, never found.
    assert report["labels"]["bird"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                        "support": 1}
    assert report["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 0) / 3, abs=1e-6)


def test_score_of_a_perfect_run():
    cases = [{"id": str(i), "expected": label, "predicted": label}
             for i, label in enumerate(["a", "b", "a"])]

    report = score(cases)

    assert report["accuracy"] == 1.0
    assert report["macro_f1"] == 1.0
    assert report["failed_cases"] == []
    assert report["labels"]["a"]["support"] == 2


def test_label_only_predicted_has_zero_support_and_zero_recall():
    report = score([{"id": "x", "expected": "a", "predicted": "b"}])

    assert report["accuracy"] == 0.0
    assert report["labels"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert report["labels"]["a"]["support"] == 1
