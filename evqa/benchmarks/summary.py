"""Writing the self-describing summary of a scored prediction file: the run it came from (the JSONL run
header when there is one, else what its records' `meta` say) and the sampling that was actually used."""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evqa.benchmarks.base import Benchmark, Scores, summary_path
from evqa.eval.cost import cost_summary
from evqa.io import write_json_atomic

RUN_KEY = "__run__"


def read_run_header(pred_file: str | os.PathLike) -> dict[str, Any] | None:
    """The `{"__run__": {...}}` header of the prediction's JSONL (the file itself or its sibling), read by
    the one JSONL reader (`evqa.run_files.read_jsonl`)."""
    from evqa.run_files import read_jsonl

    pred = Path(pred_file)
    jsonl = pred if pred.suffix == ".jsonl" else pred.with_suffix(".jsonl")
    if not jsonl.is_file():
        return None
    header, _, _ = read_jsonl(jsonl)
    return header.to_dict() if header is not None else None


def _metas(predictions: Mapping[str, Any]) -> list[dict]:
    return [
        r["meta"]
        for k, r in predictions.items()
        if k != RUN_KEY and isinstance(r, dict) and isinstance(r.get("meta"), dict)
    ]


def run_from_records(predictions: Mapping[str, Any]) -> dict[str, Any]:
    """Model identity from the records' meta (when a file has no run header)."""
    for meta in _metas(predictions):
        if meta.get("model") or meta.get("adapter"):
            return {k: meta[k] for k in ("adapter", "model") if k in meta}
    return {}


def sampling_used(predictions: Mapping[str, Any]) -> dict[str, Any]:
    """{"fps", "frames" (median frames fed per item), "max_frames_fed"} from the records' meta."""
    metas = _metas(predictions)
    counts = [len(m["frames"]) for m in metas if isinstance(m.get("frames"), list)]
    out: dict[str, Any] = {}
    fps = {m.get("fps") for m in metas if "fps" in m}
    if len(fps) == 1:
        out["fps"] = fps.pop()
    if counts:
        out["frames"] = statistics.median(counts)
        out["max_frames_fed"] = max(counts)
    return out


def _is_api(adapter: str | None) -> bool:
    """True when the registry calls `adapter` a remote API model (its token usage is then a cost column)."""
    from evqa.baselines.registry import adapter_facts
    from evqa.errors import ConfigError

    try:
        return bool(adapter) and adapter_facts(adapter).api
    except ConfigError:  # an adapter this install does not know: not one we can call an API model
        return False


def write_summary(
    benchmark: Benchmark,
    scores: Scores,
    *,
    pred_file: str | os.PathLike,
    predictions: Mapping[str, Any],
    files: Mapping[str, Path | None],
    protocol: str,
    extra_run: Mapping[str, Any] | None = None,
    ci: Mapping[str, Any] | None = None,
) -> Path:
    """Build `benchmark.summary(...)` for `pred_file` and write it to `<pred stem>.summary.json`."""
    run = read_run_header(pred_file) or run_from_records(predictions)
    run = {**run, **(extra_run or {})}
    sampling = sampling_used(predictions)
    cost = cost_summary(_metas(predictions), api=_is_api(run.get("adapter")))
    summary = benchmark.summary(
        scores, protocol=protocol, files=files, run=run, sampling=sampling, cost=cost or None, ci=ci
    )
    out = summary_path(pred_file)
    write_json_atomic(out, summary)
    return out
