"""Which benchmark files a run reads and where it writes, with the synthetic benchmark as the default.

When no data path is given (or a given default path does not exist), the ST-Evidence-Synth benchmark is
used: `ensure_synth()` under $EVQA_SYNTH_ROOT or `data/synth`. Output paths follow upstream:
`results/<model family>/<model>_st_evidence_<single|multi>_<fps>fps.json` and
`results/<model family>/<model>_st_evidence_mcq_<task>.json`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# results/<folder> per adapter (upstream folder names)
RESULT_FOLDERS = {
    "qwen2_5_vl": "qwen2_5vl",
    "qwen3_vl": "qwen3vl",
    "internvl3_5": "internvl",
    "llava_ov_1_5": "llava_ov",
    "videollama3": "videollama3",
    "gpt": "gpt",
    "gemini": "gemini",
    "sa2va": "sa2va",
    "ours": "ours",
    "unipixel": "unipixel",
}


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
    from evqa.data.synth import ensure_synth

    paths = ensure_synth(synth_root())
    log.info("no benchmark files given: using the synthetic benchmark under %s", paths.root)
    return paths


def resolve_gen_data(gt_file: str | None, video_dir: str | None) -> GenData:
    """The generative benchmark to run: the given CSV (+ video folder, default: next to the CSV), else synth."""
    if gt_file and Path(gt_file).exists():
        base = Path(gt_file).parent
        return GenData(Path(gt_file), Path(video_dir) if video_dir else base / "videos", None)
    if gt_file:
        log.warning("%s does not exist: using the synthetic benchmark instead", gt_file)
    paths = _synth()
    return GenData(paths.gen_csv, Path(video_dir) if video_dir else paths.video_dir, paths.gt_mask_png_dir)


def resolve_mcq_data(
    data_file: str | None, distractors_file: str | None, mask_file: str | None, video_dir: str | None
) -> McqData:
    """The MCQ benchmark to run: the given files, else the synthetic one."""
    if data_file and Path(data_file).exists():
        base = Path(data_file).parent
        return McqData(
            Path(data_file),
            Path(distractors_file) if distractors_file else None,
            Path(mask_file) if mask_file else None,
            Path(video_dir) if video_dir else base / "videos",
        )
    if data_file:
        log.warning("%s does not exist: using the synthetic benchmark instead", data_file)
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
    folder = Path("results") / RESULT_FOLDERS.get(adapter, adapter)
    if task == "mcq":
        return folder / f"{model_slug(model_id)}_st_evidence_mcq_{mcq_task}.json"
    mode_tag = "multi" if mode == "multi-turn" else "single"
    return folder / f"{model_slug(model_id)}_st_evidence_{mode_tag}_{tag}.json"
