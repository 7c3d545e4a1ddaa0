"""Prediction storage for the runner: one JSONL per shard (a line per finished item, flushed), resume state,
and the merge into the final upstream-style JSON.

Files for an output `X.json`: `X.jsonl` (unsharded run) or `X.shard-<i>-of-<K>.jsonl`. A record is finished
when its `error` is null. When several lines name the same entry, the first finished one wins, so no shard
or re-run can replace a finished entry; failed entries are re-run on resume.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from evqa.io import read_json, write_json_atomic

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
    """Yield the records of a JSONL file; a torn last line (a killed writer) is skipped, not an error."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "entry_id" in record:
                yield record


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
    records = collect_records(out_path)
    keys = [k for k in (order or []) if k in records]
    keys += [k for k in records if k not in set(keys)]
    merged = {k: {f: v for f, v in records[k].items() if f != "entry_id"} for k in keys}
    write_json_atomic(out_path, merged)
    return merged


class JsonlWriter:
    """Appends one record per line and flushes it, so a crash loses at most the line being written."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - closed in close()
        # a writer killed mid-line leaves a torn line; start ours on a fresh one
        self._fh.seek(0, os.SEEK_END)
        if self._fh.tell() > 0:
            self._fh.seek(self._fh.tell() - 1)
            if self._fh.read(1) != "\n":
                self._fh.write("\n")

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
