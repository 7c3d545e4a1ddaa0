"""What a benchmark entry is: its files, records, synthetic version, how a model is asked, how it is scored,
and the self-describing summary every evaluation writes.

A benchmark subclasses `Benchmark`, fills in the class attributes and implements `load`, `synthesize`,
`build_task` and `score`; everything else (finding files under `--data-dir`, the runner, resume, retries,
shards, JSONL, the summary file) is shared. See `evqa/benchmarks/README.md` for a walk-through.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from evqa.errors import ConfigError, DataError

PROTOCOLS = ("evqa", "upstream")


@dataclass(frozen=True)
class DataFile:
    """One input file (or folder) of a benchmark.

    key: the name in `Benchmark.locate`'s result and the argparse `dest` of its override flag.
    flags: the command-line spellings of the override flag (e.g. ("--qa-file", "--qa_file")).
    layout: paths relative to `--data-dir` tried in order (the first that exists wins); the first one is
        where `synthesize` writes it. Glob patterns are not used: a layout is a fixed path.
    help: what the file is, for `--help` and `evqa benchmarks`.
    kind: "file" or "dir".
    required: a missing required file is a `DataError`; a missing optional one resolves to None.
    """

    key: str
    flags: tuple[str, ...]
    layout: tuple[str, ...]
    help: str
    kind: Literal["file", "dir"] = "file"
    required: bool = True


@dataclass(frozen=True)
class Option:
    """A benchmark-specific command-line option (e.g. EgoTextVQA's real-time cut).

    `type` is "flag" (store_true), "int", "float" or "str"; `dest` is the argparse destination and the key
    the value is passed under in `options` to `build_task` / `score`.
    """

    dest: str
    flags: tuple[str, ...]
    help: str
    type: Literal["flag", "int", "float", "str"] = "flag"
    default: Any = None


@dataclass(frozen=True)
class ReportColumn:
    """One headline metric: `key` in `Scores.metrics`, the column `label`, its direction, digits shown and
    unit ("percent": x100 totals; "fraction": 0-1; "score": the benchmark's own scale, e.g. judge 0..5)."""

    key: str
    label: str
    higher_is_better: bool = True
    digits: int = 2
    unit: Literal["percent", "fraction", "score", "count"] = "percent"

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "higher_is_better": self.higher_is_better,
            "digits": self.digits,
        }


@dataclass
class Scores:
    """What `Benchmark.score` returns.

    metrics: headline values, flat ({"accuracy": 41.2, "score": 2.1}), in the units of `columns`.
    breakdowns: {breakdown key: {group value: {metric: value, ..., "n": count}}}.
    counts: {"n", "scored", "unparsable", "failed", "judge_error", ...} — every item a metric skipped.
    per_item: entry id -> that item's scoring details (for viewers and paired tests).
    results: the benchmark's own results JSON (ST-Evidence's upstream-shaped file), or None.
    """

    metrics: dict[str, float]
    breakdowns: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    per_item: dict[str, dict[str, Any]] = field(default_factory=dict)
    results: dict[str, Any] | None = None


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes (streamed)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Benchmark:
    """Base of every benchmark entry (one instance per use; no state beyond the class attributes).

    Class attributes a subclass sets:
        name: the registry name (set by `@register_benchmark`).
        description: one line for `evqa benchmarks`.
        data_files: the `DataFile`s found from `--data-dir` (or given one by one by their flags).
        options: benchmark-specific `Option`s (added to `evqa infer` / `evqa eval`).
        columns: the headline `ReportColumn`s, in report order.
        breakdown_keys: the record fields results are broken down by (e.g. "question_type", "subset").
        has_synthetic: `synthesize` writes a synthetic version in the real on-disk format.
        protocols: scoring protocols `score` accepts ("evqa" first = default).
        ask_method: the adapter method a request goes to — "generate" for everything that produces text;
            an entry that needs another call (e.g. "score_levels": next-token level probabilities, no
            text) names it here, and `evqa.benchmarks.task.AdapterCaller` calls that method instead.
        needs_judge: scoring needs an LLM judge (`evqa judge` / `evqa eval --judge`).
        default_fps: frames per second sent to a model when no sampling flag is given.
        results_suffix: the results file is `<prediction stem><suffix>.json` unless --output_file names it.
    """

    name: ClassVar[str] = "base"
    description: ClassVar[str] = ""
    data_files: ClassVar[tuple[DataFile, ...]] = ()
    options: ClassVar[tuple[Option, ...]] = ()
    columns: ClassVar[tuple[ReportColumn, ...]] = ()
    breakdown_keys: ClassVar[tuple[str, ...]] = ()
    has_synthetic: ClassVar[bool] = False
    protocols: ClassVar[tuple[str, ...]] = PROTOCOLS
    ask_method: ClassVar[str] = "generate"
    needs_judge: ClassVar[bool] = False
    default_fps: ClassVar[float | None] = 1.0
    results_suffix: ClassVar[str] = "_eval"

    # --- files -------------------------------------------------------------------------------------

    def locate(
        self, data_dir: str | os.PathLike | None, overrides: Mapping[str, Any] | None = None
    ) -> dict[str, Path | None]:
        """Resolve every data file: an override (its flag) wins, else the first existing `layout` path
        under `data_dir`. A given path that does not exist is an error (never a silent substitute); so is a
        required file that is neither given nor found.
        """
        overrides = overrides or {}
        found: dict[str, Path | None] = {}
        for spec in self.data_files:
            given = overrides.get(spec.key)
            if given:
                path = Path(given)
                if not path.exists():
                    raise DataError(f"{spec.help}: {path} does not exist", path=path, field=spec.flags[0])
                found[spec.key] = path
                continue
            found[spec.key] = self._find(spec, data_dir)
        return found

    def _find(self, spec: DataFile, data_dir) -> Path | None:
        if data_dir is None:
            if spec.required:
                raise ConfigError(
                    f"benchmark {self.name} needs {spec.help}: give --data-dir or {spec.flags[0]}",
                    field="--data-dir",
                )
            return None
        root = Path(data_dir)
        if not root.is_dir():
            raise DataError("the data directory does not exist", path=root, field="--data-dir")
        for relative in spec.layout:
            candidate = root / relative
            if candidate.is_dir() if spec.kind == "dir" else candidate.is_file():
                return candidate
        if spec.required:
            tried = ", ".join(spec.layout)
            raise DataError(
                f"{spec.help} not found (looked for {tried}; or give {spec.flags[0]})",
                path=root,
                field=spec.key,
            )
        return None

    def data_sha256(self, files: Mapping[str, Path | None]) -> dict[str, str]:
        """{file name: sha256} of the located annotation files (folders are not hashed)."""
        return {p.name: file_sha256(p) for p in files.values() if p is not None and p.is_file()}

    # --- what a subclass implements -------------------------------------------------------------------

    def load(self, files: Mapping[str, Path | None]) -> list[Any]:
        """The typed records of the benchmark (each has a unique `entry_id` str), in benchmark order.
        Errors name the file, row and field (`DataError`)."""
        raise NotImplementedError

    def synthesize(self, out_dir: str | os.PathLike, *, seed: int = 0, num_items: int | None = None) -> dict:
        """Write a small synthetic version in the real on-disk format under `out_dir` (laid out so that
        `locate(out_dir)` finds it) and return {data file key: path}."""
        raise ConfigError(f"benchmark {self.name} has no synthetic version", field="--benchmark")

    def build_task(
        self,
        records: Sequence[Any],
        files: Mapping[str, Path | None],
        *,
        sampling,
        options: Mapping[str, Any],
        adapter_cls: type,
        max_new_tokens: int | None = None,
    ):
        """The runner task (`evqa.benchmarks.task.BenchmarkTask` or an ST-Evidence task) that asks a model
        about `records`: prompts from `evqa.prompts`, frames by `sampling`, reply parsing."""
        raise NotImplementedError

    def score(
        self,
        records: Sequence[Any],
        predictions: Mapping[str, dict],
        *,
        protocol: str = "evqa",
        options: Mapping[str, Any] | None = None,
    ) -> Scores:
        """Score `predictions` (entry id -> record) against `records` with pure functions of
        `evqa.metrics`; every skipped item is counted in `Scores.counts`."""
        raise NotImplementedError

    def read_predictions(self, pred_file: str | os.PathLike) -> dict[str, dict]:
        """{entry id: prediction record} of a JSON or JSONL prediction file (a run header line is not a
        record)."""
        from evqa.eval.predictions import load_predictions

        predictions = load_predictions(pred_file)
        predictions.pop("__run__", None)
        return predictions

    def evaluate(
        self,
        files: Mapping[str, Path | None],
        pred_file: str | os.PathLike,
        *,
        protocol: str = "evqa",
        options: Mapping[str, Any] | None = None,
    ) -> tuple[Scores, dict[str, dict]]:
        """Load the records and the prediction file and `score` them; returns (scores, predictions)."""
        self.check_protocol(protocol)
        records = self.load(files)
        predictions = self.read_predictions(pred_file)
        return self.score(records, predictions, protocol=protocol, options=options or {}), predictions

    # --- shared ---------------------------------------------------------------------------------------

    def check_protocol(self, protocol: str) -> str:
        if protocol not in self.protocols:
            raise ConfigError(
                f"benchmark {self.name} has no protocol '{protocol}' (known: {', '.join(self.protocols)})",
                field="--protocol",
            )
        return protocol

    def describe(self) -> dict[str, Any]:
        """What `evqa benchmarks` prints: data files, options, metrics, breakdowns, synthetic version."""
        return {
            "name": self.name,
            "description": self.description,
            "data": [
                {
                    "key": f.key,
                    "flag": f.flags[0],
                    "layout": list(f.layout),
                    "help": f.help,
                    "required": f.required,
                }
                for f in self.data_files
            ],
            "metrics": [c.key for c in self.columns],
            "breakdowns": list(self.breakdown_keys),
            "synthetic": self.has_synthetic,
            "judge": self.needs_judge,
            "ask": self.ask_method,
            "protocols": list(self.protocols),
        }

    def ci_samples(self, scores: Scores) -> dict[str, list[tuple[float, float]]]:
        """Per-entry (value, weight) pairs of each headline metric that is a weighted mean over entries —
        metric = sum(value) / sum(weight) — for bootstrap CIs (`headline_ci`). Default: a column whose key
        every per-item record has as a number (weight 1; None: weight 0), and `accuracy` from per-item
        `correct` flags (x100 for a percent column). Metrics that are not such means (correlations, gaps,
        averages of per-task accuracies) get none. Benchmarks with other per-item records override this."""
        items = list(scores.per_item.values())
        if not items:
            return {}
        out: dict[str, list[tuple[float, float]]] = {}
        for column in self.columns:
            scale = 100.0 if column.unit == "percent" else 1.0
            if all(isinstance(i, dict) and column.key in i for i in items):
                values = [i[column.key] for i in items]
                if all(
                    v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values
                ):
                    out[column.key] = [(0.0, 0.0) if v is None else (float(v), 1.0) for v in values]
            elif column.key == "accuracy" and all(isinstance(i, dict) and "correct" in i for i in items):
                out[column.key] = [(scale * float(bool(i["correct"])), 1.0) for i in items]
        return out

    def summary(
        self,
        scores: Scores,
        *,
        protocol: str,
        files: Mapping[str, Path | None],
        run: Mapping[str, Any] | None = None,
        sampling: Mapping[str, Any] | None = None,
        cost: Mapping[str, Any] | None = None,
        ci: Mapping[str, Sequence[float]] | None = None,
    ) -> dict[str, Any]:
        """The self-describing summary (`<prediction stem>.summary.json`) of one scored prediction file."""
        from evqa import __version__

        summary: dict[str, Any] = {
            "benchmark": self.name,
            "protocol": protocol,
            "evqa_version": __version__,
            "run": dict(run or {}),
            "units": {c.key: c.unit for c in self.columns},
            "columns": [c.as_dict() for c in self.columns],
            "metrics": dict(scores.metrics),
            "breakdowns": scores.breakdowns,
            "counts": dict(scores.counts),
            "sampling": dict(sampling or {}),
        }
        if cost:
            summary["cost"] = dict(cost)
        if ci:
            summary["ci"] = {k: list(v) for k, v in ci.items()}
        summary["data_sha256"] = self.data_sha256(files)
        return summary


def summary_path(pred_file: str | os.PathLike) -> Path:
    """`<prediction file stem>.summary.json` beside the prediction file."""
    pred = Path(pred_file)
    return pred.with_name(f"{pred.stem}.summary.json")


def headline_ci(benchmark: Benchmark, scores: Scores, *, n_resamples: int | None = None,
                seed: int | None = None) -> tuple[dict[str, list[float]], dict[str, Any]]:  # fmt: skip
    """({metric: [low, high]}, settings): percentile-bootstrap 95 % CIs (`evqa.metrics.stats`, entries
    resampled, fixed seed) of the metrics `benchmark.ci_samples(scores)` gives per-entry values for."""
    import numpy as np

    from evqa.metrics.stats import N_RESAMPLES, SEED, bootstrap_ci, ratio_of_sums

    n_resamples = N_RESAMPLES if n_resamples is None else n_resamples
    seed = SEED if seed is None else seed
    ci = {}
    for key, pairs in benchmark.ci_samples(scores).items():
        if pairs and sum(w for _, w in pairs) > 0:
            res = bootstrap_ci(
                np.asarray(pairs, dtype=np.float64), ratio_of_sums, n_resamples=n_resamples, seed=seed
            )
            ci[key] = [round(res.low, 4), round(res.high, 4)]
    settings = {"confidence": 0.95, "n_resamples": n_resamples, "seed": seed, "method": "percentile",
                "resampled": "entries"}  # fmt: skip
    return ci, settings
