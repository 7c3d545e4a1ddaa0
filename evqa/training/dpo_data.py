"""DPO data: pairs (`evqa.training.pairs`) -> decoded chosen / rejected examples -> one [chosen; rejected] batch.

Both sides of a pair see the same frames (the same draw from `(seed, epoch, index)`), so what differs between
them is only the assistant turn or, for "mask" pairs, the mask targets.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
from torch.utils.data import Dataset

from evqa.errors import ConfigError, DataError
from evqa.training.collator import EvqaTrainCollator
from evqa.training.pairs import build_pairs, read_pairs, resize_bool
from evqa.training.sources.base import SAMPLE_TYPES, FrameRef, MaskTrack, SourceItem, load_example

BUILD_KEYS = {"csv", "video_dir", "mask_dir", "frames_dir", "negatives", "split", "wrong_options", "seed"}


class WrongObjectTrack(MaskTrack):
    """The rejected side of a "mask" pair: on every frame the chosen track annotates, the other entry's
    evidence mask on the same frame number (resized to this video's size), or an empty mask where that
    object is absent; unannotated frames stay unannotated, so both sides are scored on the same frames."""

    sample_annotated = False

    def __init__(self, chosen: MaskTrack, other: MaskTrack):
        self.chosen = chosen
        self.other = other

    def frames(self) -> list[int]:
        return self.chosen.frames()

    def get(self, index: int) -> np.ndarray | None:
        mine = self.chosen.get(index)
        if mine is None:
            return None
        theirs = self.other.get(index)
        return np.zeros_like(mine) if theirs is None else resize_bool(theirs, mine.shape)


def load_pairs(specs: Sequence, sources: Sequence[str] | None = None) -> list[dict]:
    """Pairs from `data.pairs` entries: a JSONL path, or a mapping of `build_pairs` arguments (`csv`,
    `video_dir`, `mask_dir`, `frames_dir`, `negatives`, `split`, `wrong_options`, `seed`) built on the spot.
    `sources` keeps only those negative kinds."""
    if not specs:
        raise ConfigError("data.pairs is empty", field="data.pairs")
    pairs: list[dict] = []
    for spec in specs:
        if isinstance(spec, str):
            pairs += read_pairs(spec, sources)
        elif isinstance(spec, dict):
            unknown = sorted(set(spec) - BUILD_KEYS)
            if unknown or "csv" not in spec or "video_dir" not in spec:
                raise ConfigError(f"a pairs entry to build needs csv and video_dir and takes {sorted(BUILD_KEYS)}"
                                  + (f"; unknown {unknown}" if unknown else ""), field="data.pairs")  # fmt: skip
            options = {k: v for k, v in spec.items() if k not in ("csv", "video_dir")}
            built = build_pairs(spec["csv"], spec["video_dir"], **options)
            pairs += [p for p in built if sources is None or p["source"] in sources]
        else:
            raise ConfigError(
                f"a data.pairs entry is a JSONL path or a mapping, got {spec!r}", field="data.pairs"
            )
    ids = [p["id"] for p in pairs]
    if len(set(ids)) != len(ids):
        raise DataError("the same pair id comes twice from data.pairs", field="id")
    if not pairs:
        raise ConfigError("no pairs left (check data.pairs and data.negatives)", field="data.pairs")
    return pairs


class PairsDataset(Dataset):
    """Index i -> {"chosen": TrainExample, "rejected": TrainExample} of pair i (same frames on both sides).

    `data_types[i]` is "mask" for pairs with mask files, else "text" (one type per batch, as in SFT)."""

    def __init__(
        self, pairs: Sequence[dict], *, num_frames: int = 8, seed: int = 0, sample_type: str = "random"
    ):
        if sample_type not in SAMPLE_TYPES:
            raise ConfigError(f"sample_type must be one of {SAMPLE_TYPES}, got {sample_type!r}",
                              field="data.sample_type")  # fmt: skip
        self.pairs = list(pairs)
        self.data_types = ["mask" if p.get("chosen_masks") else "text" for p in self.pairs]
        self.num_frames = num_frames
        self.seed = seed
        self.sample_type = sample_type
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.pairs)

    def _items(self, pair: dict) -> tuple[SourceItem, SourceItem]:
        from evqa.training.sources.st_evidence import StEvidenceTrack

        video = pair.get("frames") or pair["video"]
        kind = "mask" if pair.get("chosen_masks") else "text"
        chosen_track = rejected_track = None
        if kind == "mask":
            chosen_track = StEvidenceTrack(pair["chosen_masks"], video)
            rejected_track = chosen_track
            if pair.get("rejected_masks"):
                rejected_track = WrongObjectTrack(
                    chosen_track, StEvidenceTrack(pair["rejected_masks"], video)
                )
        if isinstance(pair.get("frames"), list):  # frame images with their times (no mask pairs)
            ref = FrameRef("images", pair["frames"], [float(t) for t in pair["timestamps"]])
        else:
            ref = FrameRef("video", [video])

        def make(target, track):
            return SourceItem("dpo_pairs", pair["id"], kind, pair["prompt"], target, ref, track)

        return make(pair["chosen"], chosen_track), make(pair["rejected"], rejected_track)

    def __getitem__(self, i: int) -> dict:
        chosen_item, rejected_item = self._items(self.pairs[i])
        key = f"{self.seed}/{self.epoch}/{i}"
        chosen = load_example(chosen_item, self.num_frames, random.Random(key), sample_type=self.sample_type)
        rejected = load_example(
            rejected_item, self.num_frames, random.Random(key), sample_type=self.sample_type
        )
        return {"chosen": chosen, "rejected": rejected}

    def summary(self) -> dict[str, int]:
        """{negative kind: number of pairs}."""
        out: dict[str, int] = {}
        for p in self.pairs:
            out[p["source"]] = out.get(p["source"], 0) + 1
        return out


class DpoCollator(EvqaTrainCollator):
    """B pairs -> one padded batch of 2B examples, the B chosen first, then the B rejected in the same order
    (the layout TRL's DPO trainer uses), in `EvqaProcessor.collate`'s format."""

    def __call__(self, pairs: Sequence[dict]) -> dict:
        examples = [self.encode(p["chosen"]) for p in pairs] + [self.encode(p["rejected"]) for p in pairs]
        return self.processor.collate(examples)
