"""VQA² quality scoring (`vqa2_scoring`): a probability-weighted score per video from one forward pass,
correlated with MOS per dataset.

Data: a labels folder with one `<dataset>.json` per dataset (LSVQ test / 1080p, KoNViD-1k, LIVE-VQC,
YouTube-UGC, LIVE-YT-Gaming, or the synthetic ones), each a list of `{"video": path, "mos": number}`; video
paths are relative to the labels folder's parent (or absolute). MOS scales differ per dataset.

Asking: the adapter method `score_levels` (`evqa.baselines.level_scoring`): no text is generated. Local
transformers adapters read the five level words' next-token logits; the gpt adapter reads the first reply
token's OpenAI `top_logprobs`; an adapter with neither (e.g. gemini) is refused for this benchmark with a
one-line error, never scored some other way.
Metrics per dataset (`evqa.metrics.correlation.quality_correlations`): SRCC, KRCC, PLCC (raw, what VQA²
reports), PLCC and RMSE after the 4-parameter logistic fit; the headline values are their means over the
datasets. Both protocols score the same way (VQA² has no reply parsing to differ in).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evqa.benchmarks.base import Benchmark, DataFile, ReportColumn, Scores
from evqa.benchmarks.registry import register_benchmark
from evqa.benchmarks.task import BenchmarkTask, task_kwargs
from evqa.errors import ConfigError, DataError

METRIC_KEYS = ("SRCC", "PLCC", "PLCC_fit", "KRCC", "RMSE_fit")


@dataclass(frozen=True)
class QualityItem:
    """One video with its MOS (the dataset's own scale)."""

    entry_id: str
    dataset: str
    video: str
    mos: float

    @property
    def video_id(self) -> str:
        return Path(self.video).stem


def load_labels(labels_dir: str | Path) -> list[QualityItem]:
    """Every `<dataset>.json` of `labels_dir` (sorted by name), entries in file order; ids `<dataset>:<i>`."""
    labels_dir = Path(labels_dir)
    files = sorted(labels_dir.glob("*.json"))
    if not files:
        raise DataError("no <dataset>.json label lists in the labels folder", path=labels_dir)
    items = []
    for path in files:
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise DataError(f"cannot read the label list: {err}", path=path) from err
        if not isinstance(rows, list):
            raise DataError("a label list must be a JSON list of {video, mos}", path=path)
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or "video" not in row or "mos" not in row:
                raise DataError(f"entry {i} needs 'video' and 'mos'", path=path, field="mos")
            try:
                mos = float(row["mos"])
            except (TypeError, ValueError):
                raise DataError(
                    f"entry {i}: mos {row['mos']!r} is not a number", path=path, field="mos"
                ) from None
            if not math.isfinite(mos):
                raise DataError(f"entry {i}: mos is not finite", path=path, field="mos")
            items.append(QualityItem(f"{path.stem}:{i}", path.stem, str(row["video"]), mos))
    return items


class QualityTask(BenchmarkTask):
    """One `score_levels` call per video: the quality question on the sampled frames."""

    def __init__(self, records, *, root: Path, **kw):
        super().__init__(records, **kw)
        self.root = root

    def video_of(self, record: QualityItem) -> str:
        path = Path(record.video)
        return str(path if path.is_absolute() else self.root / path)

    def prompt(self, record: QualityItem) -> str:
        from evqa.prompts import quality_question_prompt

        return quality_question_prompt()

    def read_reply(self, record: QualityItem, reply) -> dict:
        meta = getattr(reply, "meta", {}) or {}
        return {
            "parsed_response": {
                "score": meta.get("quality_score"),
                "level_probs": meta.get("level_probs"),
                "level_tokens": meta.get("level_tokens"),
            },
            "raw_response": getattr(reply, "text", None),
        }

    def record_fields(self, record: QualityItem) -> dict:
        return {"video_id": record.video_id, "dataset": record.dataset}


def _predicted_score(pred: Mapping | None) -> float | None:
    if not pred or pred.get("error"):
        return None
    parsed = pred.get("parsed_response") or {}
    score = parsed.get("score") if isinstance(parsed, dict) else None
    return float(score) if isinstance(score, int | float) and math.isfinite(score) else None


def score_quality(items: Sequence[QualityItem], predictions: Mapping[str, dict]) -> Scores:
    """Correlations per dataset over the videos with a score; missing / failed ones are counted and left
    out (a correlation has no 'wrong' value to give them)."""
    from evqa.metrics.correlation import quality_correlations

    counts = {"n": len(items), "scored": 0, "unparsable": 0, "failed": 0, "missing": 0, "judge_error": 0}
    by_dataset: dict[str, tuple[list[float], list[float]]] = {}
    per_item = {}
    for item in items:
        pred = predictions.get(item.entry_id)
        score = _predicted_score(pred)
        if score is None:
            key = "missing" if pred is None else ("failed" if pred.get("error") else "unparsable")
            counts[key] += 1
            continue
        counts["scored"] += 1
        by_dataset.setdefault(item.dataset, ([], []))[0].append(score)
        by_dataset[item.dataset][1].append(item.mos)
        per_item[item.entry_id] = {"dataset": item.dataset, "score": score, "mos": item.mos}
    breakdown = {}
    for name, (pred, mos) in by_dataset.items():
        result = quality_correlations(pred, mos)
        breakdown[name] = {k: result[k] for k in METRIC_KEYS} | {"n": result["n"], "fit": result["fit"]}
    metrics = {
        k: float(np.mean([b[k] for b in breakdown.values()])) if breakdown else float("nan")
        for k in METRIC_KEYS
    }
    return Scores(metrics=metrics, breakdowns={"dataset": breakdown}, counts=counts, per_item=per_item)


@register_benchmark("vqa2_scoring")
class Vqa2Scoring(Benchmark):
    description = "VQA² video quality scoring: level-word probabilities -> score; SRCC/PLCC/KRCC per dataset"
    data_files = (
        DataFile(
            "labels_dir",
            ("--labels-dir", "--labels_dir"),
            ("vqa2/labels", "labels"),
            "VQA² labels folder (one <dataset>.json list of {video, mos} per dataset)",
            kind="dir",
        ),
    )
    columns = (
        ReportColumn("SRCC", "SRCC", unit="fraction", digits=4),
        ReportColumn("PLCC", "PLCC", unit="fraction", digits=4),
        ReportColumn("PLCC_fit", "PLCC (fit)", unit="fraction", digits=4),
        ReportColumn("KRCC", "KRCC", unit="fraction", digits=4),
        ReportColumn("RMSE_fit", "RMSE (fit)", higher_is_better=False, unit="score", digits=4),
    )
    breakdown_keys = ("dataset",)
    has_synthetic = True
    ask_method = "score_levels"

    def load(self, files):
        return load_labels(files["labels_dir"])

    def synthesize(self, out_dir, *, seed: int = 0, num_items: int | None = None) -> dict:
        from evqa.benchmarks.vqa2_synth import write_synthetic

        return {"labels_dir": write_synthetic(Path(out_dir) / "vqa2", seed=seed, num_items=num_items)}

    def build_task(self, records, files, *, sampling, options, adapter_cls, max_new_tokens=None):
        if not callable(getattr(adapter_cls, self.ask_method, None)):
            name = getattr(adapter_cls, "name", adapter_cls.__name__)
            raise ConfigError(
                f"the {name} adapter is unsupported for {self.name}: it exposes neither next-token logits nor "
                "log-probabilities (supported: the local transformers adapters and gpt)",
                field="--model",
            )
        return QualityTask(
            records,
            root=Path(files["labels_dir"]).parent,
            video_dir=None,
            **task_kwargs(adapter_cls, sampling, max_new_tokens),
        )

    def score(self, records, predictions, *, protocol="evqa", options=None):
        self.check_protocol(protocol)
        return score_quality(records, predictions)
