"""Runner files end to end: the scorers read them, SIGKILL + re-run loses and repeats nothing, and two
shards + merge equal one run."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from evqa.baselines.store import read_jsonl
from evqa.cli.main import run_command
from evqa.data.st_evidence import load_gen_benchmark, load_mcq_benchmark
from evqa.eval.mcq import evaluate_mcq
from evqa.eval.st_evidence import evaluate_gen

from .conftest import API_KEY
from .fake_api import FakeOpenAI


def infer(*argv):
    return run_command("infer", [*argv, "--no-progress"])


def test_scorer_accepts_gen_json_and_jsonl(synth_env, openai_server, tmp_path):
    out = tmp_path / "gen.json"
    assert infer("--model", "gpt-4o", "--output", str(out)) == 0
    entries = load_gen_benchmark(synth_env.gen_csv)
    expected = 100 * sum(e.answer_index == 0 for e in entries) / len(entries)  # the fake model always says A
    for path in (out, out.with_suffix(".jsonl")):
        results = evaluate_gen(synth_env.gen_csv, str(path), progress=False)
        assert results["qa_metrics"]["accuracy"] == pytest.approx(
            expected, abs=1e-4
        )  # reported to 4 decimals
        assert results["qa_metrics"]["total"] == len(entries)
        skipped = results["skipped"]
        assert (
            skipped["missing_predictions"]
            == skipped["failed_predictions"]
            == skipped["unparsable_answers"]
            == 0
        )


def test_scorer_accepts_mcq_files(synth_env, openai_server, tmp_path):
    out = tmp_path / "mcq.json"
    assert infer("--model", "gpt-4o", "--task", "mcq", "--output", str(out)) == 0
    entries = load_mcq_benchmark(synth_env.mcq_csv, synth_env.temp_options, synth_env.mask_options)
    results = evaluate_mcq(
        str(out),
        data_file=synth_env.mcq_csv,
        distractors_file=synth_env.temp_options,
        mask_file=synth_env.mask_options,
    )
    n = len(entries)
    assert results["qa"]["accuracy"] == pytest.approx(100 * sum(e.answer == "A" for e in entries) / n)
    assert results["temporal"]["accuracy"] == pytest.approx(
        100 * sum(e.time_answer == "B" for e in entries) / n
    )
    assert results["spatial"]["accuracy"] == pytest.approx(
        100 * sum(e.mask_answer == "C" for e in entries) / n
    )
    assert (
        results["qa"]["coverage"] == results["temporal"]["coverage"] == results["spatial"]["coverage"] == 100
    )


def _env(server, synth):
    return {
        **os.environ,
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": server.url + "/v1",
        "EVQA_SYNTH_ROOT": str(synth.root),
    }


def _lines(path):
    return list(read_jsonl(path)) if path.exists() else []


def test_sigkill_then_rerun_completes_without_rerunning_or_losing(synth, tmp_path):
    out = tmp_path / "killed.json"
    jsonl = out.with_suffix(".jsonl")
    cmd = [
        sys.executable,
        "-m",
        "evqa.cli.main",
        "infer",
        "--model",
        "gpt-4o",
        "--output",
        str(out),
        "--concurrency",
        "1",
        "--no-progress",
    ]
    entries = load_gen_benchmark(synth.gen_csv)
    with FakeOpenAI(latency=0.6) as server:
        proc = subprocess.Popen(
            cmd, env=_env(server, synth), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while len(_lines(jsonl)) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    before = {r["entry_id"]: r for r in _lines(jsonl)}
    assert 2 <= len(before) < len(entries)
    assert not out.exists()  # the final JSON is only written at the end

    with FakeOpenAI() as server:
        done = subprocess.run(cmd, env=_env(server, synth), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        asked = [json.loads(r["raw"])["messages"][0]["content"][-1]["text"] for r in server.requests]
    assert len(asked) == len(entries) - len(before)  # no finished entry was asked again
    final = json.loads(out.read_text())
    assert list(final) == [e.entry_id for e in entries]
    for entry_id, record in before.items():  # the finished records are kept as they were
        assert final[entry_id] == {k: v for k, v in record.items() if k != "entry_id"}
    assert API_KEY not in out.read_text() + jsonl.read_text() + done.stdout + done.stderr


def test_two_shards_and_merge_equal_a_single_run(synth_env, openai_server, tmp_path):
    single = tmp_path / "single.json"
    assert infer("--model", "gpt-4o", "--task", "mcq", "--output", str(single)) == 0
    sharded = tmp_path / "sharded.json"
    for index in ("0", "1"):
        assert (
            infer(
                "--model",
                "gpt-4o",
                "--task",
                "mcq",
                "--output",
                str(sharded),
                "--num_shards",
                "2",
                "--shard_index",
                index,
            )
            == 0
        )
    assert not sharded.exists()
    assert infer("--merge", "--task", "mcq", "--output", str(sharded)) == 0

    def strip(path):
        return {
            k: {f: v for f, v in r.items() if f != "meta"} for k, r in json.loads(path.read_text()).items()
        }

    assert list(strip(sharded)) == list(strip(single))
    assert strip(sharded) == strip(single)
    files = {
        "data_file": synth_env.mcq_csv,
        "distractors_file": synth_env.temp_options,
        "mask_file": synth_env.mask_options,
    }
    merged_scores, single_scores = evaluate_mcq(str(sharded), **files), evaluate_mcq(str(single), **files)
    assert merged_scores == single_scores and merged_scores["missing_predictions"] == []
    assert sorted(p.name for p in tmp_path.glob("sharded*.jsonl")) == [
        "sharded.shard-0-of-2.jsonl",
        "sharded.shard-1-of-2.jsonl",
    ]
