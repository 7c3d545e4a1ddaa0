"""Runs that never mix: the run header, resume refused for another run's files, --overwrite, given data
paths that must exist, one-line errors for impossible options, a refused API key stopping the run."""

import json
import os
import stat

import numpy as np
import pytest

from evqa.baselines.runner import run_items
from evqa.baselines.store import merge_outputs, shard_jsonl_path
from evqa.cli.infer import failure_advice
from evqa.cli.main import run_command
from evqa.errors import ConfigError
from evqa.io import write_json_atomic
from evqa.run_files import RunHeader, checkpoint_fingerprint, data_file_hashes, read_jsonl

from .fake_api import FakeOpenAI

ITEMS = [(f"e{i}", i) for i in range(4)]


def answer(i):
    return {"parsed_response": {"answer": "A"}, "raw_response": f"reply {i}", "error": None}


def header(**changes):
    base = dict(
        adapter="ours",
        model="runs/a/final",
        checkpoint={"config_sha256": "c1", "weights": {"model.safetensors": {"size": 10, "sha256": "w1"}}},
        task={"name": "gen", "mode": "single-turn"},
        sampling={"fps": 1.0, "num_frames": None, "max_frames": 16, "max_size": 448},
        prompt_version="evqa-abc",
        endpoint=None,
        data_sha256={"st_evidence_gen.csv": "d1"},
    )
    return RunHeader(**{**base, **changes})


def infer(*argv):
    return run_command("infer", [*argv, "--no-progress"])


# --------------------------------------------------------------- the header and the reader


def test_the_jsonl_starts_with_the_run_header_and_reads_back(tmp_path):
    out = tmp_path / "pred.json"
    run_items(ITEMS, answer, out, progress=False, header=header())
    first = json.loads((tmp_path / "pred.jsonl").read_text().splitlines()[0])
    assert set(first) == {"__run__"}
    assert set(first["__run__"]) == {
        "adapter",
        "model",
        "checkpoint",
        "task",
        "sampling",
        "prompt_version",
        "endpoint",
        "data_sha256",
        "evqa_version",
    }
    read, records, torn = read_jsonl(tmp_path / "pred.jsonl")
    assert read == header() and [r["entry_id"] for r in records] == ["e0", "e1", "e2", "e3"] and torn == 0
    assert "__run__" not in json.loads(out.read_text())  # the final JSON keeps upstream's shape
    assert list(json.loads(out.read_text())) == ["e0", "e1", "e2", "e3"]


def test_torn_lines_anywhere_are_skipped_and_counted(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(
        header().to_line().encode()
        + b'\n{"entry_id": "a", "error": null}\n{"entry_id": "b", "err\n\xff\xfe\n[1]\n'
        + b'{"c": {"error": null}}\n{"entry_id": "d", "error": nu'
    )
    read, records, torn = read_jsonl(path)
    assert read.model == "runs/a/final"
    assert [r["entry_id"] for r in records] == ["a", "c"] and torn == 4


def test_the_runner_resumes_over_a_torn_middle_line(tmp_path):
    out = tmp_path / "pred.json"
    jsonl = shard_jsonl_path(out)
    jsonl.write_text(
        header().to_line()
        + "\n"
        + json.dumps({"entry_id": "e0", **answer(0)})
        + '\n{"entry_id": "e1", "par\n'
        + json.dumps({"entry_id": "e2", **answer(2)})
        + "\n"
    )
    calls = []
    summary = run_items(ITEMS, lambda i: calls.append(i) or answer(i), out, progress=False, header=header())
    assert calls == [1, 3] and summary.skipped == 2


# --------------------------------------------------------------- resume only into the same run


def test_resume_refuses_another_checkpoint_listing_the_fields(tmp_path):
    out = tmp_path / "final_st_evidence_single_1fps.json"
    run_items(ITEMS[:2], answer, out, progress=False, header=header())
    other = header(
        model="runs/b/final",
        checkpoint={"config_sha256": "c1", "weights": {"model.safetensors": {"size": 10, "sha256": "w2"}}},
    )
    calls = []
    with pytest.raises(ConfigError) as err:
        run_items(ITEMS, lambda i: calls.append(i) or answer(i), out, progress=False, header=other)
    message = str(err.value)
    assert "was written by another run" in message and "--overwrite" in message
    assert "model: runs/a/final -> runs/b/final" in message
    assert "checkpoint.weights:" in message
    assert "\n" not in message and calls == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sampling": {"fps": 2.0, "num_frames": None, "max_frames": 16, "max_size": 448}}, "sampling.fps"),
        ({"prompt_version": "evqa-def"}, "prompt_version"),
        ({"data_sha256": {"st_evidence_gen.csv": "d2"}}, "data_sha256.st_evidence_gen.csv"),
        ({"adapter": "unipixel"}, "adapter"),
    ],
)
def test_resume_refuses_other_sampling_prompts_data_adapter(tmp_path, change, field):
    out = tmp_path / "pred.json"
    run_items(ITEMS[:1], answer, out, progress=False, header=header())
    with pytest.raises(ConfigError, match=f"{field}: "):
        run_items(ITEMS, answer, out, progress=False, header=header(**change))


def test_same_run_resumes_and_endpoint_or_version_do_not_block(tmp_path):
    out = tmp_path / "pred.json"
    run_items(ITEMS[:2], answer, out, progress=False, header=header(endpoint="http://127.0.0.1:1/v1"))
    calls = []
    same = header(endpoint="http://127.0.0.1:2/v1", evqa_version="9.9")
    summary = run_items(ITEMS, lambda i: calls.append(i) or answer(i), out, progress=False, header=same)
    assert calls == [2, 3] and (summary.skipped, summary.done) == (2, 2)


def test_overwrite_starts_afresh(tmp_path):
    out = tmp_path / "pred.json"
    run_items(ITEMS, answer, out, progress=False, header=header())
    calls = []
    other = header(model="runs/b/final")
    summary = run_items(
        ITEMS, lambda i: calls.append(i) or answer(i), out, progress=False, header=other, overwrite=True
    )
    assert calls == [0, 1, 2, 3] and summary.skipped == 0
    assert read_jsonl(tmp_path / "pred.jsonl")[0].model == "runs/b/final"


def test_a_headerless_file_is_not_resumed_into(tmp_path):
    out = tmp_path / "pred.json"
    shard_jsonl_path(out).write_text(json.dumps({"entry_id": "e0", **answer(0)}) + "\n")
    with pytest.raises(ConfigError, match="has no run header"):
        run_items(ITEMS, answer, out, progress=False, header=header())
    write_json_atomic(tmp_path / "old.json", {"e0": answer(0)})
    with pytest.raises(ConfigError, match="exists without the JSONL"):
        run_items(ITEMS, answer, tmp_path / "old.json", progress=False, header=header())


def test_merge_refuses_shards_of_different_runs(tmp_path):
    out = tmp_path / "pred.json"
    run_items(ITEMS, answer, out, num_shards=2, shard_index=0, progress=False, header=header())
    with pytest.raises(ConfigError, match="was written by another run"):  # a shard of another run
        run_items(ITEMS, answer, out, num_shards=2, shard_index=1, progress=False, header=header(model="x"))
    shard_jsonl_path(out, 1, 2).write_text(
        header(model="x").to_line() + "\n" + json.dumps({"entry_id": "e1", **answer(1)}) + "\n"
    )
    with pytest.raises(ConfigError, match="come from different runs .*model: runs/a/final -> x"):
        merge_outputs(out)


def test_checkpoint_fingerprint_tells_two_finals_apart(tmp_path):
    for name, weights in (("a", b"\x00" * 64), ("b", b"\x01" * 64), ("c", b"\x00" * 64)):
        folder = tmp_path / name / "final"
        folder.mkdir(parents=True)
        (folder / "config.json").write_text('{"hidden": 8}')
        (folder / "model.safetensors").write_bytes(weights)
    a, b, c = (checkpoint_fingerprint(tmp_path / n / "final") for n in "abc")
    assert a == c and a != b
    assert a["weights"]["model.safetensors"]["size"] == 64
    assert checkpoint_fingerprint("gpt-4o") is None
    (tmp_path / "c" / "final" / "config.json").write_text('{"hidden": 16}')
    assert checkpoint_fingerprint(tmp_path / "c" / "final")["config_sha256"] != a["config_sha256"]


def test_data_file_hashes(tmp_path):
    (tmp_path / "gt.csv").write_bytes(b"abc")
    assert data_file_hashes([tmp_path / "gt.csv", None]) == {
        "gt.csv": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    }


# --------------------------------------------------------------- end to end through `evqa infer`


def test_a_different_model_into_the_same_output_is_refused(synth_env, openai_server, tmp_path, capsys):
    out = tmp_path / "pred.json"
    assert infer("--model", "gpt-4o", "--output", str(out), "--limit", "2") == 0
    asked = len(openai_server.requests)
    capsys.readouterr()
    assert infer("--model", "o3", "--output", str(out)) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "model: gpt-4o -> o3" in err and "Traceback" not in err
    assert len(openai_server.requests) == asked  # nothing was sent
    assert infer("--model", "gpt-4o", "--output", str(out)) == 0  # the same model resumes
    header_line = read_jsonl(out.with_suffix(".jsonl"))[0]
    assert header_line.adapter == "gpt" and header_line.endpoint == openai_server.url + "/v1/"
    assert set(header_line.data_sha256) == {"st_evidence_gen.csv"}
    assert header_line.sampling["fps"] == 1.0 and header_line.prompt_version.startswith("baseline-")
    assert infer("--model", "o3", "--output", str(out), "--overwrite") == 0
    assert read_jsonl(out.with_suffix(".jsonl"))[0].model == "o3"


def test_a_missing_data_path_is_an_error_not_the_synthetic_benchmark(
    synth_env, openai_server, tmp_path, capsys
):
    out = tmp_path / "pred.json"
    assert infer("--model", "gpt-4o", "--gt_file", str(tmp_path / "typo.csv"), "--output", str(out)) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {tmp_path / 'typo.csv'}: field '--gt_file': file not found"
    assert openai_server.requests == [] and not out.with_suffix(".jsonl").exists()
    assert infer("--model", "gpt-4o", "--task", "mcq", "--data_file", "nope.csv", "--output", str(out)) == 2
    assert "nope.csv: field '--data_file': file not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--fps", "0"], "field '--fps': must be greater than 0, got 0"),
        (["--fps", "-1"], "field '--fps': must be greater than 0, got -1"),
        (["--max-frames", "0"], "field '--max-frames': must be greater than 0, got 0"),
        (["--num-frames", "0"], "field '--num-frames': must be greater than 0, got 0"),
        (["--limit", "-2"], "field '--limit': must not be negative, got -2"),
    ],
)
def test_impossible_sampling_is_one_line(synth_env, openai_server, tmp_path, capsys, flags, message):
    assert infer("--model", "gpt-4o", "--output", str(tmp_path / "p.json"), *flags) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {message}"


def test_cuda_without_cuda_is_one_line(synth_env, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    for flags, field in ((["--device", "cuda"], "--device"), (["--gpu-num", "2"], "--gpu-num")):
        code = infer("--model", "qwen3_vl", "--output", str(tmp_path / "p.json"), *flags)
        assert code == 2
        err = capsys.readouterr().err.strip()
        assert err == f"error: field '{field}': CUDA is not available on this machine; use --device cpu"


def test_unsafe_ids_in_a_benchmark_are_refused(openai_server, tmp_path, capsys):
    csv = tmp_path / "gt.csv"
    csv.write_text(
        "entry_id,video_id,video_path,question,answer,candidates,segment\n"
        '../../escape,v,v.mp4,Q,x,"[\'x\']","[[0, 1]]"\n'
    )
    assert infer("--model", "gpt-4o", "--gt_file", str(csv), "--output", str(tmp_path / "o" / "p.json")) == 2
    err = capsys.readouterr().err
    assert "field 'entry_id': entry id '../../escape' contains a path separator" in err
    assert openai_server.requests == [] and not (tmp_path / "escape.json").exists()


def test_a_refused_api_key_stops_the_run_at_the_first_401(synth_env, monkeypatch, tmp_path, capsys):
    out = tmp_path / "pred.json"
    with FakeOpenAI(faults=["401"] * 100) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-0000")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
        code = infer("--model", "gpt-4o", "--output", str(out), "--concurrency", "1")
        assert code == 2 and len(server.requests) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "HTTP 401" in err and "stopped at the first refused request" in err
    assert "sk-wrong-key-0000" not in err
    _, records, _ = read_jsonl(out.with_suffix(".jsonl"))
    assert records == []  # no entry was recorded as failed: a run with the right key does them all


def test_a_refused_key_with_many_in_flight_stops_too(synth_env, monkeypatch, tmp_path, capsys):
    with FakeOpenAI(faults=["403"] * 100, latency=0.05) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-0000")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
        assert infer("--model", "gpt-4o", "--output", str(tmp_path / "p.json"), "--concurrency", "2") == 2
        assert len(server.requests) <= 3  # the ones already in flight, nothing new
    assert "HTTP 403" in capsys.readouterr().err


def test_permanent_failures_are_not_told_to_retry(synth_env, openai_server, tmp_path, capsys):
    assert "run the same command again" in failure_advice(3, 3)
    assert "run the same command again" not in failure_advice(2, 0)
    assert "fix their cause first" in failure_advice(2, 0)
    assert "2 of them on errors a re-run repeats" in failure_advice(3, 1)
    # an entry whose video is missing fails the same way every time
    csv = tmp_path / "gt.csv"
    csv.write_text(
        "entry_id,video_id,video_path,question,answer,candidates,segment\n"
        'e1,v,missing.mp4,Q,x,"[\'x\']","[[0, 1]]"\n'
    )
    assert infer("--model", "gpt-4o", "--gt_file", str(csv), "--output", str(tmp_path / "p.json")) == 1
    err = capsys.readouterr().err
    assert "video not found" in err and "fix their cause first" in err and "again to retry" not in err


def test_output_files_respect_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "a.json", {"x": 1})
        assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
        os.umask(0o002)
        write_json_atomic(tmp_path / "b.json", {"x": 1})
        assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o664
    finally:
        os.umask(old)


def test_synth_folders_respect_the_umask(tmp_path):
    from evqa.data.synth import ensure_synth

    old = os.umask(0o022)
    try:
        paths = ensure_synth(tmp_path / "synth", num_train=1, num_test=1)
    finally:
        os.umask(old)
    assert stat.S_IMODE(paths.root.stat().st_mode) == 0o755
    assert stat.S_IMODE(paths.meta.stat().st_mode) & 0o044 == 0o044


# --------------------------------------------------------------- the multi-GPU script


def _multigpu(tmp_path, *args, fail_shard=None, gpus=2):
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "benchmark/st_evidence_gen/ours_st_evidence_multigpu.sh"
    stub = tmp_path / "stub"
    stub.mkdir(exist_ok=True)
    log = tmp_path / "calls.log"
    (stub / "nvidia-smi").write_text(
        "#!/usr/bin/env bash\n" + "".join(f"echo 'GPU {i}: Fake (UUID: GPU-{i})'\n" for i in range(gpus))
    )
    (stub / "fakepython").write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$CUDA_VISIBLE_DEVICES $*" >> {log}\n'
        f'case " $* " in *" --shard_index {fail_shard} "*) exit 1 ;; esac\n'
    )
    for name in ("nvidia-smi", "fakepython"):
        (stub / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{stub}:{os.environ['PATH']}", "PYTHON": "fakepython"}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    done = subprocess.run(
        ["bash", str(script), "/ckpt", *args], env=env, capture_output=True, text=True, timeout=60
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return done, calls


def test_multigpu_script_checks_the_gpu_count(tmp_path):
    done, calls = _multigpu(tmp_path, "4", "0", gpus=2)
    assert done.returncode == 2 and calls == []
    assert done.stderr.strip() == "error: GPUs 0..3 asked for, this machine has 2"


def test_multigpu_script_never_merges_over_a_failed_shard(tmp_path):
    done, calls = _multigpu(tmp_path, "2", "0", fail_shard=1)
    assert done.returncode == 1
    assert "shard(s) 1 of 2 failed; nothing merged" in done.stderr
    assert sorted(c.split(" --num_shards")[0] for c in calls) == [
        "0 ours_st_evidence.py --model /ckpt",
        "1 ours_st_evidence.py --model /ckpt",
    ]
    assert not any("--merge" in c for c in calls)


def test_multigpu_script_merges_when_every_shard_succeeded(tmp_path):
    done, calls = _multigpu(tmp_path, "2", "0", "--fps", "1")
    assert done.returncode == 0, done.stderr
    assert calls[-1] == " ours_st_evidence.py --model /ckpt --merge --fps 1"
    assert len(calls) == 3


# --------------------------------------------------------------- ids and the synthetic default


@pytest.mark.parametrize("entry_id", ["../../x", "/abs/x", "a\x00b", "x" * 201])
def test_masks_are_never_written_outside_the_mask_folder(tmp_path, entry_id):
    from evqa.baselines.base import Response
    from evqa.baselines.frames import Frames, Sampling
    from evqa.baselines.tasks import GenTask
    from evqa.errors import InputError

    task = GenTask([], video_dir=None, sampling=Sampling(), mask_dir=tmp_path / "masks")
    response = Response(text="", masks=np.zeros((1, 4, 4), bool), mask_frames=np.array([0]))
    frames = Frames(None, np.array([0]), np.array([0.0]), 6.0, (4, 4))
    with pytest.raises(InputError):
        task.save_masks(entry_id, response, frames)
    assert sorted(p.name for p in tmp_path.rglob("*")) == []
    path = task.save_masks("ok_1", response, frames)
    assert path == str(tmp_path / "masks" / "ok_1.json")


def test_the_synthetic_default_is_announced_on_first_generation(monkeypatch, tmp_path, caplog):
    import logging

    import evqa.data.synth as synth_pkg
    from evqa.baselines import benchmarks

    calls = []
    monkeypatch.setenv("EVQA_SYNTH_ROOT", str(tmp_path / "synth"))
    monkeypatch.setattr(
        synth_pkg,
        "ensure_synth",
        lambda root, progress=False: calls.append(progress) or synth_pkg.SynthPaths(root),
    )
    with caplog.at_level(logging.INFO):
        benchmarks.resolve_gen_data(None, None)
    assert calls == [True]  # first use: generated with its progress bars
    assert "no benchmark files given: generating the synthetic benchmark under" in caplog.text
    assert "(first use)" in caplog.text


def test_a_registry_benchmark_refuses_another_models_file_too(openai_server, tmp_path, capsys):
    data = tmp_path / "etv"
    assert run_command("synth", ["--benchmark", "egotextvqa", "--out", str(data), "--num-items", "3"]) == 0
    out = tmp_path / "etv.json"
    base = ["--benchmark", "egotextvqa", "--data-dir", str(data), "--output", str(out)]
    assert infer(*base, "--model", "gpt-4o") == 0
    header_line, records, _ = read_jsonl(out.with_suffix(".jsonl"))
    assert header_line.task["name"] == "egotextvqa" and header_line.model == "gpt-4o" and records
    assert header_line.data_sha256  # the benchmark's files
    asked = len(openai_server.requests)
    capsys.readouterr()
    assert infer(*base, "--model", "o3") == 2
    assert "model: gpt-4o -> o3" in _err_line(capsys)
    assert len(openai_server.requests) == asked
    assert infer(*base, "--model", "o3", "--overwrite") == 0


def _err_line(capsys):
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1
    return err[0]


def test_more_gpus_than_the_machine_has_is_one_line(synth_env, tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    code = infer("--model", "qwen3_vl", "--output", str(tmp_path / "p.json"), "--gpu-num", "2")
    assert code == 2
    assert _err_line(capsys) == "error: field '--gpu-num': 2 GPUs asked for, this machine has 1"
