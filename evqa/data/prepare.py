"""Real-data preparation: download from the Hugging Face Hub, extract archives, re-encode videos.

The released data (DESIGN.md §2, data/README.md):
  * Salesforce/ST-Evidence           benchmark: st_evidence_gen/{st_evidence_gen.csv, videos_6fps.tar.gz,
                                     masks.tar.gz}, st_evidence_mcq/{st_evidence_mcq.csv, temp_options.json,
                                     mask_options.json, options.tar.gz}
  * Salesforce/ST-Evidence-Instruct  training: gen_qa/..., gen_mask/{st_evidence.csv, masks.tar.gz,
                                     video_frames_6fps.tar.gz}
  * PolyU-ChenLab/UniPixel-SFT-1M    the other training sets (revos, mevis, lvvis, ref_*, vicas, ...)
`check_dataset` verifies a downloaded (or generated) tree before training or scoring.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from evqa.data.video import (
    VideoWriter,
    frame_file_name,
    frame_folder_convention,
    frame_folder_files,
    timeline_indices,
    video_info,
)
from evqa.errors import BackendUnavailableError, ConfigError, DataError
from evqa.paths import child_path

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


@dataclass(frozen=True)
class HubDataset:
    """A dataset repository on the Hugging Face Hub and the folder it goes to (relative to the cwd)."""

    repo_id: str
    local_dir: str
    description: str


DATASETS: dict[str, HubDataset] = {
    "st-evidence": HubDataset(
        "Salesforce/ST-Evidence", "data/st_evidence", "the ST-Evidence benchmark (~10 GB)"
    ),
    "st-evidence-instruct": HubDataset(
        "Salesforce/ST-Evidence-Instruct",
        "data/st-evidence-instruct",
        "ST-Evidence-Instruct training data (~46 GB)",
    ),
    "unipixel-sft": HubDataset(
        "PolyU-ChenLab/UniPixel-SFT-1M",
        "data",
        "UniPixel-SFT-1M: ReVOS, MeViS, LV-VIS, Ref-YouTube-VOS, ... (large)",
    ),
}


def download(
    name: str,
    local_dir: str | os.PathLike | None = None,
    *,
    source: str | os.PathLike | None = None,
    allow_patterns: list[str] | None = None,
    revision: str | None = None,
) -> Path:
    """Fetch dataset `name` (a key of DATASETS) into `local_dir` (default: its usual folder).

    With `source` (a local folder, e.g. a mirror on shared storage) the files are copied from there
    instead of the Hub. Returns the destination folder. Tokens come from the environment (HF_TOKEN).
    """
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset '{name}' (choose from {', '.join(DATASETS)})", field="dataset")
    spec = DATASETS[name]
    dest = Path(local_dir or spec.local_dir)
    if source is not None:
        source = Path(source)
        if not source.is_dir():
            raise DataError("source folder not found", path=source)
        shutil.copytree(
            source,
            dest,
            dirs_exist_ok=True,
            ignore=None if not allow_patterns else _keep_only(allow_patterns),
        )
        return dest
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise BackendUnavailableError(
            "huggingface_hub is not installed: pip install huggingface_hub"
        ) from None
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        path = snapshot_download(
            spec.repo_id,
            repo_type="dataset",
            local_dir=str(dest),
            revision=revision,
            allow_patterns=allow_patterns,
        )
    except LocalEntryNotFoundError:
        raise DataError(
            f"cannot reach the Hugging Face Hub for {spec.repo_id} (offline, or HF_HUB_OFFLINE set) and no "
            "local copy exists; connect, or copy a mirror with --source DIR",
            path=dest,
        ) from None
    except HfHubHTTPError as err:
        raise DataError(f"download of {spec.repo_id} failed ({' '.join(str(err).split())[:200]})", path=dest) from None
    except OSError as err:  # connection errors, a full disk
        raise DataError(f"download of {spec.repo_id} failed ({type(err).__name__}: {err})", path=dest) from None
    return Path(path)


def _keep_only(patterns: list[str]):
    import fnmatch

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {
            n
            for n in names
            if not os.path.isdir(os.path.join(folder, n)) and not any(fnmatch.fnmatch(n, p) for p in patterns)
        }

    return ignore


def find_archives(root: str | os.PathLike) -> list[Path]:
    """Every .tar / .tar.gz / .tgz under `root`, sorted."""
    return sorted(
        p for p in Path(root).rglob("*") if p.is_file() and p.name.endswith((".tar", ".tar.gz", ".tgz"))
    )


def _marker(archive: Path) -> Path:
    return archive.with_name(f".{archive.name}.extracted")


def extract_archives(root: str | os.PathLike, *, remove: bool = False, progress: bool = True) -> list[Path]:
    """Extract every archive under `root` next to itself (as upstream's `tar -xzf`), once.

    A marker file `.<archive>.extracted` records success, so a re-run skips finished archives. Members
    that would land outside the folder (absolute paths, `..`, links out) are refused. Returns the archives
    extracted by this call.
    """
    if not Path(root).is_dir():
        raise DataError("folder not found", path=root)
    done = []
    for archive in tqdm(find_archives(root), desc="extract", unit="archive", disable=not progress):
        if _marker(archive).exists():
            continue
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(archive.parent, filter="data")
        except tarfile.FilterError as err:
            raise DataError(f"unsafe archive member refused ({err})", path=archive) from None
        except (tarfile.TarError, EOFError, OSError) as err:
            raise DataError(f"cannot extract ({err})", path=archive) from None
        _marker(archive).touch()
        if remove:
            archive.unlink()
        done.append(archive)
    return done


def _resize(rgb: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    if size is None:
        height, width = rgb.shape[:2]
        size = (height - height % 2, width - width % 2)  # yuv420p needs even sizes
    if rgb.shape[:2] == tuple(size):
        return rgb
    return cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def reencode_video(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    fps: float = 6.0,
    size: tuple[int, int] | None = None,
    frames_dir: str | os.PathLike | None = None,
) -> int:
    """Re-encode one video at `fps` (frames chosen by `timeline_indices`) and size (H, W) pixels.

    Decodes once, streaming; optionally also writes the frames as a `frame_%04d.jpg` folder.
    Returns the number of frames written.
    """
    import av
    from PIL import Image

    info = video_info(src, backend="pyav")
    wanted = timeline_indices(info.num_frames, info.fps, fps).tolist()
    if frames_dir is not None:
        Path(frames_dir).mkdir(parents=True, exist_ok=True)
    with av.open(str(src)) as container, VideoWriter(dst, fps) as writer:
        stream = container.streams.video[0]
        for index, frame in enumerate(container.decode(stream)):
            while wanted and wanted[0] == index:  # a source frame may be used twice when upsampling
                rgb = _resize(frame.to_ndarray(format="rgb24"), size)
                if frames_dir is not None:
                    Image.fromarray(rgb).save(Path(frames_dir) / frame_file_name(writer.count), quality=95)
                writer.write(rgb)
                wanted.pop(0)
            if not wanted:
                break
        return writer.count


def reencode_folder(
    src_dir: str | os.PathLike,
    dst_dir: str | os.PathLike,
    *,
    fps: float = 6.0,
    size: tuple[int, int] | None = None,
    frames_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> int:
    """Re-encode every video under `src_dir` into the same relative path under `dst_dir` (.mp4).

    With `frames_dir`, also writes `<frames_dir>/<video stem>/frame_%04d.jpg`. Returns the video count.
    """
    src_dir, dst_dir = Path(src_dir), Path(dst_dir)
    videos = sorted(p for p in src_dir.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise DataError("no videos found", path=src_dir)
    for video in tqdm(videos, desc="reencode", unit="video", disable=not progress):
        rel = video.relative_to(src_dir).with_suffix(".mp4")
        frames = None if frames_dir is None else Path(frames_dir) / video.stem
        reencode_video(video, dst_dir / rel, fps=fps, size=size, frames_dir=frames)
    return len(videos)


# ---------------------------------------------------------------- consistency check

REQUIRED_COLUMNS = ("entry_id", "video_id", "video_path", "question", "answer", "candidates")


@dataclass
class CheckReport:
    """Counts of what was checked and the problems found, grouped by kind."""

    checked: dict[str, int]
    problems: dict[str, list[str]]

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())

    def format(self, limit: int = 5) -> str:
        """A readable report: the counts, then up to `limit` examples per kind of problem."""
        lines = [f"  {key}: {value}" for key, value in self.checked.items()]
        for kind, items in self.problems.items():
            if items:
                lines.append(f"  PROBLEM {kind}: {len(items)}")
                lines += [f"    - {item}" for item in items[:limit]]
                if len(items) > limit:
                    lines.append(f"    ... and {len(items) - limit} more")
        lines.append("OK: no problems found" if self.ok else "FAILED: see the problems above")
        return "\n".join(lines)


def _csv_columns(csv_path: Path) -> list[str]:
    import csv

    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            return next(csv.reader(fh), [])
    except FileNotFoundError:
        raise DataError("file not found", path=csv_path) from None


def _mask_frames(mask_dir: Path, entry_id: str) -> list[int] | None:
    """Annotated frame numbers of an entry: training mask JSON, RLE JSON or PNG folder (None if absent)."""
    from evqa.data.masks import MaskStore
    from evqa.io import read_json

    path = child_path(mask_dir, f"{entry_id}.json")
    if path.is_file():
        payload = read_json(path, error=DataError)
        if isinstance(payload, dict) and "evidence_objects" in payload:
            return sorted(
                {
                    int(item["frame"])
                    for obj in payload["evidence_objects"] or []
                    for key in ("masks", "prompts")
                    for item in obj.get(key) or []
                    if "frame" in item
                }
            )
    store = MaskStore(mask_dir)
    return store.frames(entry_id) if store.has(entry_id) else None


def _timeline_length(
    entry, video_dir: Path | None, frames_dir: Path | None, fps: float, problems, conventions
) -> int | None:
    """Frames of the entry's video on the `fps` timeline, checking video and frame folder agree."""
    length = None
    if video_dir is not None:
        video = video_dir / entry.video_path
        if not video.is_file():
            problems["missing videos"].append(str(video))
        else:
            info = video_info(video)
            length = len(timeline_indices(info.num_frames, info.fps, fps))
    if frames_dir is not None:
        folder = frames_dir / str(entry.video_id)
        if not folder.is_dir():
            problems["missing frame folders"].append(str(folder))
        else:
            try:
                conventions[frame_folder_convention(folder)] += 1
                count = sum(f is not None for f in frame_folder_files(folder))
            except DataError as err:
                problems["missing frame folders"].append(str(err))
                return length
            if length is not None and count != length:
                problems["frame folder / video length mismatch"].append(
                    f"{folder}: {count} frames, the video has {length} at {fps:g} fps"
                )
            length = count if length is None else length
    return length


PROBLEM_KINDS = (
    "CSV columns",
    "missing videos",
    "missing frame folders",
    "frame folder / video length mismatch",
    "mask frames out of range",
    "segments past the end",
)


def _check_columns(csv_path: Path, problems: dict[str, list[str]]) -> None:
    columns = _csv_columns(csv_path)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if not {"segment", "temporal_evidence"} & set(columns):
        missing.append("segment|temporal_evidence")
    problems["CSV columns"] += [f"{csv_path}: missing column '{c}'" for c in missing]


def _check_ranges(entry, length: int | None, mask_dir: Path | None, fps: float, problems) -> bool:
    """Segments and mask frames of one entry within its video; returns False if it has no masks."""
    if length is not None and any(end > length / fps + 1e-6 for _, end in entry.segments):
        problems["segments past the end"].append(f"{entry.entry_id}: {entry.segments} > {length / fps:g} s")
    if mask_dir is None:
        return True
    frames = _mask_frames(mask_dir, entry.entry_id)
    if frames and length is not None and (frames[0] < 0 or frames[-1] >= length):
        problems["mask frames out of range"].append(
            f"{entry.entry_id}: frames {frames[0]}..{frames[-1]}, video has {length}"
        )
    return frames is not None


def check_dataset(
    csv_path: str | os.PathLike,
    *,
    video_dir=None,
    mask_dir=None,
    frames_dir=None,
    fps: float = 6.0,
    progress: bool = True,
) -> CheckReport:
    """Check a benchmark or instruct tree: CSV columns, videos exist, `fps` frame folders match the video
    length, mask frames and segments lie within the video. Returns a CheckReport (raises only when the
    CSV itself cannot be read)."""
    from evqa.data.st_evidence import load_gen_benchmark

    csv_path = Path(csv_path)
    problems: dict[str, list[str]] = {kind: [] for kind in PROBLEM_KINDS}
    _check_columns(csv_path, problems)
    video_dir, mask_dir, frames_dir = (
        Path(d) if d is not None else None for d in (video_dir, mask_dir, frames_dir)
    )
    lengths: dict[str, int | None] = {}
    conventions: Counter[str] = Counter()
    no_masks = 0
    entries = load_gen_benchmark(csv_path)
    for entry in tqdm(entries, desc="check", unit="entry", disable=not progress):
        if entry.video_path not in lengths:
            lengths[entry.video_path] = _timeline_length(
                entry, video_dir, frames_dir, fps, problems, conventions
            )
        no_masks += not _check_ranges(entry, lengths[entry.video_path], mask_dir, fps, problems)
    checked = {"entries": len(entries), "videos": len(lengths)}
    if frames_dir is not None:
        # which numbering the frame folders use: 0-based frame_0000.jpg (the released data) or 1-based
        checked.update({f"frame folders {k}": v for k, v in sorted(conventions.items())})
    if mask_dir is not None:
        checked["entries without masks"] = no_masks
    return CheckReport(checked, problems)
