"""Mixture sizes (repeat / ratio), determinism, and the same-data-type-per-step sampler on 2 ranks."""

from pathlib import Path

import numpy as np
import pytest
from accelerate.data_loader import BatchSamplerShard
from torch.utils.data import BatchSampler

from evqa.errors import ConfigError
from evqa.training.mixture import build_mixture, mixture_counts
from evqa.training.sampler import DataTypeGroupedSampler

FIX = Path(__file__).parents[1] / "fixtures" / "training"


def test_mixture_counts_repeat_and_ratio():
    assert mixture_counts([10, 4], [2.0, 0.5], [None, None]) == [20, 2]
    # ratio sources are sized against what the repeat sources contribute
    assert mixture_counts([10, 4, 100], [2.0, 1.0, None], [None, None, 0.25]) == [20, 4, 6]
    assert mixture_counts([8, 2], [None, None], [0.5, 2.0]) == [5, 20]


def test_build_mixture_draws_and_is_deterministic():
    specs = [
        {"type": "mevis", "root": str(FIX / "mevis"), "repeat": 3},
        {"type": "llava_instruct", "root": str(FIX / "llava_instruct"), "ratio": 0.5},
    ]
    mix = build_mixture(specs, num_frames=2, seed=1)
    assert mix.summary() == {"mevis": 6, "llava_instruct": 3}
    assert mix.data_types.count("mask") == 6 and mix.data_types.count("text") == 3
    first, again = mix[0], build_mixture(specs, num_frames=2, seed=1)[0]
    np.testing.assert_array_equal(first.timestamps, again.timestamps)
    assert first.frames.shape[0] == 2


def test_build_mixture_rejects_repeat_and_ratio_together():
    with pytest.raises(ConfigError, match="either repeat or ratio"):
        build_mixture([{"type": "mevis", "root": str(FIX / "mevis"), "repeat": 1, "ratio": 0.5}])


def test_sampler_keeps_both_ranks_on_one_data_type_per_step():
    types = ["mask"] * 37 + ["text"] * 23
    world, batch = 2, 2
    sampler = DataTypeGroupedSampler(types, batch_size=batch, world_size=world, seed=5)
    assert len(sampler) == 36 + 20
    per_rank = []
    for rank in range(world):  # what accelerate's data loader gives each rank
        shard = BatchSamplerShard(BatchSampler(sampler, batch, drop_last=False), world, rank)
        per_rank.append(list(shard))
    assert len(per_rank[0]) == len(per_rank[1]) == len(sampler) // (world * batch)
    for step in range(len(per_rank[0])):
        kinds = {types[i] for rank in range(world) for i in per_rank[rank][step]}
        assert len(kinds) == 1, f"step {step} mixes {kinds}"
    seen = [i for rank in per_rank for b in rank for i in b]
    assert len(seen) == len(set(seen)) == 56
    sampler.set_epoch(1)
    assert list(sampler) != [i for b in zip(*per_rank, strict=True) for r in b for i in r]
