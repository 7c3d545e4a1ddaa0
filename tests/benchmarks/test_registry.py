"""The benchmark registry: names, lazy imports, errors, file lookup, and an entry that asks an adapter
method other than `generate` (VQA²-style scoring) through the one runner."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from evqa.baselines.base import BaselineModel, Request
from evqa.baselines.frames import Sampling
from evqa.baselines.retry import RetryableApiError, RetryPolicy
from evqa.baselines.runner import run_items
from evqa.benchmarks import get_benchmark, list_benchmarks, register_benchmark
from evqa.benchmarks.base import Benchmark, DataFile
from evqa.benchmarks.registry import BENCHMARK_MODULES, _module_exists
from evqa.benchmarks.task import AdapterCaller, BenchmarkTask
from evqa.cli.main import run_command
from evqa.errors import ConfigError, DataError


def test_lists_the_entries_whose_modules_exist(capsys):
    names = list_benchmarks()
    assert names[:4] == ["st_evidence_gen", "st_evidence_mcq", "egotextvqa", "egotempo"]
    assert all(_module_exists(BENCHMARK_MODULES[n]) for n in names)
    assert run_command("benchmarks", []) == 0
    out = capsys.readouterr().out
    for name in names:
        assert f"\n{name}: " in f"\n{out}"
    assert "synthetic: yes (evqa synth --benchmark egotextvqa)" in out
    assert "egotempo_openQA.json" in out and "scored by an LLM judge" in out
    assert run_command("benchmarks", ["egotempo", "--json"]) == 0
    [info] = json.loads(capsys.readouterr().out)
    assert info["metrics"] == ["accuracy", "score"] and info["synthetic"] and info["judge"]


def test_modules_are_imported_only_when_used():
    code = (
        "import sys; from evqa.benchmarks import list_benchmarks, get_benchmark; list_benchmarks(); "
        "a = 'evqa.benchmarks.egotextvqa' in sys.modules; get_benchmark('egotempo'); "
        "print(a, 'evqa.benchmarks.egotextvqa' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "False"]


def test_unknown_and_duplicate_names():
    with pytest.raises(
        ConfigError, match="unknown benchmark 'nope'; known: st_evidence_gen, st_evidence_mcq"
    ):
        get_benchmark("nope")
    assert run_command("eval", ["--benchmark", "nope", "x.json"]) == 2
    with pytest.raises(ValueError, match="registered twice"):
        register_benchmark("egotempo")(type("Other", (Benchmark,), {}))


def test_locate_errors_name_what_is_missing(tmp_path):
    bench = get_benchmark("egotempo")
    with pytest.raises(ConfigError, match="give --data-dir or --qa-file"):
        bench.locate(None)
    with pytest.raises(DataError, match=r"looked for egotempo_openQA.json, data/egotempo_openQA.json"):
        bench.locate(tmp_path)
    with pytest.raises(DataError, match="data directory does not exist"):
        bench.locate(tmp_path / "absent")


class LevelsModel(BaselineModel):
    """An adapter with a non-generating method: next-token level probabilities (fails once, 429)."""

    name = "levels"
    needs_frames = False
    calls = 0

    def score_levels(self, request: Request) -> dict:
        LevelsModel.calls += 1
        if LevelsModel.calls == 1:
            raise RetryableApiError("busy", status=429, retry_after=0.0)
        return {"probs": [0.1, 0.2, 0.4, 0.2, 0.1], "prompt": request.prompt}


class LevelsTask(BenchmarkTask):
    def video_of(self, record):
        return str(record["video"])

    def prompt(self, record):
        return "How would you rate the quality of this video?"

    def read_reply(self, record, reply):
        weights = np.array([1.0, 0.8, 0.6, 0.4, 0.2])
        return {"parsed_response": {"score": float(np.dot(reply["probs"], weights))}, "raw_response": reply}


@register_benchmark("test_levels")
class LevelsBenchmark(Benchmark):
    data_files = (DataFile("videos", ("--videos",), ("videos",), "clips", kind="dir"),)
    ask_method = "score_levels"


def test_an_entry_can_ask_another_adapter_method(tmp_path):
    from evqa.data.video import write_video

    write_video(tmp_path / "v.mp4", np.zeros((6, 16, 16, 3), np.uint8), 6.0)
    record = type("R", (dict,), {"entry_id": "clip1"})(video=tmp_path / "v.mp4")
    task = LevelsTask([record], video_dir=None, sampling=Sampling(fps=1.0), needs_frames=False)
    bench = get_benchmark("test_levels")
    task.bind(AdapterCaller(LevelsModel(), bench.ask_method, RetryPolicy(base_delay=0.0)))
    summary = run_items(task.items(), task.process, tmp_path / "out.json", progress=False)
    assert summary.done == 1 and LevelsModel.calls == 2  # the 429 was retried by the runner's policy
    out = json.loads((tmp_path / "out.json").read_text())["clip1"]
    assert out["parsed_response"]["score"] == pytest.approx(0.1 + 0.16 + 0.24 + 0.08 + 0.02)
    assert out["raw_response"]["prompt"] == "How would you rate the quality of this video?"
    with pytest.raises(ConfigError, match="has no 'score_levels' method"):
        AdapterCaller(BaselineModel(), "score_levels")
