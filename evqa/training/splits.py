"""Train / val / test splits grouped by video, seeded, and cached in a JSON file.

Every item of one group (a video, a movie) lands in the same split, so no video is seen in training and
scored in validation. The assignment is a pure function of the set of groups, the fractions and the seed:
the sorted unique group names are shuffled with `random.Random(seed)` and cut in this order,
    train = first int((1 - val - test) * n), val = up to int((1 - test) * n), test = the rest
(the cut rule of the EgoTextVQA and POVQA fine-tunes; unlike theirs, the order does not depend on
Python's hash seed). The split file records the assignment so that training, evaluation and later runs
use the same videos even after the data file grows; a file made with other settings, or one that lacks
some of the groups, is an error rather than a silent re-split.

Split file (JSON): {"seed": 42, "val_fraction": 0.1, "test_fraction": 0.0,
                    "groups": {"train": [...], "val": [...], "test": [...]}}
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

from evqa.errors import ConfigError, DataError
from evqa.io import read_json, write_json_atomic

SPLITS = ("train", "val", "test")


def assign_splits(
    groups: Iterable[str], *, val_fraction: float, test_fraction: float = 0.0, seed: int = 42
) -> dict[str, list[str]]:
    """{"train": [...], "val": [...], "test": [...]}: every distinct group in exactly one split."""
    if not (0.0 <= val_fraction < 1.0 and 0.0 <= test_fraction < 1.0 and val_fraction + test_fraction < 1.0):
        raise ConfigError(
            f"val_fraction {val_fraction} and test_fraction {test_fraction} must be in [0, 1) with a sum "
            "below 1",
            field="val_fraction",
        )
    order = sorted(set(groups))
    random.Random(seed).shuffle(order)
    count = len(order)
    train_cut = int((1.0 - val_fraction - test_fraction) * count + 1e-9)
    val_cut = int((1.0 - test_fraction) * count + 1e-9)
    return {"train": order[:train_cut], "val": order[train_cut:val_cut], "test": order[val_cut:]}


def load_or_create_splits(
    path: str | Path, groups: Iterable[str], *, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, list[str]]:
    """The cached assignment in `path` (checked against the settings and groups), else a new one written
    there atomically (several ranks writing the same content is harmless)."""
    path = Path(path)
    groups = set(groups)
    settings = {"seed": seed, "val_fraction": val_fraction, "test_fraction": test_fraction}
    if path.is_file():
        cached = read_json(path, error=DataError)
        if not isinstance(cached, dict) or not isinstance(cached.get("groups"), dict):
            raise DataError("not a split file (no 'groups' mapping)", path=path)
        made_with = {key: cached.get(key) for key in settings}
        if made_with != settings:
            raise ConfigError(
                f"split file was made with {made_with}, this source asks for {settings}; delete it to "
                "re-split or name another split_file",
                path=path,
                field="split_file",
            )
        known = {g for split in SPLITS for g in cached["groups"].get(split, [])}
        missing = sorted(groups - known)
        if missing:
            raise DataError(
                f"{len(missing)} video(s) are not in the split file (e.g. {missing[0]!r}); delete it to "
                "re-split all videos",
                path=path,
                field="split_file",
            )
        return {split: list(cached["groups"].get(split, [])) for split in SPLITS}
    assignment = assign_splits(groups, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    try:
        write_json_atomic(path, {**settings, "groups": assignment})
    except OSError as err:
        raise DataError(f"cannot write the split file ({err}); set split_file", path=path) from None
    return assignment
