"""The runner's bookkeeping: JSONL per item, resume, torn lines, sharding + merge, redaction, concurrency."""

import json
import threading
import time

import pytest

from evqa.baselines.runner import redact, resolve_shard, run_items
from evqa.baselines.store import collect_records, merge_outputs, shard_jsonl_path
from evqa.errors import ApiError, ConfigError

ITEMS = [(f"e{i}", i) for i in range(7)]


def answer(i):
    return {"parsed_response": {"answer": "ABCDE"[i % 5]}, "raw_response": f"reply {i}", "error": None}


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_every_item_is_a_line_and_the_final_json_follows_benchmark_order(tmp_path):
    out = tmp_path / "pred.json"
    summary = run_items(ITEMS, answer, out, concurrency=3, progress=False)
    assert (summary.total, summary.done, summary.failed, summary.skipped) == (7, 7, 0, 0)
    assert sorted(r["entry_id"] for r in lines(tmp_path / "pred.jsonl")) == [k for k, _ in ITEMS]
    final = json.loads(out.read_text())
    assert list(final) == [k for k, _ in ITEMS]
    assert final["e3"]["parsed_response"] == {"answer": "D"}
    assert final["e3"]["meta"]["elapsed_s"] >= 0


def test_failures_are_recorded_and_rerun_on_resume_finished_ones_are_not(tmp_path):
    out = tmp_path / "pred.json"
    broken = {"e2", "e5"}

    def flaky(i):
        if f"e{i}" in broken:
            raise ApiError(f"HTTP 500 for item {i}")
        return answer(i)

    first = run_items(ITEMS, flaky, out, progress=False)
    assert (first.done, first.failed) == (5, 2)
    assert first.errors["e2"] == "ApiError: HTTP 500 for item 2"
    assert json.loads(out.read_text())["e5"]["parsed_response"] is None

    calls = []
    second = run_items(ITEMS, lambda i: calls.append(i) or answer(i), out, progress=False)
    assert sorted(calls) == [2, 5]
    assert (second.skipped, second.done, second.failed) == (5, 2, 0)
    final = json.loads(out.read_text())
    assert all(rec["error"] is None for rec in final.values())
    assert final["e5"]["raw_response"] == "reply 5"


def test_unexpected_exceptions_name_where_they_happened(tmp_path):
    out = tmp_path / "pred.json"
    run_items([("x", 0)], lambda i: {}["missing"], out, progress=False)
    error = json.loads(out.read_text())["x"]["error"]
    assert error.startswith("KeyError: 'missing' | File")


def test_a_torn_last_line_is_ignored_and_the_next_line_starts_fresh(tmp_path):
    out = tmp_path / "pred.json"
    jsonl = shard_jsonl_path(out)
    jsonl.write_text(json.dumps({"entry_id": "e0", **answer(0)}) + '\n{"entry_id": "e1", "parsed_resp')
    calls = []
    run_items(ITEMS[:3], lambda i: calls.append(i) or answer(i), out, progress=False)
    assert calls == [1, 2]
    assert [r["entry_id"] for r in lines_ok(jsonl)] == ["e0", "e1", "e2"]


def lines_ok(path):
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def test_a_finished_entry_is_never_replaced(tmp_path):
    out = tmp_path / "pred.json"
    first = {"entry_id": "e0", **answer(0)}
    later = {"entry_id": "e0", "parsed_response": {"answer": "E"}, "raw_response": "other", "error": None}
    shard_jsonl_path(out, 0, 2).write_text(json.dumps(first) + "\n")
    shard_jsonl_path(out, 1, 2).write_text(json.dumps(later) + "\n")
    assert merge_outputs(out)["e0"]["parsed_response"] == {"answer": "A"}


def test_two_shards_plus_merge_equal_a_single_run(tmp_path):
    single = tmp_path / "single" / "pred.json"
    run_items(ITEMS, answer, single, progress=False)
    sharded = tmp_path / "sharded" / "pred.json"
    for index in (1, 0):
        summary = run_items(ITEMS, answer, sharded, num_shards=2, shard_index=index, progress=False)
        assert summary.out_path is None and summary.total == (4 if index == 0 else 3)
    assert not sharded.exists()
    merged = merge_outputs(sharded, order=[k for k, _ in ITEMS])

    def strip(records):
        return {k: {f: v for f, v in r.items() if f != "meta"} for k, r in records.items()}

    assert list(merged) == list(json.loads(single.read_text()))
    assert strip(merged) == strip(json.loads(single.read_text()))


def test_a_shard_skips_entries_another_shard_or_run_finished(tmp_path):
    out = tmp_path / "pred.json"
    run_items(ITEMS, answer, out, progress=False)
    calls = []
    summary = run_items(ITEMS, lambda i: calls.append(i), out, num_shards=2, shard_index=0, progress=False)
    assert calls == [] and summary.skipped == 4


def test_torchrun_environment_picks_the_shard(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    assert resolve_shard(None, None) == (3, 4)
    assert resolve_shard(2, 1) == (1, 2)
    with pytest.raises(ConfigError, match="shard index 2 is not in 0..1"):
        resolve_shard(2, 2)


def test_redact_removes_api_keys_everywhere(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-123")
    record = {"error": "401: key sk-secret-123 invalid", "meta": {"x": ["sk-secret-123"]}}
    assert redact(record) == {"error": "401: key *** invalid", "meta": {"x": ["***"]}}


def test_concurrency_keeps_n_calls_in_flight(tmp_path):
    active, peak, lock = [0], [0], threading.Lock()

    def slow(i):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return answer(i)

    items = [(f"e{i}", i) for i in range(20)]
    run_items(items, slow, tmp_path / "p.json", concurrency=5, progress=False)
    assert peak[0] == 5  # never more, and at some point exactly N, in flight
    assert len(collect_records(tmp_path / "p.json")) == 20
