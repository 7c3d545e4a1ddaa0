"""The error viewer: a static HTML report of where and why a model fails, one entry at a time.

    write_st_evidence_gen_viewer(out, gt_csv, [pred_a, pred_b], video_dir=..., gt_mask_dir=...)  # -> index.html
    write_st_evidence_mcq_viewer(out, mcq_csv, [pred], distractors_file=..., mask_file=...)
    write_benchmark_viewer(out, "tvqa", files, [pred_a, pred_b])   # any other registered benchmark

The view model (`evqa.eval.viewer.model`) is benchmark-neutral; a benchmark plugs in with a *builder*:

1. `prepare_report_dir(out)` (refuses a foreign non-empty folder, empties a previous report);
2. score every prediction file with the benchmark's scorer and keep its results JSON
   (`records.run_view` writes it to `<out>/results/run_X.json` and reads the run header);
3. one `EntryView` per entry with one `RunEntryView` per run (failure type by `classify_failure`, numbers
   copied from the scorer's per-entry output, never recomputed), its segments, and its pictures written
   through `images.ReportImages` (`frames.write_entry_frames` for video frames with mask overlays);
4. `MetricTable`s copied from the results JSONs (`records.failure_table` adds the failure counts);
5. `render_report(report, out)` writes the page and its data files; it knows no benchmark.

`st_evidence_gen` and `st_evidence_mcq` are the ST-Evidence builders; `benchmark` is the one builder of every
other registered benchmark, driven by its records, `Scores` and columns.
"""

from __future__ import annotations

import os
from pathlib import Path

from evqa.eval.viewer.model import (
    FAILURE_TYPES,
    EntryView,
    FrameView,
    JudgeView,
    MetricTable,
    RunEntryView,
    RunHeader,
    RunView,
    ViewReport,
    classify_failure,
)
from evqa.eval.viewer.render import prepare_report_dir, render_report

__all__ = [
    "FAILURE_TYPES",
    "EntryView",
    "FrameView",
    "JudgeView",
    "MetricTable",
    "RunEntryView",
    "RunHeader",
    "RunView",
    "ViewReport",
    "classify_failure",
    "write_benchmark_viewer",
    "prepare_report_dir",
    "render_report",
    "write_st_evidence_gen_viewer",
    "write_st_evidence_mcq_viewer",
]


def write_st_evidence_gen_viewer(out_dir: str | os.PathLike, gt_file: str | os.PathLike,
                                 pred_files: list[str | os.PathLike], *, pred_mask_dirs=None, video_dir=None,
                                 gt_mask_dir=None, chunk_size: int = 100, **options) -> Path:  # fmt: skip
    """Score `pred_files` on the ST-Evidence gen CSV `gt_file` and write their viewer into `out_dir`.

    pred_mask_dirs: one predicted-mask folder per prediction file (None entries: the scorer's default);
    video_dir / gt_mask_dir: as for `st_evidence_gen.build_report`, whose other keyword `options` (limit,
    max_frames, thumb_width, thresholds, num_workers, progress, title, mask_mode) pass through.
    Returns the path of the report's index.html.
    """
    from evqa.eval.viewer.st_evidence_gen import GenRun, build_report

    mask_dirs = list(pred_mask_dirs or [None] * len(pred_files))
    if len(mask_dirs) != len(pred_files):
        from evqa.errors import ConfigError

        raise ConfigError(f"{len(mask_dirs)} predicted-mask folder(s) for {len(pred_files)} prediction file(s)",
                          field="--pred_mask_dir")  # fmt: skip
    runs = [GenRun(str(p), None if m is None else str(m)) for p, m in zip(pred_files, mask_dirs, strict=True)]
    report = build_report(out_dir, gt_file, runs, video_dir=video_dir, gt_mask_dir=gt_mask_dir, **options)
    return render_report(report, out_dir, chunk_size=chunk_size)


def write_st_evidence_mcq_viewer(out_dir: str | os.PathLike, data_file: str | os.PathLike, pred_files: list,
                                 *, distractors_file=None, mask_file=None, chunk_size: int = 100,
                                 **options) -> Path:  # fmt: skip
    """Score ST-Evidence MCQ `pred_files` against the MCQ data files and write their viewer into `out_dir`.

    Keyword `options` (video_dir, limit, thumb_width, progress, title) pass to `st_evidence_mcq.build_report`.
    Returns the path of the report's index.html.
    """
    from evqa.eval.viewer.st_evidence_mcq import McqData, build_report

    data = McqData(str(data_file), None if distractors_file is None else str(distractors_file),
                   None if mask_file is None else str(mask_file))  # fmt: skip
    report = build_report(out_dir, data, [str(p) for p in pred_files], **options)
    return render_report(report, out_dir, chunk_size=chunk_size)


def write_benchmark_viewer(out_dir: str | os.PathLike, benchmark: str, files, pred_files: list, *,
                           results_files=None, chunk_size: int = 100, **options) -> Path:  # fmt: skip
    """Score `pred_files` on registered benchmark `benchmark` (its located data `files`) and write their
    viewer into `out_dir`.

    results_files: one results JSON of `evqa eval` per prediction file, or None entries (None: scored here,
    or for judged benchmarks the results JSON beside the predictions); keyword `options` (protocol,
    options, limit, max_frames, thumb_width, progress, title) pass to `benchmark.build_report`.
    Returns the path of the report's index.html.
    """
    from evqa.benchmarks.registry import get_benchmark
    from evqa.eval.viewer.benchmark import BenchmarkRun, build_report

    given = list(results_files or [None] * len(pred_files))
    if len(given) != len(pred_files):
        from evqa.errors import ConfigError

        raise ConfigError(f"{len(given)} results file(s) for {len(pred_files)} prediction file(s)",
                          field="--results_file")  # fmt: skip
    runs = [
        BenchmarkRun(str(p), None if r is None else str(r)) for p, r in zip(pred_files, given, strict=True)
    ]
    report = build_report(out_dir, get_benchmark(benchmark), files, runs, **options)
    return render_report(report, out_dir, chunk_size=chunk_size)
