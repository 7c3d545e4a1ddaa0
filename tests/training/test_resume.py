"""Acceptance 3: a run killed after a checkpoint and restarted with auto-resume continues from that step,
and its losses match an uninterrupted run."""

import json

import pytest
from transformers import TrainerCallback

from evqa.training.main import main


class Killed(RuntimeError):
    pass


class KillAfterSave(TrainerCallback):
    """Simulates a crash right after the checkpoint of step `step` has been written."""

    def __init__(self, step: int):
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Killed(f"killed after saving step {self.step}")


def _losses(output_dir) -> dict[int, float]:
    history = json.loads((output_dir / "trainer_state.json").read_text())["log_history"]
    return {h["step"]: h["loss"] for h in history if "loss" in h}


def test_auto_resume_continues_from_the_checkpoint_with_the_same_losses(experiment, tmp_path):
    main(["--config", str(experiment("full"))])
    reference = _losses(tmp_path / "full")
    assert sorted(reference) == [1, 2, 3]

    config = experiment("killed")
    with pytest.raises(Killed):
        main(["--config", str(config)], callbacks=[KillAfterSave(1)])
    assert (tmp_path / "killed" / "checkpoint-1").is_dir()
    assert not (tmp_path / "killed" / "checkpoint-2").exists()

    resumed_from = []

    class Record(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            resumed_from.append(state.global_step)

    main(["--config", str(config)], callbacks=[Record()])  # training.resume defaults to auto
    assert resumed_from == [1]
    resumed = _losses(tmp_path / "killed")
    assert sorted(resumed) == [1, 2, 3]
    for step in (2, 3):
        assert resumed[step] == pytest.approx(reference[step], rel=1e-4, abs=1e-4)
    assert resumed[3] != pytest.approx(resumed[1], rel=1e-3)  # training moved: the check can fail


def test_from_scratch_ignores_existing_checkpoints(experiment, tmp_path):
    config = experiment("scratch", max_steps=1)
    main(["--config", str(config)])
    begun = []

    class Record(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            begun.append(state.global_step)

    main(["--config", str(config), "training.resume=scratch"], callbacks=[Record()])
    assert begun == [0]
