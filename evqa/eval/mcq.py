"""The ST-Evidence MCQ scorer: accuracy and coverage for qa, time_evidence and spatial_evidence.

evqa (default): ground truth comes from the MCQ data files only (`evqa.data.st_evidence.load_mcq_benchmark`);
`gt_*` fields inside a prediction file are ignored. Predicted letters go through `extract_answer`, so 'B',
'(B)' or 'Answer: B' all count; a prediction with `error` set is not a valid answer. A task whose GT file
(distractors / mask options) is not given is reported as not scored (`scored: false`), never as 0.00.
upstream (`evaluate_mcq_upstream`): the published evaluator — totals over the entries present in the file,
GT from each record's `gt_answer` / `gt_evidence_t` / `gt_evidence_s`, exact comparison, `''` / `'None'` /
null = missing; a single-task file whose answer sits under `answer` is scored as the qa task.
"""

from __future__ import annotations

from evqa.answers import extract_answer
from evqa.data.st_evidence import McqEntry, load_mcq_benchmark
from evqa.errors import PredictionError
from evqa.eval.predictions import load_predictions

# task name -> (prediction key, McqEntry attribute with the GT letter, number of options)
TASKS = {
    "qa": ("answer", "answer", 5),
    "time_evidence": ("evidence_t", "time_answer", 4),
    "spatial_evidence": ("evidence_s", "mask_answer", 4),
}


def _num_options(entry: McqEntry, task: str) -> int:
    if task == "qa":
        return len(entry.options)
    options = entry.time_options if task == "time_evidence" else entry.mask_options
    return len(options) if options else TASKS[task][2]


def _task_scores(entries: list[McqEntry], preds: dict, task: str) -> dict:
    pred_key, gt_attr, _ = TASKS[task]
    correct = total = valid = 0
    wrong, unparsable, right = [], [], []
    for entry in entries:
        gt = getattr(entry, gt_attr)
        if gt is None:
            continue
        total += 1
        record = preds.get(entry.entry_id)
        if not isinstance(record, dict) or record.get("error"):
            continue
        parsed = extract_answer(record.get(pred_key), num_options=_num_options(entry, task))
        if parsed.status != "ok":
            if parsed.status == "unparsable":
                unparsable.append(entry.entry_id)
            continue
        valid += 1
        if parsed.letter == gt:
            correct += 1
            right.append(entry.entry_id)
        else:
            wrong.append(entry.entry_id)
    return {
        "accuracy": 100 * correct / total if total else 0.0,
        "correct": correct,
        "total": total,
        "valid": valid,
        "coverage": 100 * valid / total if total else 0.0,
        "unparsable": unparsable,
        "incorrect": wrong,
        "correct_entries": right,
    }


def evaluate_mcq(predictions, *, data_file, distractors_file=None, mask_file=None) -> dict:
    """Score MCQ predictions ({entry_id: {answer, evidence_t, evidence_s, error}} or a file of them).

    Returns {'total_entries', 'qa', 'temporal', 'spatial' (each accuracy/correct/total/valid/coverage, %),
    'overall_accuracy' (micro average over the three tasks), 'missing_predictions', 'extra_predictions'}.
    """
    entries = load_mcq_benchmark(data_file, distractors_file, mask_file)
    preds = predictions if isinstance(predictions, dict) else load_predictions(predictions)
    if entries and preds and not any(e.entry_id in preds for e in entries):
        where = None if isinstance(predictions, dict) else predictions
        raise PredictionError(f"no prediction matches an entry_id of {data_file}", path=where)
    scores = {task: _task_scores(entries, preds, task) for task in TASKS}
    for task, given in (("time_evidence", distractors_file), ("spatial_evidence", mask_file)):
        if not given:
            scores[task].update(scored=False, note="not scored (no GT file)")
    total = sum(s["total"] for s in scores.values())
    correct = sum(s["correct"] for s in scores.values())
    ids = {e.entry_id for e in entries}
    return {
        "total_entries": len(entries),
        "qa": scores["qa"],
        "temporal": scores["time_evidence"],
        "spatial": scores["spatial_evidence"],
        "overall_accuracy": 100 * correct / total if total else 0.0,
        "missing_predictions": sorted(ids - set(preds)),
        "extra_predictions": len(set(preds) - ids),
    }


_UPSTREAM_KEYS = {"qa": ("answer", "gt_answer"), "temporal": ("evidence_t", "gt_evidence_t"),
                  "spatial": ("evidence_s", "gt_evidence_s")}  # fmt: skip


def _missing(value) -> bool:
    return value is None or value == "" or value == "None"


def evaluate_mcq_upstream(predictions) -> dict:
    """The published MCQ evaluator's numbers for a prediction file (or {entry_id: record} dict)."""
    preds = predictions if isinstance(predictions, dict) else load_predictions(predictions)
    out: dict = {"protocol": "upstream", "total_entries": len(preds)}
    for name, (pred_key, gt_key) in _UPSTREAM_KEYS.items():
        correct = total = valid = 0
        for record in preds.values():
            record = record if isinstance(record, dict) else {}
            gt, pred = record.get(gt_key), record.get(pred_key)
            if _missing(gt):
                continue
            total += 1
            if _missing(pred):
                continue
            valid += 1
            correct += pred == gt
        out[name] = {"accuracy": correct / total * 100 if total else 0.0, "correct": correct, "total": total,
                     "valid": valid, "coverage": valid / total * 100 if total else 0.0}  # fmt: skip
    total = sum(out[k]["total"] for k in _UPSTREAM_KEYS)
    out["overall_accuracy"] = sum(out[k]["correct"] for k in _UPSTREAM_KEYS) / total * 100 if total else 0.0
    return out


def format_mcq_table(results: dict) -> str:
    """Three task rows (accuracy, coverage, correct/total) and the overall micro average."""
    lines = [f"{'task':<18}{'accuracy':>10}{'coverage':>10}{'correct':>10}{'total':>8}", "-" * 56]
    for label, key in (("qa", "qa"), ("time_evidence", "temporal"), ("spatial_evidence", "spatial")):
        s = results[key]
        if s.get("scored") is False:
            lines.append(f"{label:<18}{s['note']:>38}")
            continue
        lines.append(
            f"{label:<18}{s['accuracy']:>10.2f}{s['coverage']:>10.1f}{s['correct']:>10}{s['total']:>8}"
        )
    lines.append(f"{'overall':<18}{results['overall_accuracy']:>10.2f}")
    return "\n".join(lines)
