"""Real-data preparation without the network: download from a local mirror, extract, check, re-encode."""

import io
import shutil
import tarfile

import numpy as np
import pandas as pd
import pytest

from evqa.cli.main import run_command
from evqa.data import prepare
from evqa.data.synth import SynthPaths, generate
from evqa.data.video import VideoWriter, read_frames, video_info, write_frame_folder
from evqa.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("prep") / "synth"
    generate(root, seed=2, num_train=3, num_test=4, size=(48, 64), score=False, progress=False)
    return SynthPaths(root)


def _mirror(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "st_evidence_gen").mkdir(parents=True)
    (mirror / "st_evidence_gen" / "st_evidence_gen.csv").write_text("entry_id\n1\n")
    (mirror / "st_evidence_gen" / "notes.md").write_text("hello")
    return mirror


def test_download_from_local_source(tmp_path):
    dest = prepare.download(
        "st-evidence", tmp_path / "out", source=_mirror(tmp_path), allow_patterns=["*.csv"]
    )
    assert (dest / "st_evidence_gen" / "st_evidence_gen.csv").read_text() == "entry_id\n1\n"
    assert not (dest / "st_evidence_gen" / "notes.md").exists()
    with pytest.raises(DataError, match="source folder not found"):
        prepare.download("st-evidence", tmp_path / "x", source=tmp_path / "missing")
    with pytest.raises(ConfigError, match="unknown dataset 'nope'"):
        prepare.download("nope")


def test_download_calls_snapshot_download(tmp_path, monkeypatch):
    import huggingface_hub

    calls = []

    def fake_snapshot(repo_id, *, repo_type, local_dir, revision, allow_patterns):
        calls.append((repo_id, repo_type, revision, allow_patterns))
        shutil.copytree(_mirror(tmp_path), local_dir, dirs_exist_ok=True)
        return local_dir

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    code = run_command(
        "data",
        ["download", "st-evidence-instruct", "--local-dir", str(tmp_path / "d"), "--include", "gen_mask/*"],
    )
    assert code == 0
    assert calls == [("Salesforce/ST-Evidence-Instruct", "dataset", None, ["gen_mask/*"])]
    assert (tmp_path / "d" / "st_evidence_gen" / "notes.md").is_file()


def _tar(path, members: dict[str, bytes]):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_extract_once_and_refuse_traversal(tmp_path):
    root = tmp_path / "gen_mask"
    root.mkdir()
    _tar(root / "masks.tar.gz", {"masks/a.json": b"{}", "masks/b.json": b"[]"})
    assert prepare.extract_archives(root, progress=False) == [root / "masks.tar.gz"]
    assert (root / "masks" / "b.json").read_bytes() == b"[]"
    assert prepare.extract_archives(root, progress=False) == []  # marker: done already
    _tar(root / "evil.tar.gz", {"../outside.txt": b"x"})
    with pytest.raises(DataError, match="evil.tar.gz: unsafe archive member"):
        prepare.extract_archives(root, progress=False)
    assert not (tmp_path / "outside.txt").exists()
    (root / "cut.tar.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    (root / ".evil.tar.gz.extracted").touch()
    with pytest.raises(DataError, match="cut.tar.gz: cannot extract"):
        prepare.extract_archives(root, progress=False)


def test_check_passes_on_generated_data(synth):
    report = prepare.check_dataset(
        synth.instruct_mask_csv,
        video_dir=synth.instruct_video_dir,
        mask_dir=synth.instruct_mask_dir,
        frames_dir=synth.frames_dir,
        progress=False,
    )
    assert report.ok, report.format()
    assert report.checked == {
        "entries": 3,
        "videos": 3,
        "frame folders 0-based": 3,
        "entries without masks": 0,
    }
    report = prepare.check_dataset(
        synth.gen_csv, video_dir=synth.video_dir, mask_dir=synth.gt_mask_png_dir, progress=False
    )
    assert report.ok and report.checked["entries"] == 4


def test_check_reports_every_kind_of_problem(synth, tmp_path):
    root = tmp_path / "broken"
    shutil.copytree(synth.root, root)
    paths = SynthPaths(root)
    rows = pd.read_csv(paths.instruct_mask_csv)
    (paths.instruct_video_dir / rows.video_path[0]).unlink()  # missing video
    shutil.rmtree(paths.frame_folder(rows.video_id[1]))  # missing frame folder
    next(paths.frame_folder(rows.video_id[2]).iterdir()).unlink()  # one frame short
    rows = rows.drop(columns=["question"])
    rows.loc[2, "temporal_evidence"] = "[[1.0, 99.0]]"
    rows.to_csv(paths.instruct_mask_csv, index=False)
    mask_file = paths.instruct_mask_dir / f"{rows.entry_id[2]}.json"
    mask_file.write_text(mask_file.read_text().replace('"frame": ', '"frame": 1000', 1))
    report = prepare.check_dataset(
        paths.instruct_mask_csv,
        video_dir=paths.instruct_video_dir,
        mask_dir=paths.instruct_mask_dir,
        frames_dir=paths.frames_dir,
        progress=False,
    )
    problems = {k: v for k, v in report.problems.items() if v}
    assert set(problems) == {
        "CSV columns",
        "missing videos",
        "missing frame folders",
        "frame folder / video length mismatch",
        "segments past the end",
        "mask frames out of range",
    }
    assert "missing column 'question'" in problems["CSV columns"][0]
    assert rows.video_id[1] in problems["missing frame folders"][0]
    text = report.format()
    assert "FAILED" in text and "PROBLEM missing videos: 1" in text
    code = run_command(
        "data",
        [
            "check",
            "--csv",
            str(paths.instruct_mask_csv),
            "--video-dir",
            str(paths.instruct_video_dir),
            "--frames-dir",
            str(paths.frames_dir),
        ],
    )
    assert code == 1


def test_reencode_changes_fps_and_size(tmp_path):
    src = tmp_path / "src"
    frames = np.zeros((25, 40, 60, 3), np.uint8)  # 1 s at 25 fps, frame i has brightness 10 * i
    for i in range(25):
        frames[i] = 10 * i
    with VideoWriter(src / "sub" / "clip.mp4", 25.0) as writer:
        for rgb in frames:
            writer.write(rgb)
    count = prepare.reencode_folder(
        src, tmp_path / "dst", fps=6.0, size=(20, 30), frames_dir=tmp_path / "f", progress=False
    )
    assert count == 1
    out = tmp_path / "dst" / "sub" / "clip.mp4"
    info = video_info(out)
    assert (info.fps, info.num_frames, info.height, info.width) == (6.0, 6, 20, 30)
    # tick k / 6 s shows source frame floor(k * 25 / 6) = 0, 4, 8, 12, 16, 20
    brightness = read_frames(out, range(6)).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(brightness, [0, 40, 80, 120, 160, 200], atol=3)
    assert len(list((tmp_path / "f" / "clip").glob("frame_*.jpg"))) == 6


def test_reencode_needs_videos(tmp_path):
    write_frame_folder(tmp_path / "frames", np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(DataError, match="no videos found"):
        prepare.reencode_folder(tmp_path / "frames", tmp_path / "out", progress=False)


def test_download_script_with_a_local_mirror(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    mirror = _mirror(tmp_path)
    _tar(mirror / "st_evidence_gen" / "masks.tar.gz", {"masks/e1/00000.png": b"png"})
    script = Path(__file__).resolve().parents[2] / "scripts" / "download_data.sh"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", str(script), "benchmark", "--source", str(mirror), "--local-dir", str(tmp_path / "st")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "st" / "st_evidence_gen" / "masks" / "e1" / "00000.png").read_bytes() == b"png"
    assert "extracted 1 archive(s)" in done.stdout
    bad = subprocess.run(["bash", str(script), "everything"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "usage:" in bad.stderr
