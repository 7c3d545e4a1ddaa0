"""ST-Evidence gen and MCQ as registry entries, on the existing loaders, tasks and scorers (unchanged
behaviour: `evqa eval` / `evqa eval-mcq` / `evqa infer --task ...` produce the same files as before).

Files are found from `--data-dir` in any of three layouts: the synthetic root (`evqa synth`), the released
benchmark (`data/st_evidence/{st_evidence_gen,st_evidence_mcq}/`), or one of its sub-folders.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evqa.benchmarks.base import Benchmark, DataFile, ReportColumn, Scores
from evqa.benchmarks.registry import register_benchmark
from evqa.benchmarks.task import task_kwargs

GEN_FILES = (
    DataFile(
        "gt_file",
        ("--gt_file", "--gt-file"),
        ("st_evidence_gen.csv", "st_evidence_gen/st_evidence_gen.csv", "benchmark/st_evidence_gen.csv"),
        "the generative benchmark CSV (st_evidence_gen.csv)",
    ),
    DataFile(
        "video_dir",
        ("--video_dir", "--video-dir"),
        (
            "videos_6fps",
            "videos",
            "st_evidence_gen/videos_6fps",
            "st_evidence_gen/videos",
            "benchmark/videos",
        ),
        "the 6-fps video folder the CSV's video paths are relative to (default: videos/ beside the CSV)",
        kind="dir",
        required=False,
    ),
    DataFile(
        "gt_mask_dir",
        ("--gt_mask_dir", "--gt-mask-dir"),
        ("masks_rle", "masks", "gt_masks", "st_evidence_gen/masks", "benchmark/masks_rle", "benchmark/masks"),
        "the GT mask folder (<entry_id>/<frame>.png or <entry_id>.json)",
        kind="dir",
        required=False,
    ),
)

MCQ_FILES = (
    DataFile(
        "data_file",
        ("--data_file", "--data-file"),
        (
            "st_evidence_mcq.csv",
            "st_evidence_mcq/st_evidence_mcq.csv",
            "mcq/st_evidence_mcq.csv",
            "benchmark/mcq/st_evidence_mcq.csv",
        ),  # fmt: skip
        "the MCQ CSV (st_evidence_mcq.csv)",
    ),
    DataFile(
        "distractors_file",
        ("--distractors_file", "--distractors-file"),
        (
            "temp_options.json",
            "st_evidence_mcq/temp_options.json",
            "mcq/temp_options.json",
            "benchmark/mcq/temp_options.json",
        ),  # fmt: skip
        "the time-evidence options (temp_options.json)",
        required=False,
    ),
    DataFile(
        "mask_file",
        ("--mask_file", "--mask-file"),
        (
            "mask_options.json",
            "st_evidence_mcq/mask_options.json",
            "mcq/mask_options.json",
            "benchmark/mcq/mask_options.json",
        ),  # fmt: skip
        "the spatial-evidence options (mask_options.json)",
        required=False,
    ),
    DataFile(
        "video_dir",
        ("--video_dir", "--video-dir"),
        (
            "videos_6fps",
            "videos",
            "st_evidence_gen/videos_6fps",
            "benchmark/videos",
            "../videos",
            "../st_evidence_gen/videos_6fps",
        ),  # fmt: skip
        "the 6-fps video folder of the MCQ's videos",
        kind="dir",
        required=False,
    ),
)

GEN_COLUMNS = (
    ReportColumn("accuracy", "Acc", digits=1),
    ReportColumn("mIoU", "mIoU", digits=1),
    ReportColumn("mIoP", "mIoP", digits=1),
    ReportColumn("t_mean", "t-mean", digits=1),
    ReportColumn("J", "J", digits=1),
    ReportColumn("F", "F", digits=1),
    ReportColumn("J&F", "J&F", digits=1),
)
TEMPORAL_KEYS = ("mIoU", "mIoP", "t_mean", "TIoU@0.3", "TIoU@0.5", "TIoP@0.3", "TIoP@0.5")


def _synthesize(out_dir, seed: int, num_items: int | None) -> None:
    from evqa.data.synth import DEFAULTS, generate

    generate(out_dir, seed=seed, num_test=num_items or DEFAULTS["num_test"], num_train=1, progress=False)


@register_benchmark("st_evidence_gen")
class StEvidenceGen(Benchmark):
    """Generative ST-Evidence: answer letter, temporal segments, masks (DESIGN.md §2.1, §3)."""

    description = "ST-Evidence generative: answer + temporal evidence (+ masks); Acc, IoU/IoP, J/F"
    data_files = GEN_FILES
    columns = GEN_COLUMNS
    breakdown_keys = ("source", "category")
    has_synthetic = True

    def load(self, files):
        from evqa.data.st_evidence import load_gen_benchmark

        return load_gen_benchmark(files["gt_file"])

    def synthesize(self, out_dir, *, seed: int = 0, num_items: int | None = None) -> dict:
        _synthesize(out_dir, seed, num_items)
        return self.locate(out_dir)

    def build_task(self, records, files, *, sampling, options, adapter_cls, max_new_tokens=None):
        from evqa.baselines.tasks import GenTask

        return GenTask(
            records,
            mode=options.get("mode") or "single-turn",
            mask_dir=options.get("pred_mask_dir"),
            video_dir=files.get("video_dir"),
            **task_kwargs(adapter_cls, sampling, max_new_tokens),
        )

    def evaluate(self, files, pred_file, *, protocol="evqa", options=None):
        from evqa.eval.st_evidence import evaluate_gen

        options = dict(options or {})
        self.check_protocol(protocol)
        results = evaluate_gen(
            str(files["gt_file"]),
            str(pred_file),
            protocol=protocol,
            eval_masks=bool(options.get("eval_masks")),
            gt_mask_dir=options.get("gt_mask_dir") or files.get("gt_mask_dir"),
            pred_mask_dir=options.get("pred_mask_dir"),
            num_workers=options.get("num_workers") or 1,
            progress=options.get("progress", True),
            mask_mode=options.get("mask_mode", "concat"),
        )
        return self.scores_from_results(results), self.read_predictions(pred_file)

    def score(self, records, predictions, *, protocol="evqa", options=None) -> Scores:
        from evqa.eval.st_evidence import evaluate_gen

        self.check_protocol(protocol)
        return self.scores_from_results(
            evaluate_gen(list(records), dict(predictions), protocol=protocol, progress=False)
        )

    @staticmethod
    def scores_from_results(results: Mapping[str, Any]) -> Scores:
        """The headline metrics, breakdowns and counts of an ST-Evidence results JSON (unchanged)."""
        qa, temporal = results.get("qa_metrics", {}), results.get("temporal_metrics", {})
        metrics = {"accuracy": qa.get("accuracy", 0.0)}
        metrics.update({k: temporal[k] for k in TEMPORAL_KEYS if k in temporal})
        masks = results.get("mask_metrics")
        if masks:
            metrics.update({k: masks[k] for k in ("J", "F", "J&F")})
        breakdowns = {}
        for key, name in (("by_source", "source"), ("by_category", "category")):
            if key in results:
                breakdowns[name] = {
                    group: {
                        **{k: v for k, v in values.items() if k != "num_samples"},
                        "n": values["num_samples"],
                    }
                    for group, values in results[key].items()
                }
        skipped = results.get("skipped", {})
        total = qa.get("total", 0)
        failed = skipped.get("failed_predictions", 0)
        missing = skipped.get("missing_predictions", 0)
        counts = {
            "n": total,
            "scored": total - failed - missing,
            "unparsable": skipped.get("unparsable_answers", 0),
            "failed": failed,
            "missing": missing,
            "judge_error": 0,
        }
        per_item = results.get("per_sample_scores", {})
        return Scores(metrics, breakdowns, counts, per_item, dict(results))


MCQ_COLUMNS = (
    ReportColumn("qa_accuracy", "QA", digits=1),
    ReportColumn("time_evidence_accuracy", "Time", digits=1),
    ReportColumn("spatial_evidence_accuracy", "Spatial", digits=1),
    ReportColumn("overall_accuracy", "Overall", digits=1),
)


@register_benchmark("st_evidence_mcq")
class StEvidenceMcq(Benchmark):
    """ST-Evidence multiple choice: qa (A-E), time_evidence (A-D), spatial_evidence (A-D) (DESIGN.md §2.2)."""

    description = "ST-Evidence MCQ: qa, time_evidence, spatial_evidence accuracy + coverage"
    data_files = MCQ_FILES
    columns = MCQ_COLUMNS
    has_synthetic = True
    protocols = ("evqa",)
    results_suffix = "_metrics"  # what `evqa eval-mcq` writes

    def load(self, files):
        from evqa.data.st_evidence import load_mcq_benchmark

        return load_mcq_benchmark(files["data_file"], files.get("distractors_file"), files.get("mask_file"))

    def synthesize(self, out_dir, *, seed: int = 0, num_items: int | None = None) -> dict:
        _synthesize(out_dir, seed, num_items)
        return self.locate(Path(out_dir) / "benchmark" / "mcq")

    def locate(self, data_dir, overrides=None):
        files = super().locate(data_dir, overrides)
        if files.get("video_dir") is None and files.get("data_file") is not None:
            files["video_dir"] = files["data_file"].parent / "videos"
        return files

    def build_task(self, records, files, *, sampling, options, adapter_cls, max_new_tokens=None):
        from evqa.baselines.mcq_task import McqTask, expand_mcq_task

        return McqTask(
            records,
            tasks=expand_mcq_task(options.get("mcq_task") or "all"),
            mask_file=files.get("mask_file"),
            video_dir=files.get("video_dir"),
            **task_kwargs(adapter_cls, sampling, max_new_tokens),
        )

    def evaluate(self, files, pred_file, *, protocol="evqa", options=None):
        from evqa.eval.mcq import evaluate_mcq

        self.check_protocol(protocol)
        results = evaluate_mcq(
            str(pred_file),
            data_file=str(files["data_file"]),
            distractors_file=_str(files.get("distractors_file")),
            mask_file=_str(files.get("mask_file")),
        )
        from evqa.eval.results_extras import add_mcq_extras

        add_mcq_extras(results, str(files["data_file"]), _str(files.get("distractors_file")),
                       _str(files.get("mask_file")), str(pred_file))  # fmt: skip
        predictions = self.read_predictions(pred_file)
        return self.scores_from_results(results, predictions), predictions

    def score(self, records, predictions, *, protocol="evqa", options=None) -> Scores:
        raise NotImplementedError("ST-Evidence MCQ is scored from its files: use evaluate()")

    @staticmethod
    def scores_from_results(
        results: Mapping[str, Any], predictions: Mapping[str, Any] | None = None
    ) -> Scores:
        """Headline metrics and counts of an MCQ metrics JSON (`evqa.eval.mcq.evaluate_mcq`); failed
        predictions (`error` set) are counted from `predictions`."""
        metrics = {"overall_accuracy": results["overall_accuracy"]}
        breakdowns: dict[str, dict[str, dict[str, float]]] = {"task": {}}
        unparsable = 0
        for task, key in (("qa", "qa"), ("time_evidence", "temporal"), ("spatial_evidence", "spatial")):
            block = results[key]
            metrics[f"{task}_accuracy"] = block["accuracy"]
            metrics[f"{task}_coverage"] = block["coverage"]
            breakdowns["task"][task] = {
                "accuracy": block["accuracy"],
                "coverage": block["coverage"],
                "n": block["total"],
            }
            unparsable += len(block.get("unparsable", []))
        n = results["total_entries"]
        missing = len(results.get("missing_predictions", []))
        failed = sum(1 for r in (predictions or {}).values() if isinstance(r, dict) and r.get("error"))
        counts = {"n": n, "scored": n - missing - failed, "unparsable": unparsable, "failed": failed}
        counts["missing"] = missing
        counts["judge_error"] = 0
        return Scores(metrics, breakdowns, counts, {}, dict(results))


def _str(path: os.PathLike | None) -> str | None:
    return None if path is None else str(path)
