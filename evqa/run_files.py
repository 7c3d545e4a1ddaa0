"""Run files: the header that says which run wrote a prediction JSONL, and the one JSONL reader.

A prediction JSONL starts with one header line `{"__run__": {...}}` (`RunHeader`): the adapter, the model
id or path, a checkpoint fingerprint, the frame sampling, the prompt version, the endpoint, the sha256 of
the benchmark files and the EVQA version. Every following line is one record `{"entry_id": ..., ...}`
(or `{entry_id: record}`). The final upstream-format JSON keeps upstream's shape and carries no header.

Resuming compares the header of the new run with the headers already in the output's files
(`header_differences`); the endpoint and the EVQA version are recorded but not compared: the same model
served at another address, or a newer EVQA, answers the same questions the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from evqa.errors import PredictionError

HEADER_KEY = "__run__"
# fields that must agree before a run may resume into a file (see the module docstring)
COMPARED_FIELDS = ("adapter", "model", "checkpoint", "task", "sampling", "prompt_version", "data_sha256")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf")
CONFIG_SUFFIXES = (".json", ".yaml", ".yml", ".txt", ".model", ".jinja")
# weight files up to this size are hashed whole; larger ones by size + their first and last MiB
FULL_HASH_BYTES = 64 << 20
_EDGE = 1 << 20


@dataclass
class RunHeader:
    """What identifies a run. `checkpoint` is `checkpoint_fingerprint(...)` (None for API / hub models),
    `sampling` is {fps, num_frames, max_frames, max_size}, `task` is {name, mode, ...}, `data_sha256` maps
    benchmark file names to their sha256."""

    adapter: str
    model: str
    checkpoint: dict[str, Any] | None = None
    task: dict[str, Any] = field(default_factory=dict)
    sampling: dict[str, Any] = field(default_factory=dict)
    prompt_version: str | None = None
    endpoint: str | None = None
    data_sha256: dict[str, str] = field(default_factory=dict)
    evqa_version: str = ""

    def __post_init__(self) -> None:
        # as it reads back from the file (tuples become lists), so headers compare equal across a resume
        for name in ("checkpoint", "task", "sampling", "data_sha256"):
            setattr(self, name, json.loads(json.dumps(getattr(self, name))))
        if not self.evqa_version:
            from evqa import __version__

            self.evqa_version = __version__

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_line(self) -> str:
        """The JSONL header line (without the newline)."""
        return json.dumps({HEADER_KEY: self.to_dict()}, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunHeader:
        """A header from its dict; unknown keys (a newer EVQA) are ignored."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values.setdefault("adapter", "")
        values.setdefault("model", "")
        return cls(**values)


def header_differences(old: RunHeader, new: RunHeader) -> list[str]:
    """The compared fields in which two headers differ, as 'field: old -> new' (nested dicts by key)."""
    out = []
    for name in COMPARED_FIELDS:
        before, after = getattr(old, name), getattr(new, name)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            for key in sorted(set(before) | set(after)):
                if before.get(key) != after.get(key):
                    out.append(f"{name}.{key}: {_short(before.get(key))} -> {_short(after.get(key))}")
        else:
            out.append(f"{name}: {_short(before)} -> {_short(after)}")
    return out


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def read_jsonl(path: str | os.PathLike) -> tuple[RunHeader | None, list[dict[str, Any]], int]:
    """Read a prediction JSONL: (run header or None, records, number of torn lines skipped).

    Records are `{"entry_id": ..., ...}` lines, or `{entry_id: record}` lines (turned into the first
    shape). A line that is not valid UTF-8 JSON, or not one of these shapes, is torn (a killed writer,
    a bad merge) wherever it is: it is skipped and counted, never fatal. A missing file raises
    PredictionError.
    """
    header: RunHeader | None = None
    records: list[dict[str, Any]] = []
    torn = 0
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise PredictionError("file not found", path=path) from None
    except IsADirectoryError:
        raise PredictionError("is a directory, expected a JSONL file", path=path) from None
    with fh:
        for raw in fh:
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                torn += 1
                continue
            if isinstance(obj, dict) and HEADER_KEY in obj and isinstance(obj[HEADER_KEY], dict):
                if header is None:
                    header = RunHeader.from_dict(obj[HEADER_KEY])
                continue
            if isinstance(obj, dict) and "entry_id" in obj:
                records.append(obj)
            elif isinstance(obj, dict) and len(obj) == 1 and isinstance(next(iter(obj.values())), dict):
                key, value = next(iter(obj.items()))
                records.append({"entry_id": key, **value})
            else:
                torn += 1
    return header, records, torn


def _sha256(path: Path, *, limit: int | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        if limit is None:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        else:  # first and last `limit` bytes: a fast fingerprint of a multi-GB file
            digest.update(fh.read(limit))
            fh.seek(max(0, path.stat().st_size - limit))
            digest.update(fh.read(limit))
    return digest.hexdigest()


def checkpoint_fingerprint(path: str | os.PathLike | None) -> dict[str, Any] | None:
    """A fingerprint of a local checkpoint (folder or file); None when `path` is not a local path (an API
    model or hub id, identified by its name).

    {"config_sha256": sha256 over the folder's config files (name + content), "weights": {file name:
    {"size": bytes, "sha256": hex}}}. Weight files over 64 MiB are hashed by their first and last MiB
    (key "sha256_edges") next to their size, so fingerprinting a 15 GB checkpoint stays fast.
    """
    if path is None:
        return None
    path = Path(path)
    if not path.exists():
        return None
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    config = hashlib.sha256()
    weights: dict[str, dict[str, Any]] = {}
    for file in files:
        name = file.relative_to(path).as_posix() if path.is_dir() else file.name
        if name.startswith(".") or "/." in name:
            continue
        if file.suffix.lower() in WEIGHT_SUFFIXES:
            size = file.stat().st_size
            if size <= FULL_HASH_BYTES:
                weights[name] = {"size": size, "sha256": _sha256(file)}
            else:
                weights[name] = {"size": size, "sha256_edges": _sha256(file, limit=_EDGE)}
        elif file.suffix.lower() in CONFIG_SUFFIXES:
            config.update(name.encode() + b"\0" + file.read_bytes() + b"\0")
    return {"config_sha256": config.hexdigest(), "weights": weights}


def data_file_hashes(paths) -> dict[str, str]:
    """{file name: sha256 hex} of the given benchmark files. None entries and paths that are not files are
    left out (the loader that needs a file reports its absence)."""
    out: dict[str, str] = {}
    for item in paths:
        if item is None:
            continue
        path = Path(item)
        if path.is_file():
            out[path.name] = _sha256(path)
    return out


def prompt_version(prompt_style: str = "baseline") -> str:
    """A short fingerprint of the prompts a run sends: the sha256 of every benchmark prompt of
    `evqa.prompts` rendered on a fixed probe question, so it changes exactly when a prompt's wording does."""
    from evqa import prompts

    question, options = "Q?", ["a", "b", "c"]
    rendered = [
        prompt_style,
        prompts.VIDEO_PREAMBLE,
        prompts.frame_label(1.5),
        prompts.image_label("A"),
        prompts.evqa_question_prompt(question, options),
        prompts.gen_single_turn_prompt(question, options),
        *prompts.gen_multi_turn_prompts(question, options),
        prompts.mcq_qa_prompt(question, options),
        prompts.mcq_time_evidence_prompt(question, "a", [[(0.0, 1.5)], [(2.25, 3.0)]]),
        prompts.mcq_spatial_evidence_prompt(question, "a", 3),
    ]
    return f"{prompt_style}-{hashlib.sha256(chr(0).join(rendered).encode()).hexdigest()[:12]}"
