"""The ST-Evidence MCQ scorer: accuracy and coverage for qa, time_evidence and spatial_evidence.

Ground truth comes from the MCQ data files only (`evqa.data.st_evidence.load_mcq_benchmark`); `gt_*`
fields inside a prediction file are ignored. Predicted letters go through `extract_answer`, so 'B',
'(B)' or 'Answer: B' all count; a prediction with `error` set is not a valid answer.
"""

from __future__ import annotations

from evqa.data.st_evidence import McqEntry, load_mcq_benchmark
from evqa.errors import PredictionError
from evqa.eval.answers import extract_answer
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


def format_mcq_table(results: dict) -> str:
    """Three task rows (accuracy, coverage, correct/total) and the overall micro average."""
    lines = [f"{'task':<18}{'accuracy':>10}{'coverage':>10}{'correct':>10}{'total':>8}", "-" * 56]
    for label, key in (("qa", "qa"), ("time_evidence", "temporal"), ("spatial_evidence", "spatial")):
        s = results[key]
        lines.append(
            f"{label:<18}{s['accuracy']:>10.2f}{s['coverage']:>10.1f}{s['correct']:>10}{s['total']:>8}"
        )
    lines.append(f"{'overall':<18}{results['overall_accuracy']:>10.2f}")
    return "\n".join(lines)
