import pytest

from evqa.cli.main import COMMANDS, main


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_unknown_command_is_one_line_error(capsys):
    assert main(["no-such-command"]) == 2
    assert "unknown command 'no-such-command'" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    assert "usage:" in capsys.readouterr().out


# ------------------------------------------------------------------ one line for every mistake

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from evqa.cli.main import run_command  # noqa: E402
from evqa.errors import InputError  # noqa: E402
from evqa.io import read_json  # noqa: E402

GEN_HEADER = "entry_id,video_id,video_path,question,answer,candidates,segment\n"
# the CLIs of these commands are described flag by flag (the eval, view and convert CLIs are checked
# where they live)
OWN_COMMANDS = ("infer", "data", "model", "predict", "synth", "train", "demo")


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("INFO ", "WARNING "))]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _actions(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _actions(sub)
        elif not isinstance(action, argparse._HelpAction):
            yield action


@pytest.mark.parametrize("name", OWN_COMMANDS)
def test_every_flag_has_help_with_its_default(name):
    import importlib

    parser = importlib.import_module(COMMANDS[name][0]).build_parser(f"evqa {name}")
    for action in _actions(parser):
        assert action.help, f"{name}: {action.option_strings or action.dest} has no help"
        if action.option_strings and action.default not in (None, False, True, argparse.SUPPRESS):
            help_text = action.help % {"default": action.default} if "%(" in action.help else action.help
            assert "default" in help_text, (name, action.option_strings)
            if not (isinstance(action.default, str) and os.sep in action.default):  # paths found at run time
                shown = f"{action.default:g}" if isinstance(action.default, float) else str(action.default)
                assert shown in help_text, (name, action.option_strings)


@pytest.mark.parametrize(
    ("spellings", "dest"),
    [(("--no-progress", "--no_progress"), "progress"), (("--max-retries", "--max_retries"), "max_retries")],
)
def test_both_spellings_are_accepted(spellings, dest):
    from evqa.cli.infer import build_parser

    parser = build_parser("evqa infer")
    values = [getattr(parser.parse_args([s] if dest == "progress" else [s, "3"]), dest) for s in spellings]
    assert values[0] == values[1]


def test_model_init_with_a_missing_pretrained_folder(tmp_path, capsys):
    code = run_command(
        "model", ["init", "--preset", "3b", "--out", str(tmp_path / "o"), "--pretrained", "nope"]
    )
    assert code == 2
    assert _one_error_line(capsys.readouterr().err) == (
        "error: nope: field '--pretrained': folder not found (a local model folder is expected)"
    )


def test_data_extract_of_a_missing_folder(tmp_path, capsys):
    assert run_command("data", ["extract", str(tmp_path / "nowhere")]) == 2
    assert _one_error_line(capsys.readouterr().err).endswith("nowhere: folder not found")


def test_data_check_of_a_header_only_csv(tmp_path, capsys):
    csv = tmp_path / "gt.csv"
    csv.write_text(GEN_HEADER)
    assert run_command("data", ["check", "--csv", str(csv)]) == 2
    assert _one_error_line(capsys.readouterr().err) == f"error: {csv}: has a header but no entries"


def test_offline_data_download_is_one_line(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "evqa.cli.main",
            "data",
            "download",
            "st-evidence",
            "--local-dir",
            str(tmp_path / "d"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    line = _one_error_line(done.stderr)
    assert "cannot reach the Hugging Face Hub for Salesforce/ST-Evidence" in line and "--source" in line


def test_deep_and_huge_json_are_errors_naming_the_file(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(InputError, match="deep.json: JSON nested too deeply"):
        read_json(deep)
    huge = tmp_path / "huge.json"
    huge.write_text('{"a": ' + "9" * 10000 + "}")
    with pytest.raises(InputError, match="huge.json: not readable JSON"):
        read_json(huge)


def test_a_deep_prediction_file_through_the_cli(tmp_path, capsys):
    csv = tmp_path / "gt.csv"
    csv.write_text(GEN_HEADER + 'e1,v,v.mp4,Q,x,"[\'x\']","[[0, 1]]"\n')
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100000 + "]" * 100000)
    code = run_command("infer", ["--task", "masks", str(deep), "--gt_file", str(csv), "--model", "m"])
    assert code == 2
    assert "deep.json: JSON nested too deeply to read" in _one_error_line(capsys.readouterr().err)


def _frames_benchmark(tmp_path, count):
    folder = tmp_path / "clip"
    folder.mkdir()
    for i in range(6):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / f"frame_{i:04d}.jpg")
    csv = tmp_path / "gt.csv"
    csv.write_text(
        GEN_HEADER + "".join(f'e{i},clip,clip,Q {"x" * 200},x,"[\'x\']","[[0, 1]]"\n' for i in range(count))
    )
    return csv


def test_an_unwritable_output_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0000")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # never reached
    csv = _frames_benchmark(tmp_path, 1)
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    code = run_command(
        "infer", ["--model", "gpt-4o", "--gt_file", str(csv), "--output", str(blocker / "p.json")]
    )
    assert code == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("error: field '--output': cannot create the output folder")


def test_broken_pipe_is_quiet(tmp_path):
    csv = _frames_benchmark(tmp_path, 300)
    cmd = (
        f"{sys.executable} -m evqa.cli.main infer --model gpt-4o --dry-run --gt_file {csv} "
        f"--video_dir {tmp_path} | head -1"
    )
    done = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert json.loads(done.stdout)["entry_id"] == "e0"
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr[-2000:]


def test_exit_codes_are_documented_in_the_readme():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for code, meaning in (("0", "ok"), ("1", "failed"), ("2", "user error"), ("130", "interrupted")):
        assert f"`{code}`" in section and meaning in section


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--fps", "0"], "field '--fps': must be greater than 0, got 0"),
        (["--max-frames", "0"], "field '--max-frames': must be greater than 0, got 0"),
    ],
)
def test_predict_refuses_impossible_sampling(tmp_path, capsys, flags, message):
    (tmp_path / "model").mkdir()
    video = _frames_benchmark(tmp_path, 1).parent / "clip"
    argv = [
        "--model",
        str(tmp_path / "model"),
        "--video",
        str(video),
        "--question",
        "Q",
        "--options",
        "a",
        "b",
    ]
    assert run_command("predict", [*argv, "--output-dir", str(tmp_path / "o"), *flags]) == 2
    assert _one_error_line(capsys.readouterr().err) == f"error: {message}"


def test_predict_with_a_missing_model_folder(tmp_path, capsys):
    video = _frames_benchmark(tmp_path, 1).parent / "clip"
    argv = ["--model", str(tmp_path / "nope"), "--video", str(video), "--question", "Q", "--options", "a"]
    assert run_command("predict", [*argv, "--output-dir", str(tmp_path / "o")]) == 2
    assert _one_error_line(capsys.readouterr().err).endswith("nope: field '--model': model folder not found")
