"""Shared helpers of the training tests: a tiny experiment YAML over the source fixtures."""

from pathlib import Path

import pytest
import yaml

FIX = Path(__file__).parents[1] / "fixtures" / "training"


def write_experiment(path: Path, output_dir: Path, **training) -> Path:
    """A tiny full-fine-tuning experiment on the MeViS fixture (2 frames per clip, mask samples only)."""
    cfg = {
        "model": {"preset": "tiny", "lora": False},
        "data": {"num_frames": 2, "sources": [{"type": "mevis", "root": str(FIX / "mevis"), "repeat": 8}]},
        "training": {
            "output_dir": str(output_dir),
            "max_steps": 3,
            "per_device_train_batch_size": 1,
            "learning_rate": 1e-3,
            "sam2_lr": 1e-3,
            "logging_steps": 1,
            "save_steps": 1,
            "dataloader_num_workers": 0,
            "seed": 0,
            "disable_tqdm": True,
            **training,
        },
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture
def experiment(tmp_path):
    """Factory: experiment(name, **training overrides) -> YAML path (output under tmp_path/name)."""
    return lambda name, **kw: write_experiment(tmp_path / f"{name}.yaml", tmp_path / name, **kw)
