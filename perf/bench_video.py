"""Decode speed of every installed video backend on one clip: frames/s per access pattern, and the ratio
against the slowest backend of that pattern.

    python perf/bench_video.py                      # a generated 640x360, 30 fps, 20 s H.264 clip
    python perf/bench_video.py --video my_clip.mp4 --repeat 5

Patterns: `all` (every frame, sequential), `fps1` (one frame per second, seeking forward) and
`uniform8` (8 evenly spaced frames, the typical LLM sampling). Each timing is the best of --repeat runs.
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
    with VideoWriter(path, fps, crf=23) as writer:
        for i in range(int(seconds * fps)):
            writer.write(np.ascontiguousarray(texture[:, i % size[1] : i % size[1] + size[1]]))
    return path


def bench(video: Path, backends: list[str], repeat: int) -> dict[str, dict[str, float]]:
    """{pattern: {backend: frames per second}} (best of `repeat`)."""
    info = video_info(video)
    results: dict[str, dict[str, float]] = {}
    for pattern, kwargs in PATTERNS.items():
        indices = sample_frame_indices(info.num_frames, info.fps, **kwargs)
        results[pattern] = {}
        for backend in backends:
            best = float("inf")
            for _ in range(repeat):
                start = time.perf_counter()
                read_frames(video, indices, backend=backend)
                best = min(best, time.perf_counter() - start)
            results[pattern][backend] = len(indices) / best
    return results


def format_table(results: dict[str, dict[str, float]]) -> str:
    lines = [f"{'pattern':<10} {'backend':<8} {'frames/s':>10} {'x slowest':>10}", "-" * 41]
    for pattern, by_backend in results.items():
        slowest = min(by_backend.values())
        for backend, speed in sorted(by_backend.items(), key=lambda kv: -kv[1]):
            lines.append(f"{pattern:<10} {backend:<8} {speed:>10.1f} {speed / slowest:>10.2f}")
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
