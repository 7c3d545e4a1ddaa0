"""Prediction storage for the runner: one JSONL per shard (a line per finished item, flushed), resume state,
and the merge into the final upstream-style JSON.

Files for an output `X.json`: `X.jsonl` (unsharded run) or `X.shard-<i>-of-<K>.jsonl`. Each JSONL starts
with the run header of the run that wrote it (`evqa.run_files.RunHeader`). A record is finished when its
`error` is null. When several lines name the same entry, the first finished one wins, so no shard or re-run
can replace a finished entry; failed entries are re-run on resume. A run resumes into an output only when
every header already there matches its own (`check_resume`); `overwrite` starts afresh instead.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from evqa.errors import ConfigError
from evqa.io import read_json, write_json_atomic
from evqa.run_files import RunHeader, header_differences
from evqa.run_files import read_jsonl as read_run_jsonl

log = logging.getLogger(__name__)

_SHARD = re.compile(r"\.shard-(\d+)-of-(\d+)\.jsonl$")


def shard_jsonl_path(out_path: str | os.PathLike, shard_index: int = 0, num_shards: int = 1) -> Path:
    """The JSONL a shard appends to: X.jsonl, or X.shard-<i>-of-<K>.jsonl when num_shards > 1."""
    out = Path(out_path)
    if num_shards <= 1:
        return out.with_suffix(".jsonl")
    return out.with_name(f"{out.stem}.shard-{shard_index}-of-{num_shards}.jsonl")


def sibling_jsonl_paths(out_path: str | os.PathLike) -> list[Path]:
    """Every JSONL that belongs to output X.json (the unsharded one first, then shards by index)."""
    out = Path(out_path)
    plain = out.with_suffix(".jsonl")
    shards = sorted(
        out.parent.glob(f"{out.stem}.shard-*-of-*.jsonl"), key=lambda p: int(_SHARD.search(p.name)[1])
    )
    return ([plain] if plain.exists() else []) + [p for p in shards if _SHARD.search(p.name)]


def read_jsonl(path: str | os.PathLike) -> Iterable[dict[str, Any]]:
    """Yield the records of a JSONL file (`evqa.run_files.read_jsonl` without the header); torn lines (a
    killed writer) are skipped and logged, not an error."""
    _, records, torn = read_run_jsonl(path)
    if torn:
        log.warning("%s: skipped %d torn line(s)", path, torn)
    yield from records


def output_headers(out_path: str | os.PathLike) -> dict[Path, RunHeader | None]:
    """The run header of every JSONL of output X that holds records or a header (None: records written
    without a header)."""
    found = {}
    for path in sibling_jsonl_paths(out_path):
        header, records, _ = read_run_jsonl(path)
        if header is not None or records:
            found[path] = header
    return found


def check_resume(
    out_path: str | os.PathLike, header: RunHeader, own_jsonl: Path, *, overwrite: bool = False
) -> None:
    """Make sure a run with `header` may add to output X; raise ConfigError (one line listing the
    differing fields) when a file of X comes from another run.

    With `overwrite`, files of X that another run wrote (and this shard's own JSONL) are removed
    instead, so the run starts afresh; JSONLs of other shards of this same run are kept.
    """
    out = Path(out_path)
    headers = output_headers(out)
    foreign = {p: h for p, h in headers.items() if h is None or header_differences(h, header)}
    if overwrite:
        removed = [p for p in dict.fromkeys((*foreign, own_jsonl, out)) if p.exists()]
        for path in removed:
            path.unlink()
        if removed:
            log.info("--overwrite: removed %s", ", ".join(str(p) for p in removed))
        return
    for path, old in foreign.items():
        if old is None:
            raise ConfigError(
                f"{path} has no run header, so it cannot be told whether it comes from the same model; "
                "pass --overwrite to start afresh or choose another --output",
                field="--output",
            )
        raise ConfigError(
            f"{path} was written by another run ({'; '.join(header_differences(old, header))}); "
            "pass --overwrite to start afresh or choose another --output",
            field="--output",
        )
    if out.exists() and not headers:
        raise ConfigError(
            f"{out} exists without the JSONL that says which run wrote it; "
            "pass --overwrite to start afresh or choose another --output",
            field="--output",
        )


def check_mergeable(out_path: str | os.PathLike) -> RunHeader | None:
    """The common header of output X's JSONLs; ConfigError when two of them come from different runs."""
    headers = [(p, h) for p, h in output_headers(out_path).items() if h is not None]
    for path, other in headers[1:]:
        diff = header_differences(headers[0][1], other)
        if diff:
            raise ConfigError(
                f"{headers[0][0].name} and {path.name} come from different runs ({'; '.join(diff)}); "
                "merge only shards of one run",
                field="--merge",
            )
    return headers[0][1] if headers else None


def is_finished(record: dict[str, Any]) -> bool:
    """A record counts as done when it has no error."""
    return record.get("error") is None


def collect_records(out_path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """entry_id -> best record over X.json (if any) and every sibling JSONL: first finished record wins,
    otherwise the latest failure."""
    best: dict[str, dict[str, Any]] = {}
    sources: list[Iterable[dict[str, Any]]] = []
    out = Path(out_path)
    if out.exists():
        data = read_json(out)
        if isinstance(data, dict):
            sources.append({"entry_id": key, **val} for key, val in data.items() if isinstance(val, dict))
    sources += [read_jsonl(p) for p in sibling_jsonl_paths(out)]
    for source in sources:
        for record in source:
            key = str(record["entry_id"])
            if key not in best or not is_finished(best[key]):
                best[key] = record
    return best


def merge_outputs(
    out_path: str | os.PathLike, order: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Write X.json from every record of output X (atomically) and return it.

    `order` lists entry ids in benchmark order; entries not in it follow in the order first seen.
    """
    check_mergeable(out_path)
    records = collect_records(out_path)
    keys = [k for k in (order or []) if k in records]
    keys += [k for k in records if k not in set(keys)]
    merged = {k: {f: v for f, v in records[k].items() if f != "entry_id"} for k in keys}
    write_json_atomic(out_path, merged)
    return merged


class JsonlWriter:
    """Appends one record per line and flushes it, so a crash loses at most the line being written.

    A new (or empty) file starts with the run `header` line when one is given.
    """

    def __init__(self, path: str | os.PathLike, header: RunHeader | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - closed in close()
        # a writer killed mid-line leaves a torn line; start ours on a fresh one
        self._fh.seek(0, os.SEEK_END)
        if self._fh.tell() > 0:
            self._fh.seek(self._fh.tell() - 1)
            if self._fh.read(1) != "\n":
                self._fh.write("\n")
        elif header is not None:
            self._fh.write(header.to_line() + "\n")
            self._fh.flush()

    def append(self, entry_id: str, record: dict[str, Any]) -> None:
        """Write {"entry_id": entry_id, **record} as one line and flush it to the OS."""
        self._fh.write(json.dumps({"entry_id": entry_id, **record}, ensure_ascii=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
