"""Decode speed of every installed video backend on one clip: frames/s per access pattern, and the ratio
against the slowest backend of that pattern.

    python perf/bench_video.py                      # a generated 640x360, 30 fps, 20 s H.264 clip
    python perf/bench_video.py --video my_clip.mp4 --repeat 5

Patterns: `all` (every frame, sequential), `fps1` (one frame per second, seeking forward) and
`uniform8` (8 evenly spaced frames, the typical LLM sampling). Each timing is the best of --repeat runs.
The reference row `decode-all` decodes every frame with PyAV and keeps the sampled ones (what a reader
without seeking does); frames/s counts the frames returned.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from evqa.data.video import VideoWriter, available_backends, read_frames, sample_frame_indices, video_info

PATTERNS = {"all": {}, "fps1": {"fps": 1.0}, "uniform8": {"num_frames_out": 8}}


def make_clip(path: Path, *, seconds: float = 20.0, fps: float = 30.0, size=(360, 640)) -> Path:
    """A textured clip with motion (so inter-frame coding does real work), H.264 via PyAV."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (size[0], size[1] * 2, 3), dtype=np.uint8)
    with VideoWriter(path, fps, crf=23, gop=int(2 * fps)) as writer:  # a keyframe every 2 s
        for i in range(int(seconds * fps)):
            writer.write(np.ascontiguousarray(texture[:, i % size[1] : i % size[1] + size[1]]))
    return path


def decode_all(video: Path, indices: np.ndarray) -> np.ndarray:
    """The reference: decode every frame in order (PyAV), keep the wanted ones."""
    import av

    wanted, out = set(indices.tolist()), []
    with av.open(str(video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                out.append(frame.to_ndarray(format="rgb24"))
    return np.stack(out)


def _best(fn, repeat: int, *args, **kwargs) -> float:
    """Fastest of `repeat` calls of fn(*args, **kwargs), in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best


def bench(video: Path, backends: list[str], repeat: int) -> dict[str, dict[str, float]]:
    """{pattern: {backend: frames per second}} (best of `repeat`), plus the `decode-all` reference."""
    info = video_info(video)
    results: dict[str, dict[str, float]] = {}
    for pattern, kwargs in PATTERNS.items():
        indices = sample_frame_indices(info.num_frames, info.fps, **kwargs)
        results[pattern] = {"decode-all": len(indices) / _best(decode_all, repeat, video, indices)}
        for backend in backends:
            seconds = _best(read_frames, repeat, video, indices, backend=backend)
            results[pattern][backend] = len(indices) / seconds
    return results


def format_table(results: dict[str, dict[str, float]]) -> str:
    header = f"{'pattern':<10} {'backend':<11} {'frames/s':>10} {'x slowest':>10} {'x decode-all':>13}"
    lines = [header, "-" * len(header)]
    for pattern, by_backend in results.items():
        slowest = min(v for k, v in by_backend.items() if k != "decode-all")
        reference = by_backend["decode-all"]
        for backend, speed in sorted(by_backend.items(), key=lambda kv: -kv[1]):
            lines.append(
                f"{pattern:<10} {backend:<11} {speed:>10.1f} {speed / slowest:>10.2f} "
                f"{speed / reference:>13.2f}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", type=Path, help="clip to decode (default: a generated one)")
    parser.add_argument("--repeat", type=int, default=3, help="timings per cell; the best is kept")
    args = parser.parse_args()
    backends = available_backends()
    with tempfile.TemporaryDirectory() as tmp:
        video = args.video or make_clip(Path(tmp) / "bench.mp4")
        info = video_info(video)
        print(
            f"{video.name}: {info.num_frames} frames, {info.width}x{info.height}, {info.fps:g} fps; "
            f"backends: {', '.join(backends)}"
        )
        print(format_table(bench(video, backends, args.repeat)))


if __name__ == "__main__":
    main()
