"""Which benchmark files a run reads and where it writes, with the synthetic benchmark as the default.

When no data path is given, the ST-Evidence-Synth benchmark is used: `ensure_synth()` under
$EVQA_SYNTH_ROOT or `data/synth` (generated on first use, which is announced with a progress bar). A data
path that is given but does not exist is an error, never a silent switch to the synthetic data. Output paths follow upstream:
`results/<model family>/<model>_st_evidence_<single|multi>_<fps>fps.json` and
`results/<model family>/<model>_st_evidence_mcq_<task>.json`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from evqa.errors import ConfigError, DataError

log = logging.getLogger(__name__)


@dataclass
class GenData:
    """Generative benchmark files: the CSV, the video folder and the GT mask folder (seconds, 6-fps frames)."""

    gt_file: Path
    video_dir: Path
    gt_mask_dir: Path | None


@dataclass
class McqData:
    """MCQ benchmark files."""

    data_file: Path
    distractors_file: Path | None
    mask_file: Path | None
    video_dir: Path


def synth_root() -> str:
    """Where the default synthetic benchmark lives (`evqa.data.synth.default_root`)."""
    from evqa.data.synth import default_root

    return str(default_root())


def _synth():
    from evqa.data.synth import SynthPaths, ensure_synth

    root = synth_root()
    first = not SynthPaths(root).is_complete()
    if first:
        log.warning("no benchmark files given: generating the synthetic benchmark under %s (first use)", root)
    paths = ensure_synth(root, progress=first)
    log.info("no benchmark files given: using the synthetic benchmark under %s", paths.root)
    return paths


def _existing(path: str | None, flag: str) -> Path | None:
    """`path` as a Path; DataError naming the flag when it is given but does not exist."""
    if path is None:
        return None
    if not Path(path).exists():
        raise DataError("file not found", path=path, field=flag)
    return Path(path)


def resolve_gen_data(gt_file: str | None, video_dir: str | None) -> GenData:
    """The generative benchmark to run: the given CSV (+ video folder, default: next to the CSV), else synth."""
    if gt_file:
        gt = _existing(gt_file, "--gt_file")
        video = _existing(video_dir, "--video_dir") if video_dir else gt.parent / "videos"
        log.info("benchmark: %s (videos under %s)", gt, video)
        return GenData(gt, video, None)
    _existing(video_dir, "--video_dir")
    paths = _synth()
    return GenData(paths.gen_csv, Path(video_dir) if video_dir else paths.video_dir, paths.gt_mask_png_dir)


def resolve_mcq_data(
    data_file: str | None, distractors_file: str | None, mask_file: str | None, video_dir: str | None
) -> McqData:
    """The MCQ benchmark to run: the given files, else the synthetic one."""
    if data_file:
        data = _existing(data_file, "--data_file")
        video = _existing(video_dir, "--video_dir") if video_dir else data.parent / "videos"
        log.info("benchmark: %s (videos under %s)", data, video)
        return McqData(
            data,
            _existing(distractors_file, "--distractors_file"),
            _existing(mask_file, "--mask_file"),
            video,
        )
    if distractors_file or mask_file:
        raise ConfigError(
            "--distractors_file / --mask_file belong to a --data_file; give it too", field="--data_file"
        )
    _existing(video_dir, "--video_dir")
    paths = _synth()
    return McqData(
        paths.mcq_csv,
        paths.temp_options,
        paths.mask_options,
        Path(video_dir) if video_dir else paths.video_dir,
    )


def model_slug(model_id: str) -> str:
    """'Qwen/Qwen3-VL-4B-Instruct' -> 'qwen3_vl_4b_instruct'; 'gemini-2.5-flash' -> 'gemini_2_5_flash'."""
    name = Path(str(model_id).rstrip("/")).name or str(model_id)
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def fps_tag(fps: float | None, num_frames: int | None) -> str:
    """'1fps', '0.5fps' or '16frames'."""
    if fps is None:
        return f"{num_frames}frames" if num_frames else "allframes"
    return f"{fps:g}fps"


def default_output(
    adapter: str, model_id: str, *, task: str, mode: str, tag: str, mcq_task: str = "all"
) -> Path:
    """Upstream-style output path under results/ (relative to the working directory)."""
    from evqa.baselines.registry import adapter_facts

    folder = Path("results") / adapter_facts(adapter).result_folder
    if task == "mcq":
        return folder / f"{model_slug(model_id)}_st_evidence_mcq_{mcq_task}.json"
    mode_tag = "multi" if mode == "multi-turn" else "single"
    return folder / f"{model_slug(model_id)}_st_evidence_{mode_tag}_{tag}.json"
