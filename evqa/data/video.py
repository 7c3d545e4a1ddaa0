"""Video decoding and frame sampling — the one place EVQA turns a video into frames and timestamps.

A "video" is either a file (decoded with decord, else PyAV, else OpenCV) or a frame folder of JPEGs, the
upstream `video_frames_6fps/<video>/` layout, assumed to be at `FRAME_FOLDER_FPS` unless the caller says
otherwise (`folder_fps`: TVQA's `frames_hq` folders are 3 fps). The released data and
upstream's loader number frames from 0 (`frame_0000.jpg` is frame 0, shown at 0 s), which is what EVQA
writes; ffmpeg's default numbering starts at 1 (`frame_0001.jpg` is frame 0). Readers detect which one a
folder uses (`frame_folder_convention`) and map file numbers to frame indices accordingly.

Frame i of a video at `video_fps` is shown at time i / video_fps seconds. Every sampler returns the
indices it chose, so callers always know the true timestamps of the frames a model saw.

The three file backends pick the same indices and decode H.264 to identical pixels (tests check this on
the installed versions). A frame folder holds JPEG re-compressions of those frames, which differ from the
decoded video by about one grey level on average (more at sharp colour edges).
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evqa.errors import BackendUnavailableError, DataError

FRAME_FOLDER_FPS = 6.0
BACKENDS = ("decord", "pyav", "opencv")
_MODULE_OF = {"decord": "decord", "pyav": "av", "opencv": "cv2"}


@dataclass(frozen=True)
class VideoInfo:
    """fps (frames/s), num_frames, width and height (pixels), duration = num_frames / fps (seconds)."""

    fps: float
    num_frames: int
    width: int
    height: int
    duration: float


@dataclass
class SampledFrames:
    """frames: uint8 [T, H, W, 3] RGB (None when not decoded); indices: int64 [T]; timestamps: float64 [T]
    seconds."""

    frames: np.ndarray | None
    indices: np.ndarray
    timestamps: np.ndarray
    info: VideoInfo


def available_backends() -> list[str]:
    """The installed file backends, in order of preference."""
    return [name for name in BACKENDS if importlib.util.find_spec(_MODULE_OF[name]) is not None]


def _choose_backend(path: Path, backend: str | None) -> str:
    if path.is_dir():
        if backend not in (None, "folder"):
            raise DataError(f"backend '{backend}' cannot read a frame folder", path=path)
        return "folder"
    if not path.is_file():
        raise DataError("video not found", path=path)
    if backend is None:
        installed = available_backends()
        if not installed:
            raise BackendUnavailableError("no video decoder installed: pip install decord or av")
        return installed[0]
    if backend not in BACKENDS:
        raise ValueError(f"unknown video backend '{backend}' (choose from {', '.join(BACKENDS)})")
    if backend not in available_backends():
        raise BackendUnavailableError(f"video backend '{backend}' is not installed")
    return backend


# ---------------------------------------------------------------- backends
# Each reader takes sorted unique indices and returns uint8 [T, H, W, 3] RGB in that order.

# OpenCV cannot list keyframes; a seek decodes from the keyframe before the target, so it only pays off
# for long jumps (x264's default keyframe interval is 250 frames).
_OPENCV_SEEK_GAP = 120


def _frame_order(path: Path) -> tuple:
    """Numeric order of frame files, so frame_10000.jpg comes after frame_9999.jpg."""
    digits = re.findall(r"\d+", path.stem)
    return (int(digits[-1]) if digits else -1, path.name)


FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")


def _folder_files(path: Path) -> list[Path]:
    files = sorted((p for p in path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES), key=_frame_order)
    if not files:
        raise DataError("frame folder has no .jpg/.png frames", path=path)
    return files


def _folder_numbering(files: list[Path]) -> tuple[str, int]:
    numbers = [_frame_order(p)[0] for p in files]
    first = min(numbers)
    if first < 0:
        return "unnumbered", 0
    if first <= 1:
        return ("0-based", 0) if first == 0 else ("1-based", 1)
    return f"starts at {first}", first


def frame_folder_convention(folder: str | os.PathLike) -> str:
    """How a frame folder numbers its files: '0-based' (`frame_0000.jpg` is frame 0, the released data),
    '1-based' (`frame_0001.jpg` is frame 0, ffmpeg's default), 'starts at N' (a cut-out clip: its first
    file is frame 0) or 'unnumbered' (no digits in the names: frames in name order). Decided by the
    smallest file number; DataError for an empty folder."""
    return _folder_numbering(_folder_files(Path(folder)))[0]


def frame_folder_files(folder: str | os.PathLike) -> list[Path | None]:
    """The files of a frame folder by frame index: item i is frame i (None where the folder has a gap).

    Numbered files map to `number - base`, the base being the folder's first number (0 or 1, see
    `frame_folder_convention`); unnumbered files are taken in name order.
    """
    folder = Path(folder)
    files = _folder_files(folder)
    convention, base = _folder_numbering(files)
    if convention == "unnumbered":
        return list(files)
    by_index: dict[int, Path] = {}
    for file in files:
        index = _frame_order(file)[0] - base
        if index in by_index:
            raise DataError(f"two files for frame {index}: {by_index[index].name}, {file.name}", path=folder)
        by_index[index] = file
    return [by_index.get(i) for i in range(max(by_index) + 1)]


def _folder_info(path: Path, folder_fps: float = FRAME_FOLDER_FPS) -> tuple[float, int, int, int]:
    files = frame_folder_files(path)
    from PIL import Image

    with Image.open(next(f for f in files if f is not None)) as img:
        width, height = img.size
    return folder_fps, len(files), width, height


def read_image(path: str | os.PathLike) -> np.ndarray:
    """One image file as a frame: uint8 [H, W, 3] RGB (grey / RGBA / palette converted); DataError naming
    the file if it cannot be read."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read image ({err})", path=path) from None


def _folder_read(path: Path, indices: np.ndarray) -> np.ndarray:
    files = frame_folder_files(path)
    _check_range(path, indices, len(files))
    missing = [int(i) for i in indices if files[i] is None]
    if missing:
        raise DataError(f"frame folder has no file for frame(s) {missing[:5]}", path=path)
    return np.stack([read_image(files[idx]) for idx in indices])


def _check_range(path: Path, indices: np.ndarray, count: int) -> None:
    if indices[0] < 0 or indices[-1] >= count:
        raise DataError(f"frame index out of range 0..{count - 1}: {indices.tolist()}", path=path)


def _decord_info(path: Path) -> tuple[float, int, int, int]:
    import decord

    reader = decord.VideoReader(str(path), num_threads=1)
    height, width = reader[0].shape[:2]
    return reader.get_avg_fps(), len(reader), width, height


def _decord_read(path: Path, indices: np.ndarray) -> np.ndarray:
    import decord

    reader = decord.VideoReader(str(path), num_threads=1)
    _check_range(path, indices, len(reader))
    return reader.get_batch(indices.tolist()).asnumpy()


def _pyav_info(path: Path) -> tuple[float, int, int, int]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate)
        # the header count can be missing or wrong; counting packets only demuxes (no decoding)
        count = sum(1 for packet in container.demux(stream) if packet.size > 0)
        return fps, count, stream.codec_context.width, stream.codec_context.height


def _pyav_index(item, stream, fps: float) -> int:
    """Frame index of a decoded frame or a packet, from its pts (constant frame rate)."""
    start = stream.start_time or 0
    return int(round(float((item.pts - start) * stream.time_base) * fps))


def _pyav_keyframes(container, stream, fps: float) -> list[int]:
    """Frame indices of the keyframes, from demuxing only (no decoding)."""
    keys = [
        _pyav_index(packet, stream, fps)
        for packet in container.demux(stream)
        if packet.is_keyframe and packet.pts is not None
    ]
    container.seek(0)
    return sorted(keys) or [0]


def _pyav_read(path: Path, indices: np.ndarray) -> np.ndarray:
    import bisect

    import av

    frames, position, decoded = [], -1, None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate)
        keyframes = _pyav_keyframes(container, stream, fps)
        for target in indices.tolist():
            # seek only when a keyframe lies between the decoder's position and the target
            key = keyframes[max(0, bisect.bisect_right(keyframes, target) - 1)]
            if decoded is None or key > position:
                pts = int(round(key / fps / stream.time_base)) + (stream.start_time or 0)
                container.seek(pts, stream=stream, backward=True, any_frame=False)
                decoded = container.decode(stream)
            frame = None
            for frame in decoded:
                position = _pyav_index(frame, stream, fps)
                if position >= target:
                    break
            if frame is None or position != target:
                raise DataError(f"frame {target} is past the end of the video or not seekable", path=path)
            frames.append(frame.to_ndarray(format="rgb24"))
    return np.stack(frames)


def _opencv_info(path: Path) -> tuple[float, int, int, int]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise DataError("OpenCV cannot open the video", path=path)
        return (
            cap.get(cv2.CAP_PROP_FPS),
            int(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
    finally:
        cap.release()


def _opencv_read(path: Path, indices: np.ndarray) -> np.ndarray:
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames, position = [], -1  # position = index of the last frame grabbed
    try:
        for target in indices.tolist():
            if target - position > _OPENCV_SEEK_GAP:
                cap.set(cv2.CAP_PROP_POS_FRAMES, target)
                position = target - 1
            while position < target:
                if not cap.grab():
                    raise DataError(f"frame {target} is past the end of the video", path=path)
                position += 1
            ok, bgr = cap.retrieve()
            if not ok:
                raise DataError(f"cannot decode frame {target}", path=path)
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    return np.stack(frames)


_INFO = {"folder": _folder_info, "decord": _decord_info, "pyav": _pyav_info, "opencv": _opencv_info}
_READ = {"folder": _folder_read, "decord": _decord_read, "pyav": _pyav_read, "opencv": _opencv_read}


def video_info(
    path: str | os.PathLike, *, backend: str | None = None, folder_fps: float | None = None
) -> VideoInfo:
    """fps, frame count, size and duration of a video file or frame folder (no frame is decoded). A frame
    folder is at `folder_fps` frames per second (None: `FRAME_FOLDER_FPS`); a file's own rate is used."""
    path = Path(path)
    name = _choose_backend(path, backend)
    try:
        if name == "folder":
            fps, count, width, height = _folder_info(path, folder_fps or FRAME_FOLDER_FPS)
        else:
            fps, count, width, height = _INFO[name](path)
    except DataError:
        raise
    except Exception as err:  # decoders raise their own exception types
        raise DataError(f"cannot read video ({type(err).__name__}: {err})", path=path) from None
    if count <= 0 or fps <= 0:
        raise DataError(f"video has {count} frames at {fps} fps", path=path)
    return VideoInfo(
        fps=float(fps),
        num_frames=int(count),
        width=int(width),
        height=int(height),
        duration=count / float(fps),
    )


def _uniform(num_frames: int, count: int) -> np.ndarray:
    """`count` indices spread evenly over [0, num_frames - 1], first and last included (round half up)."""
    count = min(count, num_frames)
    if count == 1:
        return np.zeros(1, dtype=np.int64)
    return np.floor(np.linspace(0, num_frames - 1, count) + 0.5).astype(np.int64)


def timeline_indices(num_frames: int, video_fps: float, fps: float) -> np.ndarray:
    """The source frame shown at each tick k / fps of a new `fps` timeline: floor(k * video_fps / fps),
    for every k with k / fps < duration. int64 [K]; repeats when fps > video_fps (used to re-encode)."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    count = int(np.ceil(num_frames * fps / video_fps - 1e-9))
    indices = np.floor(np.arange(count) * (video_fps / fps) + 1e-9).astype(np.int64)
    return np.clip(indices, 0, num_frames - 1)


def sample_frame_indices(
    num_frames: int,
    video_fps: float,
    *,
    fps: float | None = None,
    num_frames_out: int | None = None,
    max_frames: int | None = None,
) -> np.ndarray:
    """Choose which frames to read. Returns int64 [T], sorted, without duplicates.

    - `fps`: one frame every 1/fps seconds from t = 0: index_k = floor(k * video_fps / fps) for every
      k with k / fps < duration (e.g. 30 frames at 6 fps, fps=1 -> [0, 6, 12, 18, 24]).
    - `num_frames_out`: that many frames spread evenly, first and last included
      (30 frames, 5 -> [0, 7, 15, 22, 29]); capped at `num_frames`.
    - neither: every frame.
    - `max_frames`: if more frames were chosen, take `max_frames` evenly spread frames instead.
    """
    if num_frames <= 0:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    if fps is not None and num_frames_out is not None:
        raise ValueError("give either fps or num_frames_out, not both")
    if fps is not None:
        indices = np.unique(timeline_indices(num_frames, video_fps, fps))
    elif num_frames_out is not None:
        if num_frames_out <= 0:
            raise ValueError(f"num_frames_out must be positive, got {num_frames_out}")
        indices = _uniform(num_frames, num_frames_out)
    else:
        indices = np.arange(num_frames, dtype=np.int64)
    if max_frames is not None and len(indices) > max_frames:
        if max_frames <= 0:
            raise ValueError(f"max_frames must be positive, got {max_frames}")
        indices = _uniform(num_frames, max_frames)
    return indices


def read_frames(path: str | os.PathLike, indices, backend: str | None = None) -> np.ndarray:
    """Decode the given frame indices (any order, repeats allowed). Returns uint8 [T, H, W, 3] RGB.

    Backends seek to the first needed frame and stop after the last one instead of decoding everything.
    """
    path = Path(path)
    name = _choose_backend(path, backend)
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if len(indices) == 0:
        raise ValueError("no frame indices given")
    order = np.unique(indices)
    try:
        decoded = _READ[name](path, order)
    except DataError:
        raise
    except Exception as err:
        raise DataError(f"cannot decode frames ({type(err).__name__}: {err})", path=path) from None
    position = {int(idx): k for k, idx in enumerate(order)}
    return decoded[[position[int(i)] for i in indices]]


def sample_frames(
    path: str | os.PathLike,
    *,
    fps: float | None = None,
    num_frames: int | None = None,
    max_frames: int | None = None,
    backend: str | None = None,
    decode: bool = True,
    folder_fps: float | None = None,
) -> SampledFrames:
    """Sample frames from a video file or frame folder (see `sample_frame_indices` for the rules).

    Returns SampledFrames with frames uint8 [T, H, W, 3] RGB, their indices int64 [T] and
    timestamps float64 [T] = indices / info.fps (seconds). `decode=False` only chooses the frames
    (`frames` is None): dry runs and models that take the whole file. `folder_fps`: see `video_info`.
    """
    info = video_info(path, backend=backend, folder_fps=folder_fps)
    indices = sample_frame_indices(
        info.num_frames, info.fps, fps=fps, num_frames_out=num_frames, max_frames=max_frames
    )
    frames = read_frames(path, indices, backend=backend) if decode else None
    return SampledFrames(frames=frames, indices=indices, timestamps=indices / info.fps, info=info)


class VideoWriter:
    """Streaming H.264 writer (PyAV, yuv420p, constant frame rate): `with VideoWriter(p, 6.0) as w: w.write(rgb)`.

    `crf` is x264's quality (lower = better), `gop` the keyframe interval in frames (default: x264's 250).

    Frames are uint8 [H, W, 3] RGB of one even size (a yuv420p requirement); parent folders are created.
    """

    def __init__(self, path: str | os.PathLike, fps: float, *, crf: int = 17, gop: int | None = None):
        from fractions import Fraction

        import av

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._rate = Fraction(fps).limit_denominator(1001)
        self._container = av.open(str(path), mode="w")
        self._crf, self._gop = crf, gop
        self._stream = None
        self.count = 0

    def _open_stream(self, height: int, width: int) -> None:
        if height % 2 or width % 2:
            raise ValueError(f"H.264 needs even frame sizes, got {height}x{width}")
        stream = self._container.add_stream("libx264", rate=self._rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = 1 / self._rate
        stream.options = {"crf": str(self._crf), "preset": "veryfast", "threads": "1"}
        if self._gop:
            stream.codec_context.gop_size = self._gop  # keyframe interval, frames
        self._stream = stream

    def write(self, rgb: np.ndarray) -> None:
        """Append one uint8 [H, W, 3] RGB frame."""
        import av

        rgb = np.ascontiguousarray(rgb)
        if rgb.ndim != 3 or rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"a frame must be uint8 [H, W, 3], got {rgb.dtype} {rgb.shape}")
        if self._stream is None:
            self._open_stream(rgb.shape[0], rgb.shape[1])
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = self.count
        self._container.mux(self._stream.encode(frame))
        self.count += 1

    def close(self) -> None:
        if self._stream is not None:
            self._container.mux(self._stream.encode())
        self._container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float, *, crf: int = 17) -> None:
    """Encode uint8 [T, H, W, 3] RGB frames as an H.264 video at `fps` (see VideoWriter)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [T, H, W, 3], got {frames.dtype} {frames.shape}")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(f"H.264 needs even frame sizes, got {frames.shape[1]}x{frames.shape[2]}")
    with VideoWriter(path, fps, crf=crf) as writer:
        for rgb in frames:
            writer.write(rgb)


def frame_file_name(index: int) -> str:
    """File name of frame `index` in a frame folder: 0-based `frame_%04d.jpg`, as in the released data."""
    return f"frame_{index:04d}.jpg"


def write_frame_folder(folder: str | os.PathLike, frames: np.ndarray, *, quality: int = 95) -> None:
    """Write uint8 [T, H, W, 3] RGB frames as `frame_0000.jpg` ... (JPEG) into `folder` (created)."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, rgb in enumerate(frames):
        Image.fromarray(rgb).save(folder / frame_file_name(i), quality=quality)
