"""`evqa report`: one table (Markdown, LaTeX or CSV) from any number of results / summary JSONs.

    evqa report a_eval.json b_eval.json                      # ST-Evidence results JSONs, as written
    evqa report runs/*.summary.json --format latex --ci      # the self-describing summary of any benchmark
    evqa report a.json b.json --delta a --by category        # differences to run 'a', per-category tables

One row per file, named from its run header (model, checkpoint, sampling; else the file name); the
benchmark's headline columns, best value per column in bold, cost columns where present (a summary's
`cost`: parameters, frames fed, visual tokens and analytic TFLOPs per query of local models, API tokens per
query of API models). The table is a pure
function of the JSONs (`evqa.eval.tables`).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evqa.errors import ConfigError, InputError
from evqa.eval.tables import FORMATS, Column, format_category_tables, format_table
from evqa.io import read_json

GEN_COLUMNS = (
    Column("accuracy", "Acc"),
    Column("evidence_backed", "EB-Acc"),
    Column("mIoU", "mIoU"),
    Column("mIoP", "mIoP"),
    Column("t_mean", "t-mean"),
    Column("J", "J"),
    Column("F", "F"),
    Column("J&F", "J&F"),
)
MCQ_COLUMNS = (
    Column("qa", "QA"),
    Column("time_evidence", "Time"),
    Column("spatial_evidence", "Spatial"),
    Column("overall", "Overall"),
    Column("evidence_backed", "EB-Acc"),
)
# from a summary's `cost` (`evqa.eval.cost.cost_summary`): frames fed (median), per query the visual tokens
# and analytic TFLOPs of a local model, its parameters, and an API model's prompt / completion tokens
COST_COLUMNS = (
    Column("params_m", "Params (M)", better=None, digits=1),
    Column("frames_fed", "Frames", better=None, digits=0),
    Column("visual_tokens", "Vis. tokens", better=None, digits=0),
    Column("tflops_per_query", "TFLOPs/q", better=None, digits=2),
    Column("api_prompt_tokens_per_query", "API in tok/q", better=None, digits=0),
    Column("api_completion_tokens_per_query", "API out tok/q", better=None, digits=0),
)
BY_CHOICES = ("source", "category", "task")


@dataclass
class RunTable:
    """One results file as the report sees it: benchmark, row name, headline values (with CIs), columns,
    breakdowns {key: {group: {metric: value}}}."""

    path: str
    benchmark: str
    name: str
    values: dict[str, float | None]
    columns: tuple[Column, ...]
    ci: dict[str, list[float]] = field(default_factory=dict)
    breakdowns: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


def run_name(run: dict[str, Any] | None, path: str | Path) -> str:
    """'model / checkpoint / sampling' from a run header (the parts it has), else the file's stem."""
    run = run or {}
    parts = [run.get("model") or run.get("adapter"), run.get("checkpoint")]
    sampling = run.get("sampling")
    if isinstance(sampling, dict):
        sampling = ", ".join(f"{k}={v}" for k, v in sampling.items() if v is not None)
    parts.append(sampling)
    parts = [str(p) for p in parts if p]
    if parts:
        return " / ".join(parts)
    stem = Path(path).name
    for suffix in (".summary.json", "_eval.json", "_metrics.json", ".json"):
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def _gen(path: str, data: dict) -> RunTable:
    qa, tm, mm = data.get("qa_metrics", {}), data.get("temporal_metrics", {}), data.get("mask_metrics") or {}
    values = {
        "accuracy": qa.get("accuracy"),
        "evidence_backed": (data.get("evidence_backed") or {}).get("accuracy"),
    }
    values.update({k: tm.get(k) for k in ("mIoU", "mIoP", "t_mean")})
    values.update({k: mm.get(k) for k in ("J", "F", "J&F")})
    breakdowns = {
        key[3:]: data[key] for key in ("by_source", "by_category") if isinstance(data.get(key), dict)
    }
    name = run_name(data.get("run"), (data.get("metadata") or {}).get("pred_file") or path)
    columns = list(GEN_COLUMNS)
    _add_cost(_sibling_cost(path, data), values, columns)
    return RunTable(path, f"st_evidence_gen ({data.get('protocol', 'evqa')})", name, values, tuple(columns),
                    dict(data.get("ci") or {}), breakdowns)  # fmt: skip


def _mcq(path: str, data: dict) -> RunTable:
    values = {"qa": data["qa"]["accuracy"], "time_evidence": data["temporal"]["accuracy"],
              "spatial_evidence": data["spatial"]["accuracy"], "overall": data["overall_accuracy"],
              "evidence_backed": (data.get("evidence_backed") or {}).get("accuracy")}  # fmt: skip
    tasks = {t: {"qa": data[k]["accuracy"]} for t, k in (("qa", "qa"), ("time_evidence", "temporal"),
                                                          ("spatial_evidence", "spatial"))}  # fmt: skip
    columns = list(MCQ_COLUMNS)
    _add_cost(_sibling_cost(path, data), values, columns)
    return RunTable(path, "st_evidence_mcq", run_name(data.get("run"), path), values, tuple(columns),
                    dict(data.get("ci") or {}), {"task": tasks})  # fmt: skip


def _add_cost(cost: dict, values: dict, columns: list) -> None:
    """The cost columns `cost` (a summary's `cost` block) has values for, appended in `COST_COLUMNS` order."""
    for col in COST_COLUMNS:
        if isinstance(cost.get(col.key), int | float):
            values[col.key] = cost[col.key]
            columns.append(col)


def _sibling_cost(path: str, data: dict) -> dict:
    """The `cost` of the summary `evqa eval` wrote beside an ST-Evidence results JSON (`<pred stem>.summary.json`
    next to `<pred stem>_eval.json` / `_metrics.json`, or next to the prediction file it names)."""
    results = Path(path)
    stems = [results.stem[: -len(s)] for s in ("_eval", "_metrics") if results.stem.endswith(s)]
    candidates = [results.with_name(f"{stem}.summary.json") for stem in stems]
    pred = (data.get("metadata") or {}).get("pred_file")
    if isinstance(pred, str) and pred:
        candidates.append(Path(pred).with_name(f"{Path(pred).stem}.summary.json"))
    for candidate in candidates:
        if candidate.is_file():
            summary = read_json(candidate, error=InputError)
            return dict(summary.get("cost") or {}) if isinstance(summary, dict) else {}
    return {}


def _summary(path: str, data: dict) -> RunTable:
    columns = []
    for spec in data["columns"]:
        better = "higher" if spec.get("higher_is_better", True) else "lower"
        columns.append(
            Column(spec["key"], spec.get("label") or spec["key"], better, int(spec.get("digits", 2)))
        )
    values = dict(data.get("metrics") or {})
    _add_cost(data.get("cost") or {}, values, columns)
    return RunTable(path, str(data.get("benchmark")), run_name(data.get("run"), path), values, tuple(columns),
                    {k: list(v) for k, v in (data.get("ci") or {}).items()}, dict(data.get("breakdowns") or {}))  # fmt: skip


def load_run_table(path: str) -> RunTable:
    """A results JSON (ST-Evidence gen or MCQ) or a `*.summary.json`, read as a `RunTable`."""
    data = read_json(path, error=InputError)
    if not isinstance(data, dict):
        raise InputError("not a results JSON object", path=path)
    if isinstance(data.get("columns"), list) and isinstance(data.get("metrics"), dict):
        return _summary(path, data)
    if "qa_metrics" in data and "temporal_metrics" in data:
        return _gen(path, data)
    if "overall_accuracy" in data and "qa" in data:
        return _mcq(path, data)
    raise InputError("neither a results JSON of ST-Evidence nor a benchmark summary (no 'columns'/'metrics', "
                     "'qa_metrics' or 'overall_accuracy')", path=path)  # fmt: skip


def _rows(tables: list[RunTable], columns, ci: bool) -> list[tuple[str, dict]]:
    rows = []
    for t in tables:
        values: dict[str, Any] = {}
        for col in columns:
            v = t.values.get(col.key)
            bounds = t.ci.get(col.key)
            values[col.key] = (v, bounds[0], bounds[1]) if ci and v is not None and bounds else v
        rows.append((t.name, values))
    return rows


def _select(columns: tuple[Column, ...], wanted: str | None) -> list[Column]:
    if not wanted:
        return list(columns)
    keys = [w.strip() for w in wanted.split(",") if w.strip()]
    by_name = {c.key: c for c in columns} | {c.title: c for c in columns}
    unknown = [k for k in keys if k not in by_name]
    if unknown:
        known = ", ".join(c.key for c in columns)
        raise ConfigError(f"unknown column(s) {', '.join(unknown)} (known: {known})", field="--columns")
    return [by_name[k] for k in keys]


def _unique_names(tables: list[RunTable]) -> None:
    seen: dict[str, int] = {}
    for t in tables:
        seen[t.name] = seen.get(t.name, 0) + 1
    for t in tables:
        if seen[t.name] > 1:
            t.name = f"{t.name} ({Path(t.path).name})"


def build_report(paths: list[str], fmt: str = "md", *, columns: str | None = None, by: str | None = None,
                 delta: str | None = None, ci: bool = False) -> str:  # fmt: skip
    """The report text for `paths` (see the module doc); a pure function of the files."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})", field="--format")
    if ci and delta:
        raise ConfigError("--ci and --delta do not combine (the CI of a difference is `evqa compare`)",
                          field="--ci")  # fmt: skip
    tables = [load_run_table(p) for p in paths]
    benchmarks = sorted({t.benchmark for t in tables})
    if len(benchmarks) > 1:
        raise ConfigError(f"the files are of different benchmarks ({', '.join(benchmarks)}): one table each",
                          field="RESULTS")  # fmt: skip
    _unique_names(tables)
    if delta is not None:
        names = [t.name for t in tables]
        match = [t.name for t in tables if delta in (t.name, t.path, Path(t.path).name, Path(t.path).stem)]
        if not match:
            raise ConfigError(f"--delta {delta!r} is none of the runs: {', '.join(names)}", field="--delta")
        delta = match[0]
    cols = _select(tables[0].columns, columns)
    present = [c for c in cols if any(t.values.get(c.key) is not None for t in tables)]
    out = [format_table(_rows(tables, present, ci), present, fmt, ci=ci, delta=delta)]
    if by is not None:
        groups = sorted({g for t in tables for g in t.breakdowns.get(by, {})})
        if not groups:
            raise ConfigError(f"no {by} breakdown in these files", field="--by")
        sub_cols = [
            c for c in present if any(c.key in v for t in tables for v in t.breakdowns.get(by, {}).values())
        ]
        per_group = {
            g: [(t.name, {c.key: t.breakdowns.get(by, {}).get(g, {}).get(c.key) for c in sub_cols}) for t in tables]
            for g in groups
        }  # fmt: skip
        out.append(format_category_tables(per_group, sub_cols, fmt, delta=delta))
    return "\n".join(out)


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Print one table from results / summary JSONs: a row per "
                                "run, the benchmark's headline columns, best values in bold.")  # fmt: skip
    p.add_argument("results", nargs="+", metavar="RESULTS",
                   help="results JSONs (evqa eval / eval-mcq output) or *.summary.json files, one benchmark")  # fmt: skip
    p.add_argument("--format", default="md", choices=FORMATS, help="md, latex or csv (default: %(default)s)")
    p.add_argument("--columns", default=None,
                   help="comma-separated column keys or labels to show, in that order (default: all present)")  # fmt: skip
    p.add_argument("--by", default=None, choices=BY_CHOICES,
                   help="also print one sub-table per source, category or task (default: none)")  # fmt: skip
    p.add_argument("--delta", default=None, metavar="BASE",
                   help="show other rows as differences to this run (its row name or file) (default: none)")  # fmt: skip
    p.add_argument("--ci", action="store_true",
                   help="show the stored 95%% bootstrap CIs next to the values (default: values only)")  # fmt: skip
    p.add_argument(
        "--output", default=None, help="also write the table to this file (default: only print it)"
    )
    return p


def run(args: argparse.Namespace) -> int:
    for path in args.results:
        if not Path(path).is_file():
            raise ConfigError(f"file not found: {path}", field="RESULTS")
    text = build_report(
        args.results, args.format, columns=args.columns, by=args.by, delta=args.delta, ci=args.ci
    )
    print(text, end="")
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0
