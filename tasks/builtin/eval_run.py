"""`eval-run`: score predictions against expected labels.

Payload: `{"cases": [{"id", "expected", "predicted"}], "threshold": 0..1}`. Result:
accuracy, per-label precision/recall/F1/support, macro F1 and the failing case ids. A
run whose accuracy is under `threshold` fails (not retried), like a failing test suite.
"""

from __future__ import annotations

from collections import Counter

from marshmallow import fields, validate

from config.catalog import JobType, PayloadSchema
from tasks.errors import JobError

BATCH = 1000


class EvalCase(PayloadSchema):
    id = fields.String(required=True)
    expected = fields.String(required=True)
    predicted = fields.String(required=True)


class EvalRunPayload(PayloadSchema):
    cases = fields.List(
        fields.Nested(EvalCase), required=True, validate=validate.Length(min=1, max=100_000)
    )
    threshold = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=1))


JOB_TYPE = JobType(
    name="eval-run",
    description="Scores predictions against expected labels: accuracy and per-label "
    "precision, recall and F1; fails when accuracy is under `threshold`.",
    payload_schema=EvalRunPayload,
    handler=f"{__name__}:run",
)


def score(cases: list[dict]) -> dict:
    """Accuracy and per-label precision, recall and F1 of `cases`."""
    true_pos, predicted, expected = Counter(), Counter(), Counter()
    wrong = []
    for case in cases:
        expected[case["expected"]] += 1
        predicted[case["predicted"]] += 1
        if case["expected"] == case["predicted"]:
            true_pos[case["expected"]] += 1
        else:
            wrong.append(case["id"])
    labels = {}
    for label in sorted(set(expected) | set(predicted)):
        precision = true_pos[label] / predicted[label] if predicted[label] else 0.0
        recall = true_pos[label] / expected[label] if expected[label] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        labels[label] = {"precision": round(precision, 6), "recall": round(recall, 6),
                         "f1": round(f1, 6), "support": expected[label]}
    accuracy = sum(true_pos.values()) / len(cases)
    macro_f1 = sum(v["f1"] for v in labels.values()) / len(labels)
    return {"cases": len(cases), "accuracy": round(accuracy, 6),
            "macro_f1": round(macro_f1, 6), "labels": labels, "failed_cases": wrong[:1000]}


def run(ctx, payload: dict) -> dict:
    """Score the cases batch by batch, logging each batch; fail under the threshold."""
    cases = payload["cases"]
    ctx.log("evaluation started", event="eval_started", cases=len(cases))
    for start in range(0, len(cases), BATCH):
        batch = cases[start:start + BATCH]
        ctx.log("batch scored", event="eval_batch", first=start, size=len(batch),
                correct=sum(c["expected"] == c["predicted"] for c in batch))
        ctx.progress((start + len(batch)) / len(cases), f"scored {start + len(batch)} cases")
    report = score(cases)
    ctx.log("evaluation finished", event="eval_finished", accuracy=report["accuracy"],
            macro_f1=report["macro_f1"])
    if report["accuracy"] < payload["threshold"]:
        raise JobError(f"accuracy {report['accuracy']} under threshold {payload['threshold']}")
    return report
