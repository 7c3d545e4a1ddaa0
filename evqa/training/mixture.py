"""The training mixture: several sources, each repeated or sized by ratio, behind one torch Dataset.

Config (`data.sources` in an experiment YAML), one entry per source:
    - {type: st_evidence_mask, csv: ..., video_dir: ..., mask_dir: ..., repeat: 2}    # every item twice
    - {type: mevis, root: ..., repeat: 0.5}                                          # a random half
    - {type: llava_instruct, root: ..., ratio: 0.1}     # 10 % of the total size of the other sources
`repeat` (default 1) may be fractional; `ratio` r gives round(r * N) items where N is the number of items
the repeat-sized sources contribute (or the ratio sources' own size when all use ratios).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from torch.utils.data import Dataset
from tqdm import tqdm

from evqa.errors import ConfigError
from evqa.training.sources import Source, TrainExample, build_source, load_example
from evqa.training.sources.base import PROMPT_STYLES, SAMPLE_TYPES


def _take(count: int, size: int, rng: random.Random) -> list[int]:
    """`count` item indices of a source of `size`: whole passes, then a random remainder (no repeats)."""
    whole, rest = divmod(count, size)
    return list(range(size)) * whole + sorted(rng.sample(range(size), rest))


def mixture_counts(sizes: Sequence[int], repeats: Sequence[float | None], ratios: Sequence[float | None]):
    """Number of items drawn from each source (see the module docstring)."""
    counts = [round(s * r) if r is not None else None for s, r in zip(sizes, repeats, strict=True)]
    base = sum(c for c in counts if c is not None) or sum(
        s for s, c in zip(sizes, counts, strict=True) if c is None
    )
    return [c if c is not None else round(base * float(q)) for c, q in zip(counts, ratios, strict=True)]


class MixtureDataset(Dataset):
    """Index i -> one decoded `TrainExample`; `data_types[i]` is known without decoding.

    Frame choice is a pure function of (seed, epoch, i), so every rank and every resumed run sees the
    same pixels for the same index.
    """

    def __init__(
        self,
        sources: Sequence[Source],
        counts: Sequence[int],
        *,
        num_frames: int = 8,
        seed: int = 0,
        sample_type: str = "random",
        prompt_style: str = "evqa",
    ):
        rng = random.Random(seed)
        self.sources = list(sources)
        self.index: list[tuple[int, int]] = []
        for s, (source, count) in enumerate(zip(self.sources, counts, strict=True)):
            if count and not len(source):
                raise ConfigError(f"source {source.name!r} has no items", entry=source.name)
            self.index += [(s, i) for i in _take(int(count), len(source), rng)] if count else []
        self.data_types = [self.sources[s][i].data_type for s, i in self.index]
        self.num_frames = num_frames
        self.sample_type = sample_type
        self.prompt_style = prompt_style
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> TrainExample:
        s, item = self.index[i]
        rng = random.Random(f"{self.seed}/{self.epoch}/{i}")
        example = load_example(self.sources[s][item], self.num_frames, rng, sample_type=self.sample_type,
                               prompt_style=self.prompt_style)  # fmt: skip
        example.pixel_rule = self.sources[s].pixel_rule
        return example

    def summary(self) -> dict[str, int]:
        """{source name: number of items drawn}."""
        out: dict[str, int] = {}
        for s, _ in self.index:
            out[self.sources[s].name] = out.get(self.sources[s].name, 0) + 1
        return out


def build_mixture(
    specs: Sequence[dict],
    *,
    num_frames: int = 8,
    seed: int = 0,
    sample_type: str = "random",
    prompt_style: str = "evqa",
    max_video_frames: int | None = None,
) -> MixtureDataset:
    """Build every source of `specs` (config entries) and mix them; `sample_type` and `prompt_style` are
    those of `evqa.training.sources.load_example`; `max_video_frames` leaves out, before the repeats,
    items whose frame list is longer (upstream's segmentation filter)."""
    if sample_type not in SAMPLE_TYPES:
        raise ConfigError(f"sample_type must be one of {SAMPLE_TYPES}, got {sample_type!r}",
                          field="data.sample_type")  # fmt: skip
    if prompt_style not in PROMPT_STYLES:
        raise ConfigError(f"prompt_style must be one of {PROMPT_STYLES}, got {prompt_style!r}",
                          field="data.prompt_style")  # fmt: skip
    if not specs:
        raise ConfigError("data.sources is empty", field="data.sources")
    sources, repeats, ratios = [], [], []
    for spec in tqdm(specs, desc="indexing sources", unit="source"):
        if "repeat" in spec and "ratio" in spec:
            raise ConfigError("give either repeat or ratio, not both", entry=spec.get("type"), field="ratio")
        source = build_source(spec)
        if max_video_frames is not None:
            kept = [
                it
                for it in source.items
                if it.frames.kind != "images" or len(it.frames.paths) <= max_video_frames
            ]
            source.filtered_long = len(source.items) - len(kept)
            source.items = kept
        sources.append(source)
        ratios.append(spec.get("ratio"))
        repeats.append(None if "ratio" in spec else float(spec.get("repeat", 1.0)))
    counts = mixture_counts([len(s) for s in sources], repeats, ratios)
    return MixtureDataset(sources, counts, num_frames=num_frames, seed=seed, sample_type=sample_type,
                          prompt_style=prompt_style)  # fmt: skip
