"""Generate an ST-Evidence-Synth root (`generate`), or make sure one exists (`ensure_synth`)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from evqa.data.synth.baselines import write_trivial_baselines
from evqa.data.synth.paths import META_FILE, SynthPaths
from evqa.data.synth.questions import make_question
from evqa.data.synth.scenes import render_clip, sample_clip
from evqa.data.synth.summary import SynthSummary, score_baselines
from evqa.data.synth.writers import SynthWriter
from evqa.errors import ConfigError, DataError
from evqa.io import make_temp_dir

DEFAULTS = {"num_train": 1500, "num_test": 50, "size": (112, 112), "fps": 6.0}
_SPLIT_CODE = {"test": 0, "train": 1}
# Bump when the same seed would give different files, so `ensure_synth` never serves stale data.
GENERATOR_VERSION = 3  # 2: candidates are every value of the family, in a fixed order; 3: grey distractor,
# colour questions only, 1,500 training clips by default
_OWNED = ("benchmark", "instruct", "baselines", META_FILE)


def _prepare_root(out_dir: Path) -> SynthPaths:
    """Create `out_dir`, or clear the files of an earlier generation there; refuse any other content."""
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = set(os.listdir(out_dir))
    if entries and META_FILE not in entries:
        raise DataError(
            "folder is not empty and holds no earlier synthetic data; choose another --out", path=out_dir
        )
    for name in _OWNED:
        target = out_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    return SynthPaths(out_dir)


def _validate(num_train: int, num_test: int, size: tuple[int, int], fps: float) -> None:
    if num_train < 0 or num_test < 1:
        raise ConfigError(f"need num_test >= 1 and num_train >= 0, got {num_test} and {num_train}")
    height, width = size
    if height < 48 or width < 48 or height % 2 or width % 2:
        raise ConfigError(
            f"size must be even and at least 48x48 (H.264 needs even sizes), got {height}x{width}"
        )
    if fps <= 0:
        raise ConfigError(f"fps must be positive, got {fps}")


def generate(
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    num_train: int = DEFAULTS["num_train"],
    num_test: int = DEFAULTS["num_test"],
    size: tuple[int, int] = DEFAULTS["size"],
    fps: float = DEFAULTS["fps"],
    score: bool = True,
    progress: bool = True,
) -> SynthSummary:
    """Generate the synthetic benchmark (num_test clips) and instruct data (num_train clips) into `out_dir`.

    size = (H, W) pixels, fps = frames per second of the written videos. Clip k of a split depends only
    on (seed, split, k), so CSV/JSON/PNG bytes are identical for equal arguments. With `score`, the
    trivial baselines are scored through evqa.eval (skipped with a note if that module is missing).
    """
    _validate(num_train, num_test, size, fps)
    started = time.perf_counter()
    paths = _prepare_root(Path(out_dir))
    writer = SynthWriter(paths)
    _write_split(writer, "test", num_test, seed, size, fps, progress)
    _write_split(writer, "train", num_train, seed, size, fps, progress)
    writer.finish()
    baselines = write_trivial_baselines(
        paths.baselines_dir, writer.items, gt_mask_dir=paths.gt_mask_rle_dir, seed=seed
    )
    meta = {
        "seed": seed,
        "num_train": num_train,
        "num_test": num_test,
        "size": list(size),
        "fps": fps,
        "version": GENERATOR_VERSION,
    }
    paths.meta.write_text(json.dumps(meta, sort_keys=True) + "\n")
    scores = _try_score(paths, baselines) if score else {}
    return SynthSummary(paths.root, writer.counts(), time.perf_counter() - started, baselines, scores)


def _write_split(
    writer: SynthWriter, split: str, count: int, seed: int, size: tuple[int, int], fps: float, progress: bool
) -> None:
    """Render and write `count` clips of one split; clip k is drawn from the rng seeded by (seed, split, k)."""
    for k in tqdm(range(count), desc=f"synth {split}", unit="clip", disable=not progress):
        rng = np.random.default_rng([seed, _SPLIT_CODE[split], k])
        spec = sample_clip(rng, f"synth_{split}_{k:04d}", size[0], size[1], fps)
        question = make_question(spec)
        frames, masks = render_clip(spec)
        if split == "test":
            writer.add_test(rng, spec, question, frames, masks)
        else:
            writer.add_train(spec, question, frames, masks)


def _try_score(paths: SynthPaths, baselines) -> dict[str, dict]:
    try:
        import evqa.eval.st_evidence  # noqa: F401
    except ImportError:
        return {}
    return score_baselines(paths, baselines)


def ensure_synth(
    root: str | os.PathLike | None = None, seed: int = 0, *, progress: bool = False, **options
) -> SynthPaths:
    """Return the synthetic data under `root` (default: `default_root()`), generating it first if missing.

    `options` (num_train, num_test, size, fps) are passed to `generate` (defaults: DEFAULTS); an existing
    root is returned as it is, as long as it was generated with the same seed. `progress` shows the
    generation's progress bars.

    Safe when several processes call it at once: each generates into a private temporary folder next to
    `root` and renames it into place; the losers of the race discard theirs.
    """
    paths = SynthPaths(root)
    if not paths.is_complete():
        _generate_and_rename(paths, seed, options, progress)
    _check_meta(paths, seed)
    return paths


def _generate_and_rename(paths: SynthPaths, seed: int, options: dict, progress: bool = False) -> None:
    if paths.root.exists() and any(paths.root.iterdir()):
        raise DataError(
            "exists but holds no complete synthetic data (no synth_meta.json); remove it", path=paths.root
        )
    paths.root.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(paths.root.parent, f".{paths.root.name}.")
    try:
        generate(tmp, seed=seed, score=False, progress=progress, **options)
        if paths.root.exists():
            paths.root.rmdir()  # an empty leftover; a complete root from a winner makes this fail
        os.rename(tmp, paths.root)
    except OSError:
        if not paths.is_complete():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check_meta(paths: SynthPaths, seed: int) -> None:
    meta = json.loads(paths.meta.read_text())
    if meta.get("version", 1) != GENERATOR_VERSION:
        raise DataError(
            f"was made by synthetic-data generator version {meta.get('version', 1)}, this is "
            f"{GENERATOR_VERSION}; regenerate it with `evqa synth --out {paths.root}`",
            path=paths.root,
        )
    if meta.get("seed") != seed:
        raise DataError(
            f"was generated with seed {meta.get('seed')}, not {seed}; remove it or pass its seed",
            path=paths.root,
        )
