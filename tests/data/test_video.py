"""Frame sampling (hand-computed indices and timestamps) and decoding identical across backends."""

import numpy as np
import pytest

from evqa.data import video as V
from evqa.errors import DataError

BACKENDS = V.available_backends()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """30 frames at 6 fps (5 s), 64x96, a bright bar moving right; frame i has value i*8 in its corner."""
    frames = np.full((30, 64, 96, 3), 30, dtype=np.uint8)
    for i in range(30):
        frames[i, 20:40, 2 * i : 2 * i + 16] = (230, 60, 40)
        frames[i, :8, :8] = i * 8
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    V.write_video(path, frames, 6.0)
    return path, frames


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"fps": 1.0}, [0, 6, 12, 18, 24]),
        ({"fps": 2.0}, [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]),
        ({"fps": 4.0}, [0, 1, 3, 4, 6, 7, 9, 10, 12, 13, 15, 16, 18, 19, 21, 22, 24, 25, 27, 28]),
        ({"fps": 0.4}, [0, 15]),
        ({"num_frames_out": 5}, [0, 7, 15, 22, 29]),
        ({"num_frames_out": 1}, [0]),
        ({"num_frames_out": 100}, list(range(30))),
        ({"fps": 2.0, "max_frames": 4}, [0, 10, 19, 29]),
        ({"max_frames": 3}, [0, 15, 29]),
        ({"fps": 1.0, "max_frames": 5}, [0, 6, 12, 18, 24]),
        ({}, list(range(30))),
    ],
)
def test_sample_frame_indices_hand_computed(kwargs, expected):
    out = V.sample_frame_indices(30, 6.0, **kwargs)
    assert out.dtype == np.int64
    assert out.tolist() == expected


def test_sample_indices_non_integer_ratio():
    # 25 fps video of 100 frames (4 s) at 3 fps: floor(k * 25 / 3) for k < 12
    out = V.sample_frame_indices(100, 25.0, fps=3.0)
    assert out.tolist() == [0, 8, 16, 25, 33, 41, 50, 58, 66, 75, 83, 91]


def test_sample_indices_rejects_bad_arguments():
    with pytest.raises(ValueError, match="either fps or num_frames_out"):
        V.sample_frame_indices(30, 6.0, fps=1.0, num_frames_out=4)
    with pytest.raises(ValueError, match="positive"):
        V.sample_frame_indices(30, 6.0, fps=0)
    with pytest.raises(ValueError, match="num_frames must be positive"):
        V.sample_frame_indices(0, 6.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_video_info_every_backend(clip, backend):
    info = V.video_info(clip[0], backend=backend)
    assert (info.fps, info.num_frames, info.width, info.height) == (6.0, 30, 96, 64)
    assert info.duration == pytest.approx(5.0)


def test_backends_decode_identical_pixels(clip):
    path, frames = clip
    indices = [29, 0, 13, 14, 3, 13]  # unsorted, with a repeat and a far jump
    decoded = {b: V.read_frames(path, indices, backend=b) for b in BACKENDS}
    reference = decoded[BACKENDS[0]]
    assert reference.shape == (6, 64, 96, 3) and reference.dtype == np.uint8
    for backend, out in decoded.items():
        np.testing.assert_array_equal(out, reference, err_msg=backend)
    # the frame-number patch survives H.264 closely: the right frames were decoded
    corner = reference[:, 2:6, 2:6].mean(axis=(1, 2, 3))
    np.testing.assert_allclose(corner, np.array(indices) * 8, atol=3)
    assert np.abs(reference.astype(int) - frames[indices]).mean() < 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_sample_frames_timestamps(clip, backend):
    out = V.sample_frames(clip[0], fps=2.0, max_frames=4, backend=backend)
    assert out.indices.tolist() == [0, 10, 19, 29]
    np.testing.assert_allclose(out.timestamps, [0.0, 10 / 6, 19 / 6, 29 / 6])
    assert out.frames.shape == (4, 64, 96, 3)


def test_frame_folder_backend(clip, tmp_path):
    path, frames = clip
    folder = tmp_path / "clip"
    V.write_frame_folder(folder, frames)
    assert sorted(p.name for p in folder.iterdir())[:2] == ["frame_0000.jpg", "frame_0001.jpg"]
    info = V.video_info(folder)
    assert (info.fps, info.num_frames, info.width, info.height) == (V.FRAME_FOLDER_FPS, 30, 96, 64)
    out = V.sample_frames(folder, num_frames=5)
    assert out.indices.tolist() == [0, 7, 15, 22, 29]
    # JPEG at quality 95: close to the source, not bit-exact
    assert np.abs(out.frames.astype(int) - frames[out.indices]).mean() < 2
    # a folder at another rate (TVQA's 3-fps frames_hq): the same files, times on that rate
    slow = V.sample_frames(folder, fps=1.0, folder_fps=3.0, decode=False)
    assert slow.info.fps == 3.0 and slow.info.duration == 10.0
    assert slow.indices.tolist() == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]
    assert slow.timestamps.tolist() == [float(k) for k in range(10)]
    path_info = V.video_info(path, folder_fps=3.0)  # a file keeps its own rate
    assert path_info.fps == V.video_info(path).fps


def test_missing_inputs_raise_data_errors(clip, tmp_path):
    with pytest.raises(DataError, match="video not found"):
        V.video_info(tmp_path / "nope.mp4")
    empty = tmp_path / "frames"
    empty.mkdir()
    with pytest.raises(DataError, match="no .jpg/.png frames"):
        V.video_info(empty)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    with pytest.raises(DataError, match="broken.mp4"):
        V.video_info(broken)
    for backend in BACKENDS:
        with pytest.raises(DataError, match="past the end|out of range"):
            V.read_frames(clip[0], [5, 30], backend=backend)


def test_write_video_rejects_odd_sizes(tmp_path):
    with pytest.raises(ValueError, match="even"):
        V.write_video(tmp_path / "x.mp4", np.zeros((2, 31, 32, 3), np.uint8), 6.0)


def test_seeking_across_keyframes(tmp_path):
    """300 frames: x264 puts keyframes at 0 and 250, so frame 260 is reached by seeking, 5 and 299 not."""
    frames = np.zeros((300, 32, 64, 3), dtype=np.uint8)
    for i in range(300):
        frames[i, :, :] = (i * 37) % 200 + 20  # a distinct flat grey per frame
    path = tmp_path / "long.mp4"
    V.write_video(path, frames, 30.0)
    indices = [299, 5, 260, 251, 120]
    for backend in BACKENDS:
        out = V.read_frames(path, indices, backend=backend)
        np.testing.assert_allclose(
            out.mean(axis=(1, 2, 3)), frames[indices, 0, 0, 0], atol=2, err_msg=backend
        )
    missing = tmp_path / "no_such_frames"
    with pytest.raises(DataError, match="no_such_frames: video not found"):
        V.sample_frames(missing, fps=1.0)


def test_frame_folder_order_is_numeric(tmp_path):
    from PIL import Image

    for number in (9999, 10000, 10001):
        Image.fromarray(np.full((8, 8, 3), number % 250, np.uint8)).save(tmp_path / f"frame_{number:04d}.png")
    out = V.read_frames(tmp_path, [0, 1, 2])
    assert out[:, 0, 0, 0].tolist() == [9999 % 250, 10000 % 250, 10001 % 250]
