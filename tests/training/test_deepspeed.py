"""Acceptance 2: DeepSpeed ZeRO-2 on CPU (gloo), 2 processes, gives the losses of a single-process run.

Two ranks with 1 sample each per step see exactly what one process sees with 2 accumulated micro-batches
(the data-type sampler deals the same global order), so the logged losses must agree.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evqa.training.main import main

ROOT = Path(__file__).parents[2]
STEPS = 3


def _losses(output_dir: Path) -> list[float]:
    history = json.loads((output_dir / "trainer_state.json").read_text())["log_history"]
    return [h["loss"] for h in history if "loss" in h]


@pytest.mark.slow
def test_zero2_two_processes_match_single_process(experiment, tmp_path):
    common = {"max_steps": STEPS, "per_device_train_batch_size": 1, "save_strategy": "no"}
    main(["--config", str(experiment("single", gradient_accumulation_steps=2, **common))])
    # use_cpu: transformers then gives accelerate the gloo world (2 ranks, sharded data) and DeepSpeed runs on it
    ds = {"ddp_backend": "gloo", "use_cpu": True, "deepspeed": str(ROOT / "scripts" / "zero2.json")}
    config = experiment("zero2", **ds, **common)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "DS_ACCELERATOR": "cpu"}
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
              "-m", "evqa.cli.main", "train", "--config", str(config)]  # fmt: skip
    done = subprocess.run(launch, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stdout + done.stderr
    assert "DeepSpeed ZeRO stage 2 on 2 processes" in log, log[-3000:]
    single, distributed = _losses(tmp_path / "single"), _losses(tmp_path / "zero2")
    assert len(single) == len(distributed) == STEPS
    assert distributed == pytest.approx(single, rel=2e-3, abs=2e-3)
    assert single[-1] < single[0]  # it trained, so matching losses at every step means something
