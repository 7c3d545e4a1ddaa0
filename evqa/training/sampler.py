"""A sampler that keeps every rank on the same data type ("mask" or "text") at every step.

The mask loss runs SAM2 only for mask samples; under DeepSpeed every rank must run the same modules in a
step (ZeRO-3 gathers parameters collectively), so a step is either all-mask or all-text on all ranks.
The sampler yields the GLOBAL order: blocks of `world_size * batch_size` indices of one data type. The
Trainer's data loader (accelerate) deals consecutive batches round-robin to the ranks, so each rank's
k-th batch comes from block k.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from torch.utils.data import Sampler


class DataTypeGroupedSampler(Sampler[int]):
    """Shuffled indices grouped in same-type blocks of `batch_size * world_size` (incomplete blocks dropped).

    Args:
        data_types: the data type of every dataset index.
        batch_size: per-device batch size.
        world_size: number of data-parallel ranks.
        seed: shuffling seed; `set_epoch` changes the order per epoch (same on every rank).
    """

    def __init__(self, data_types: Sequence[str], batch_size: int, world_size: int = 1, seed: int = 0):
        self.data_types = list(data_types)
        self.block = batch_size * world_size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _blocks(self) -> list[list[int]]:
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        blocks = []
        for kind in sorted(set(self.data_types)):
            indices = [i for i, t in enumerate(self.data_types) if t == kind]
            rng.shuffle(indices)
            whole = len(indices) // self.block * self.block
            blocks += [indices[k : k + self.block] for k in range(0, whole, self.block)]
        rng.shuffle(blocks)
        return blocks

    def __iter__(self) -> Iterator[int]:
        for block in self._blocks():
            yield from block

    def __len__(self) -> int:
        counts: dict[str, int] = {}
        for kind in self.data_types:
            counts[kind] = counts.get(kind, 0) + 1
        return sum(c // self.block * self.block for c in counts.values())
