"""The one inference loop of EVQA: every model, every task.

`run_items` takes work items and a `process(item) -> record` function and owns everything around it:
sharding, resume (skip finished entries, re-run failed ones), N calls in flight, the progress bar, one
JSONL line per finished item, secret redaction, and the final JSON. `run_inference` wires a model and a task
(`evqa.baselines.tasks`) into it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from evqa.baselines.calling import failure_record
from evqa.baselines.store import (
    JsonlWriter,
    check_resume,
    collect_records,
    is_finished,
    merge_outputs,
    shard_jsonl_path,
)
from evqa.errors import AuthenticationError, ConfigError
from evqa.run_files import RunHeader

log = logging.getLogger(__name__)

SECRET_ENV_VARS = ("OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")


def redact(value: Any) -> Any:
    """Replace every API key found in the environment by '***' inside strings, lists and dicts."""
    secrets = [os.environ[k] for k in SECRET_ENV_VARS if len(os.environ.get(k, "")) >= 4]
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "***")
        return value
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def resolve_shard(num_shards: int | None, shard_index: int | None) -> tuple[int, int]:
    """(shard_index, num_shards) from the flags, else torchrun's RANK / WORLD_SIZE, else (0, 1)."""
    if num_shards is None:
        num_shards = int(os.environ.get("WORLD_SIZE", "1"))
        shard_index = int(os.environ.get("RANK", "0")) if shard_index is None else shard_index
    shard_index = 0 if shard_index is None else shard_index
    if num_shards < 1 or not 0 <= shard_index < num_shards:
        raise ConfigError(f"shard index {shard_index} is not in 0..{num_shards - 1}", field="--shard_index")
    return shard_index, num_shards


@dataclass
class RunSummary:
    """What a run did: counts of items and where the outputs are."""

    total: int = 0
    skipped: int = 0
    done: int = 0
    failed: int = 0
    transient: int = 0  # failures a re-run may fix (rate limits, timeouts after every retry)
    jsonl_path: str = ""
    out_path: str | None = None
    errors: dict[str, str] = field(default_factory=dict)


def run_items(
    items: Sequence[tuple[str, Any]],
    process: Callable[[Any], dict[str, Any]],
    out_path: str | os.PathLike,
    *,
    concurrency: int = 1,
    shard_index: int | None = None,
    num_shards: int | None = None,
    progress: bool = True,
    write_final: bool | None = None,
    batch_size: int = 1,
    process_batch: Callable[[list[Any]], list[dict[str, Any]]] | None = None,
    header: RunHeader | None = None,
    overwrite: bool = False,
) -> RunSummary:
    """Run `process` over `items` ((entry_id, payload) pairs in benchmark order) and store the records.

    Each shard takes items[i::K]; entries finished in any file of this output are skipped; each new
    record is appended to the shard's JSONL as soon as it is done. With `process_batch` and batch_size > 1
    items go to it in chunks (local models) instead of `process` with `concurrency` threads (API models). The final JSON (`out_path`) is written
    atomically at the end of an unsharded run (`write_final=None`); sharded runs leave it to `merge_outputs`.

    With a run `header`, the shard's JSONL starts with it and the run resumes only into files written by
    the same run (`store.check_resume`: ConfigError listing the differing fields); `overwrite` removes the
    earlier files of this output first.
    """
    shard_index, num_shards = resolve_shard(num_shards, shard_index)
    mine = list(items)[shard_index::num_shards]
    jsonl = shard_jsonl_path(out_path, shard_index, num_shards)
    if header is not None:
        check_resume(out_path, header, jsonl, overwrite=overwrite)
    elif overwrite:
        for path in (jsonl, Path(out_path)):
            path.unlink(missing_ok=True)
    existing = collect_records(out_path)
    todo = [(k, p) for k, p in mine if not (k in existing and is_finished(existing[k]))]
    summary = RunSummary(total=len(mine), skipped=len(mine) - len(todo))
    summary.jsonl_path = str(jsonl)
    if summary.skipped:
        log.info(
            "resuming %s: %d of %d entries already finished, %d to run",
            jsonl,
            summary.skipped,
            len(mine),
            len(todo),
        )
    with (
        JsonlWriter(jsonl, header) as writer,
        tqdm(total=len(todo), disable=not progress, desc="infer") as bar,
    ):
        if process_batch is not None and batch_size > 1:
            results = _iterate_batches(todo, process_batch, batch_size)
        else:
            results = _iterate(todo, process, max(1, concurrency))
        try:
            for key, record in results:
                record = redact(record)
                writer.append(key, record)
                if is_finished(record):
                    summary.done += 1
                else:
                    summary.failed += 1
                    summary.transient += bool((record.get("meta") or {}).get("transient"))
                    summary.errors[key] = record["error"]
                bar.update(1)
        except AuthenticationError as err:
            raise AuthenticationError(
                f"{redact(str(err))}; stopped at the first refused request "
                f"({summary.done + summary.failed} entries written before it, {len(todo)} to run)",
                status=err.status,
            ) from None
    if write_final if write_final is not None else num_shards == 1:
        merge_outputs(out_path, order=[k for k, _ in items])
        summary.out_path = str(out_path)
        log.info(
            "wrote %s (%d done, %d failed, %d resumed)",
            out_path,
            summary.done,
            summary.failed,
            summary.skipped,
        )
    else:
        log.info("wrote %s; merge the shards with --merge when every shard is done", jsonl)
    return summary


def _guarded(process: Callable[[Any], dict[str, Any]], item: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        record = process(item)
    except Exception as err:  # noqa: BLE001 - one item's failure is recorded, the run goes on
        return failure_record(err, started)
    record.setdefault("error", None)
    record.setdefault("meta", {}).setdefault("elapsed_s", round(time.perf_counter() - started, 3))
    return record


def _iterate_batches(todo: list[tuple[str, Any]], process_batch, batch_size: int):
    """Yield (entry_id, record) chunk by chunk."""
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        started = time.perf_counter()
        try:
            records = process_batch([payload for _, payload in chunk])
        except Exception as err:  # noqa: BLE001
            records = [failure_record(err, started)] * len(chunk)
        yield from zip([key for key, _ in chunk], records, strict=True)


def _iterate(todo: list[tuple[str, Any]], process: Callable[[Any], dict[str, Any]], concurrency: int):
    """Yield (entry_id, record) as items finish, with at most `concurrency` in flight."""
    if concurrency == 1:
        for key, payload in todo:
            yield key, _guarded(process, payload)
        return
    pending: dict[Future, str] = {}
    queue = iter(todo)
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="evqa-infer")
    try:
        while True:
            while len(pending) < concurrency:
                nxt = next(queue, None)
                if nxt is None:
                    break
                pending[pool.submit(_guarded, process, nxt[1])] = nxt[0]
            if not pending:
                return
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield pending.pop(future), future.result()
    finally:  # a fatal error (refused credentials) or an interrupt: start nothing new
        pool.shutdown(wait=True, cancel_futures=True)
