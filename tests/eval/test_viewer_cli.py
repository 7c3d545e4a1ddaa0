"""`evqa view`: flags, data resolution (flags, --data-dir, the synthetic default), errors, --serve."""

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request

import pytest
from test_viewer_data import GT_CSV, GT_MASKS, PRED_A, SAMPLE, write_run_b

from evqa.cli.main import main, run_command
from evqa.cli.view import build_parser
from evqa.eval.st_evidence import evaluate_gen


def _report_data(out) -> dict:
    text = (out / "data" / "report.js").read_text()
    assert text.startswith("window.EVQA_REPORT = ") and text.endswith(";\n")
    return json.loads(text[len("window.EVQA_REPORT = ") : -2])


def _chunk(out, k: int) -> dict:
    text = (out / "data" / f"entries_{k:03d}.js").read_text()
    assert text.startswith("evqaChunk(") and text.endswith(");\n")
    return json.loads(text[len("evqaChunk(") : -3])


def test_every_flag_has_help_with_its_default():
    parser = build_parser("evqa view")
    for action in parser._actions:
        if action.dest in ("help", "pred_files"):
            continue
        assert action.help and "default" in action.help, action.option_strings
    assert main(["--help"]) == 0


def test_view_of_the_sample(tmp_path, capsys):
    pred_b = write_run_b(tmp_path / "preds")
    out = tmp_path / "report"
    argv = ["--pred_file", str(PRED_A), "--pred_file", str(pred_b), "--gt_file", str(GT_CSV), "--gt_mask_dir",
            str(GT_MASKS), "--out", str(out), "--chunk_size", "3", "--no_progress"]  # fmt: skip
    assert run_command("view", argv) == 0
    printed = capsys.readouterr().out
    assert f"report written to {out / 'index.html'}" in printed and "videos: none" in printed
    data = _report_data(out)
    assert [r["name"] for r in data["runs"]] == ["A", "B"] and data["num_chunks"] == 3
    assert [row["id"] for row in data["index"]] == ["s1", "s2", "s3", "s4", "s5", "s6", "s7"]
    assert [row["chunk"] for row in data["index"]] == [0, 0, 0, 1, 1, 1, 2]
    assert data["comparison"] == {"both": 2, "only_a": 2, "only_b": 1, "neither": 2, "differ": 4}
    expected = evaluate_gen(GT_CSV, PRED_A, eval_masks=True, gt_mask_dir=GT_MASKS, progress=False)
    assert data["tables"][0]["rows"][0]["values"]["J&F"] == expected["mask_metrics"]["J&F"]
    s4 = _chunk(out, 1)["entries"][0]
    assert s4["entry_id"] == "s4" and s4["runs"][0]["segments"] == [[1.0, 2.0], [5.5, 7.0]]
    assert s4["timeline"]["runs"][0] == [{"start": 1.0, "end": 2.0, "left": 12.5, "width": 12.5},
                                         {"start": 5.5, "end": 7.0, "left": 68.75, "width": 18.75}]  # fmt: skip
    for name in ("index.html", "viewer.js", "viewer.css", "results/run_A.json", "results/run_B.json"):
        assert (out / name).is_file(), name
    html = (out / "index.html").read_text()
    assert (
        "http" not in html.replace('name="viewport"', "") and "fetch(" not in (out / "viewer.js").read_text()
    )
    # a second run into the same report folder replaces it: old frames and chunks do not linger
    assert (
        run_command("view", [*argv[:4], *argv[4:8], "--out", str(out), "--limit", "2", "--no_progress"]) == 0
    )
    assert [row["id"] for row in _report_data(out)["index"]] == ["s1", "s2"]
    assert sorted(p.name for p in (out / "data").iterdir()) == ["entries_000.js", "report.js"]
    assert sorted(p.name for p in (out / "frames").iterdir()) == ["e00000", "e00001"]


def test_data_dir_finds_the_csv_and_masks(tmp_path, capsys):
    out = tmp_path / "r"
    code = run_command("view", ["--pred_file", str(PRED_A), "--data-dir", str(SAMPLE), "--out", str(out),
                                "--no_progress"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert (
        f"GT: {SAMPLE / 'st_evidence_gen.csv'}" in printed and f"GT masks: {SAMPLE / 'gt_masks'}" in printed
    )
    assert _report_data(out)["tables"][0]["rows"][0]["values"]["J"] == 33.4642  # the sample's expected J


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--pred_file", "nope.json"], "field '--pred_file': file not found: nope.json"),
        (["--pred_file", str(PRED_A), "--pred_mask_dir", "a", "--pred_mask_dir", "b", "--gt_file", str(GT_CSV)],
         "give --pred_mask_dir once per --pred_file (1), got 2"),
        (["--pred_file", str(PRED_A), "--data-dir", "{tmp}"], "no st_evidence_gen.csv in {tmp}"),
        (["--pred_file", str(PRED_A), "--gt_file", str(GT_CSV), "--video_dir", "{tmp}/videos"],
         "field '--video_dir': folder not found: {tmp}/videos"),
        (["--pred_file", str(PRED_A), "--gt_file", str(GT_CSV), "--out", "{tmp}"], "is not empty and holds no EVQA report"),
        (["--pred_file", str(PRED_A), "--gt_file", str(GT_CSV), "--limit", "0"], "limit must be at least 1, got 0"),
    ],
)  # fmt: skip
def test_user_errors_are_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "something.txt").write_text("x")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    assert run_command("view", [*argv, "--no_progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and message.replace("{tmp}", str(tmp_path)) in err


def test_synthetic_benchmark_without_data_flags(tmp_path, monkeypatch, capsys):
    from evqa.data.synth import generate
    from evqa.data.synth.paths import SynthPaths

    generate(tmp_path / "synth", num_train=0, num_test=3, score=False, progress=False)
    paths = SynthPaths(tmp_path / "synth")
    monkeypatch.setenv("EVQA_SYNTH_ROOT", str(paths.root))
    pred, masks = paths.baseline("random_whole_video_empty_mask")
    out = tmp_path / "r"
    argv = ["--pred_file", str(pred), "--pred_mask_dir", str(masks), "--out", str(out), "--max_frames", "4"]
    assert run_command("view", [*argv, "--no_progress"]) == 0
    assert f"GT: {paths.gen_csv}" in capsys.readouterr().out
    entry = _chunk(out, 0)["entries"][0]
    assert len(entry["frames"]) == 4 and all(f["image"] for f in entry["frames"])
    assert (entry["height"], entry["width"]) == (112, 112) and entry["duration"] > 0
    # every frame has the (empty) predicted mask; GT frames are among the ones shown
    assert all(f["pred_areas"] == [0.0] for f in entry["frames"]) and any(
        f["gt_overlay"] for f in entry["frames"]
    )


def _ctrl_c_as_in_a_terminal() -> None:
    """SIGINT at its default in the child: an ignored SIGINT is inherited across exec (a test runner started in
    the background of a script has it ignored), and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_serve_prints_the_url_serves_the_report_and_stops_on_ctrl_c(tmp_path):
    out = tmp_path / "r"
    argv = [sys.executable, "-u", "-m", "evqa.cli.main", "view", "--pred_file", str(PRED_A), "--gt_file",
            str(GT_CSV), "--gt_mask_dir", str(GT_MASKS), "--out", str(out), "--no_progress", "--serve", "--port", "0"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"},
                            preexec_fn=_ctrl_c_as_in_a_terminal)  # fmt: skip
    try:
        url = None
        for line in proc.stdout:
            match = re.search(r"at (http://127\.0\.0\.1:\d+/index\.html) \(Ctrl-C stops\)", line)
            if match:
                url = match.group(1)
                break
        assert url, proc.stderr.read()
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200 and b"viewer.js" in response.read()
        with urllib.request.urlopen(url.replace("index.html", "results/run_A.json"), timeout=10) as response:
            assert json.loads(response.read())["qa_metrics"]["correct"] == 4
        proc.send_signal(signal.SIGINT)
        try:
            stdout, stderr = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # faulthandler writes every thread's stack to stderr
            stdout, stderr = proc.communicate(timeout=30)
            raise AssertionError(
                f"evqa view --serve did not stop on Ctrl-C; stderr:\n{stderr[-3000:]}"
            ) from None
        assert proc.returncode == 0 and "stopped" in stdout, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
