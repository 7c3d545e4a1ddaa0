"""Scenes of ST-Evidence-Synth: a plain dark background and coloured shapes that appear, move and vanish.

A clip holds one evidence object of one of the five answer colours (visible during one sub-interval) and
optionally a grey distractor of another shape, visible only at other times, so the two never overlap and
masks are pixel-exact. Grey is never an answer, so which object is the evidence is a matter of colour.
Frame i is shown at i / fps seconds; an object visible on frames [start, end) is temporal evidence
[start / fps, end / fps]. Interval ends lie on a half-second grid so segments print exactly with one decimal.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 90, 235),
    "yellow": (230, 210, 40),
    "magenta": (210, 60, 210),
}
SHAPES = ("circle", "square", "triangle", "diamond", "cross")
DISTRACTOR_COLOUR = "grey"
PALETTE = {**COLOURS, DISTRACTOR_COLOUR: (150, 150, 150)}  # RGB of every object colour, the distractor's too
BACKGROUND = (20, 20, 20)


@dataclass(frozen=True)
class ObjectTrack:
    """One object: its look, the frames [start, end) when visible, and straight-line motion (pixels).

    `radius` is the half-extent in pixels; the centre moves by `velocity` (px/frame) from `origin`,
    bouncing off the frame borders so the object always stays fully inside.
    """

    shape: str
    colour: str
    radius: int
    start: int
    end: int
    origin: tuple[float, float]
    velocity: tuple[float, float]

    @property
    def name(self) -> str:
        return f"{self.colour} {self.shape}"

    def visible(self, frame: int) -> bool:
        return self.start <= frame < self.end

    def centre(self, frame: int, height: int, width: int) -> tuple[int, int]:
        """(x, y) pixel centre at `frame`, reflected into [radius, size - 1 - radius]."""
        t = frame - self.start
        coords = []
        for pos, vel, size in zip(self.origin, self.velocity, (width, height), strict=True):
            low, span = self.radius, size - 1 - 2 * self.radius
            x = (pos + vel * t - low) % (2 * span)
            coords.append(int(round(low + (x if x <= span else 2 * span - x))))
        return coords[0], coords[1]


@dataclass(frozen=True)
class ClipSpec:
    """A whole clip: id, frame count, size (pixels), fps, the evidence object and an optional distractor."""

    video_id: str
    num_frames: int
    height: int
    width: int
    fps: float
    evidence: ObjectTrack
    distractor: ObjectTrack | None

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    def segment(self, track: ObjectTrack) -> list[list[float]]:
        """Temporal evidence of a track in seconds: [[start / fps, end / fps]]."""
        return [[round(track.start / self.fps, 3), round(track.end / self.fps, 3)]]


def shape_mask(shape: str, centre: tuple[int, int], radius: int, height: int, width: int) -> np.ndarray:
    """Rasterise one shape (no anti-aliasing, so the mask is exact). Returns bool [H, W]."""
    canvas = np.zeros((height, width), dtype=np.uint8)
    x, y, r = centre[0], centre[1], radius
    if shape == "circle":
        cv2.circle(canvas, (x, y), r, 1, thickness=-1, lineType=cv2.LINE_8)
    elif shape == "square":
        side = int(round(r * 0.85))
        cv2.rectangle(canvas, (x - side, y - side), (x + side, y + side), 1, thickness=-1)
    elif shape == "triangle":
        pts = np.array([[x, y - r], [x - r, y + r - r // 3], [x + r, y + r - r // 3]], dtype=np.int32)
        cv2.fillPoly(canvas, [pts], 1, lineType=cv2.LINE_8)
    elif shape == "diamond":
        pts = np.array([[x, y - r], [x + r, y], [x, y + r], [x - r, y]], dtype=np.int32)
        cv2.fillPoly(canvas, [pts], 1, lineType=cv2.LINE_8)
    elif shape == "cross":
        arm = max(2, r // 3)
        cv2.rectangle(canvas, (x - r, y - arm), (x + r, y + arm), 1, thickness=-1)
        cv2.rectangle(canvas, (x - arm, y - r), (x + arm, y + r), 1, thickness=-1)
    else:
        raise ValueError(f"unknown shape '{shape}'")
    return canvas.astype(bool)


def track_mask(track: ObjectTrack, frame: int, height: int, width: int) -> np.ndarray:
    """bool [H, W] mask of a track at one frame (all False when it is not visible)."""
    if not track.visible(frame):
        return np.zeros((height, width), dtype=bool)
    return shape_mask(track.shape, track.centre(frame, height, width), track.radius, height, width)


def render_clip(spec: ClipSpec) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Draw a clip. Returns (frames uint8 [T, H, W, 3] RGB, {frame: bool [H, W]} evidence masks).

    The mask dict holds exactly the frames where the evidence object is visible.
    """
    frames = np.empty((spec.num_frames, spec.height, spec.width, 3), dtype=np.uint8)
    frames[:] = BACKGROUND
    evidence_masks: dict[int, np.ndarray] = {}
    for i in range(spec.num_frames):
        for track in (spec.distractor, spec.evidence):
            if track is None or not track.visible(i):
                continue
            mask = track_mask(track, i, spec.height, spec.width)
            frames[i][mask] = PALETTE[track.colour]
            if track is spec.evidence:
                evidence_masks[i] = mask
    return frames, evidence_masks


def _random_track(
    rng: np.random.Generator,
    start: int,
    end: int,
    height: int,
    width: int,
    exclude: ObjectTrack | None = None,
) -> ObjectTrack:
    """An evidence track (`exclude` None: any answer colour and shape) or the grey distractor of a shape
    other than `exclude`'s."""
    shapes = [s for s in SHAPES if exclude is None or s != exclude.shape]
    colours = list(COLOURS) if exclude is None else [DISTRACTOR_COLOUR]
    radius = int(round(rng.uniform(0.15, 0.21) * min(height, width)))
    origin = (float(rng.uniform(radius, width - 1 - radius)), float(rng.uniform(radius, height - 1 - radius)))
    speed, angle = rng.uniform(1.0, 3.0), rng.uniform(0.0, 2 * np.pi)
    return ObjectTrack(
        shape=str(rng.choice(shapes)),
        colour=str(rng.choice(colours)),
        radius=radius,
        start=start,
        end=end,
        origin=origin,
        velocity=(float(speed * np.cos(angle)), float(speed * np.sin(angle))),
    )


def sample_clip(rng: np.random.Generator, video_id: str, height: int, width: int, fps: float) -> ClipSpec:
    """Draw a random clip: 8-12 half-second units long; the evidence object is visible for 30-60 % of
    it; with probability 3/4 a grey distractor fills part of the time before or after the evidence."""
    unit = max(1, int(round(fps / 2)))
    units = int(rng.integers(8, 13))
    length = int(rng.integers(int(np.ceil(0.3 * units)), int(np.floor(0.6 * units)) + 1))
    start = int(rng.integers(0, units - length + 1))
    evidence = _random_track(rng, start * unit, (start + length) * unit, height, width)
    gaps = [(lo, hi) for lo, hi in ((0, start), (start + length, units)) if hi - lo >= 2]
    distractor = None
    if gaps and rng.random() < 0.75:
        lo, hi = gaps[int(rng.integers(len(gaps)))]
        d_len = int(rng.integers(2, hi - lo + 1))
        d_start = int(rng.integers(lo, hi - d_len + 1))
        distractor = _random_track(rng, d_start * unit, (d_start + d_len) * unit, height, width, evidence)
    return ClipSpec(
        video_id=video_id,
        num_frames=units * unit,
        height=height,
        width=width,
        fps=fps,
        evidence=evidence,
        distractor=distractor,
    )
