"""perf/gpu_bench.py on CPU with the tiny preset: every stage runs, the JSON holds every number, the FLOPs
formula agrees with torch's FLOP counter, and the stage timers measure what they wrap."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "perf" / "gpu_bench.py"
TRAIN_KEYS = ("step_s", "samples_per_s", "tokens", "tokens_per_s", "peak_memory_mib", "model_tflops_per_step")
STAGES = (
    "vision_encoding",
    "generation",
    "sam2_propagation",
    "sam2_image_encoding",
    "decode_preprocess_other",
)


def _load_bench():
    spec = importlib.util.spec_from_file_location("gpu_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread on a shared CPU (as `--smoke` does)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "gpu_bench.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout


def test_smoke_training_rows_have_positive_numbers(smoke):
    results, _ = smoke
    assert results["peak"]["tflops"] > 0 and results["peak"]["dtype"] == "float32"
    assert results["attention"] == {"sdpa": "measured", "flash_attention_2": "needs CUDA"}
    rows = results["training"]
    specs = [(r["attn"], r["batch_size"], r["checkpointing"], r["masks"]) for r in rows]
    assert specs == [("sdpa", 1, True, True), ("sdpa", 2, True, True),
                     ("sdpa", 1, False, True), ("sdpa", 1, True, False)]  # fmt: skip
    for row in rows:
        assert "error" not in row
        assert all(row[key] > 0 for key in TRAIN_KEYS), row
        peak = results["peak"]["tflops"] * 1e12
        assert row["mfu"] == pytest.approx(row["model_tflops_per_step"] * 1e12 / row["step_s"] / peak)
        assert row["mfu"] > 0 and np.isfinite(row["loss"])
        assert row["samples_per_s"] == pytest.approx(row["batch_size"] / row["step_s"])
        assert row["tokens_per_s"] == pytest.approx(row["tokens"] / row["step_s"])
        parts = row["flops_by_part"]
        assert parts["llm"] > 0 and parts["vision"] > 0
        assert (parts["sam2"] > 0) == row["masks"]  # no mask targets: SAM2 does not run
        assert parts["total"] == pytest.approx(parts["llm"] + parts["vision"] + parts["sam2"])
    assert rows[1]["padding_fraction"] > 0  # questions of different lengths
    assert results["best_training"]["batch_size"] in (1, 2)


def test_smoke_inference_stages_cover_the_latency(smoke):
    results, stdout = smoke
    inference = results["inference"]
    assert inference["video"] == {"seconds": 2.0, "fps": 6.0, "size": [48, 64], "codec": "h264"}
    for name, questions in (("single", 1), ("batched", 2), ("single_frames_in_memory", 1)):
        run = inference[name]
        assert run["questions"] == questions and run["segmented"] == questions
        assert run["mask_frames"] == 12 * questions and run["llm_frames"] == 2  # 2 s: 12 frames, 2 at 1 fps
        assert all(run["stages_s"][stage] > 0 for stage in STAGES), run["stages_s"]
        stages = run["stages_s"]
        parts = stages["vision_encoding"] + stages["generation"] + stages["sam2_propagation"]
        assert parts + stages["decode_preprocess_other"] == pytest.approx(run["latency_s"])
        assert stages["sam2_image_encoding"] < stages["sam2_propagation"]
        assert run["questions_per_s"] == pytest.approx(questions / run["latency_s"])
    assert "MFU %" in stdout and "single_frames_in_memory" in stdout


def test_flops_formula_agrees_with_torch_counter():
    """3 x counted forward FLOPs of the trained parts + 1 x the frozen SAM2 image encoder, against the
    analytic formula: within 25 % for the whole model and per part."""
    model, processor = bench.build_model("tiny", None)
    model.train()
    batch = processor.collate([bench.training_sample(processor, i, 8, (48, 64)) for i in range(2)])
    counter = FlopCounterMode(display=False)
    with counter:
        model(**batch)
    counts = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    top = "EvqaForConditionalGeneration"
    encoder = counts[f"{top}.sam2.vision_encoder"]
    llm = counts[f"{top}.model.language_model"] + counts[f"{top}.lm_head"]
    sam2_trained = sum(
        counts[f"{top}.sam2.{part}"] for part in ("mask_decoder", "memory_encoder", "memory_attention")
    )
    formula = bench.model_flops(model, batch)
    assert formula["llm"] == pytest.approx(3 * llm, rel=0.25)
    assert formula["vision"] == pytest.approx(3 * counts[f"{top}.model.visual"], rel=0.25)
    assert formula["sam2"] == pytest.approx(encoder + 3 * sam2_trained, rel=0.25)
    assert formula["total"] == pytest.approx(3 * (counts["Global"] - encoder) + encoder, rel=0.25)


def test_stage_clock_times_hooks_and_wrapped_methods():
    class Sleeper(torch.nn.Module):
        def forward(self, x):
            time.sleep(0.05)
            return x

        def work(self, seconds):
            time.sleep(seconds)
            return "done"

    module, clock = Sleeper(), bench.StageClock(torch.device("cpu"))
    clock.hook(module, "forward")
    clock.wrap(module, "work", "work")
    module(torch.zeros(1))
    module(torch.zeros(1))
    assert module.work(0.02) == "done"
    clock.close()
    assert 0.1 <= clock.totals["forward"] < 0.5 and 0.02 <= clock.totals["work"] < 0.3
    before = dict(clock.totals)
    module(torch.zeros(1))
    module.work(0.01)
    assert clock.totals == before and "work" not in vars(module)  # hooks and wrapper removed


def test_flops_only_builds_on_meta_and_scales_with_batch(tmp_path, capsys):
    out = tmp_path / "flops.json"
    argv = ["--flops-only", "--preset", "tiny", "--batch-sizes", "1", "2", "--frame-size", "48", "64"]
    assert bench.main([*argv, "--peak-tflops", "2", "--out", str(out)]) == 0
    table = json.loads(out.read_text())["flops"]
    one, two = (row["flops_by_part"] for row in table["rows"])
    assert two["sam2"] == pytest.approx(2 * one["sam2"]) and two["vision"] == pytest.approx(2 * one["vision"])
    assert one["llm"] < two["llm"] < 2.2 * one["llm"]  # the second question is a little longer
    assert table["rows"][0]["floor_step_s"] == pytest.approx(one["total"] / 2e12)
    assert 0 < table["parameters"]["trainable"] < table["parameters"]["total"]
    assert "floor s @ 2" in capsys.readouterr().out


def test_make_video_falls_back_to_opencv(tmp_path, monkeypatch):
    from evqa.data.video import read_frames, video_info

    h264, codec = bench.make_video(tmp_path / "a.mp4", 2.0, 6.0, (48, 64))
    assert codec == "h264" and video_info(h264).num_frames == 12
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "av" else find_spec(name, *a)
    )
    mp4v, codec = bench.make_video(tmp_path / "b.mp4", 2.0, 6.0, (48, 64))
    monkeypatch.undo()
    assert codec == "mp4v" and video_info(mp4v).fps == 6.0
    assert read_frames(mp4v, np.arange(12), backend="opencv").shape == (12, 48, 64, 3)


def test_make_trainer_switches_checkpointing_and_builds_the_group_optimizer(tmp_path):
    model, processor = bench.build_model("tiny", None)
    model = bench.apply_lora(model)
    base = model.get_base_model()
    trainer = bench.make_trainer(model, processor, 1, True, False, str(tmp_path))
    assert base.is_activation_checkpointing
    lrs = sorted({group["lr"] for group in trainer.optimizer.param_groups})
    assert lrs == [trainer.args.sam2_lr, trainer.args.learning_rate]  # SAM2 at its own rate
    batch = processor.collate([bench.training_sample(processor, 0, 4, (48, 64))])
    before = [p.detach().clone() for p in model.parameters() if p.requires_grad]
    assert np.isfinite(bench.optimizer_step(trainer, batch))
    after = [p.detach() for p in model.parameters() if p.requires_grad]
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))  # the step updated weights
    bench.make_trainer(model, processor, 1, False, False, str(tmp_path))
    assert not base.is_activation_checkpointing
