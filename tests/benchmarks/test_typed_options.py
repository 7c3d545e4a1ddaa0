"""The library takes typed options: no function outside `evqa/cli/` is annotated with (or checks for) an
`argparse.Namespace`, and the benchmark library run with typed options (no argparse anywhere) gives the
numbers the `evqa` command line gives on the same data."""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
from pathlib import Path

import pytest

import evqa
from evqa.benchmarks.registry import get_benchmark
from tests.baselines import fake_api

PACKAGE = Path(evqa.__file__).parent


def _mentions_namespace(node: ast.AST | None) -> bool:
    """`argparse.Namespace`, a bare `Namespace` (from argparse import Namespace) or either in a string."""
    if node is None:
        return False
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and sub.attr == "Namespace":
            return True
        if isinstance(sub, ast.Name) and sub.id == "Namespace":
            return True
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and "Namespace" in sub.value:
            try:
                if _mentions_namespace(ast.parse(sub.value, mode="eval")):
                    return True
            except SyntaxError:
                continue
    return False


def _is_isinstance(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "isinstance"
        and len(node.args) == 2
    )


def namespace_uses(source: str, filename: str = "<source>") -> list[str]:
    """'file:line what' for each function annotation and isinstance check that names argparse.Namespace."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            params = [*a.posonlyargs, *a.args, *a.kwonlyargs, *filter(None, [a.vararg, a.kwarg])]
            for arg in params:
                if _mentions_namespace(arg.annotation):
                    found.append(f"{filename}:{arg.lineno} {node.name}({arg.arg}: ...)")
            if _mentions_namespace(node.returns):
                found.append(f"{filename}:{node.lineno} {node.name}() -> ...")
        elif _is_isinstance(node) and _mentions_namespace(node.args[1]):
            found.append(f"{filename}:{node.lineno} isinstance(..., Namespace)")
    return found


def test_the_scan_sees_annotations_and_isinstance_checks():
    source = (
        "import argparse\nfrom argparse import Namespace\n"
        "def a(args: argparse.Namespace): ...\n"
        "def b(x, *, args: 'argparse.Namespace | None' = None): ...\n"
        "def c(args) -> Namespace: ...\n"
        "def d(args: Options | argparse.Namespace):\n    return isinstance(args, argparse.Namespace)\n"
        "def e(args: Options): ...\n"
    )
    assert [u.split(" ", 1)[1] for u in namespace_uses(source)] == [
        "a(args: ...)",
        "b(args: ...)",
        "c() -> ...",
        "d(args: ...)",
        "isinstance(..., Namespace)",
    ]


def test_no_library_function_takes_an_argparse_namespace():
    uses = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent)
        if rel.parts[:2] == ("evqa", "cli"):
            continue
        uses += namespace_uses(path.read_text(encoding="utf-8"), str(rel))
    assert not uses, "argparse.Namespace outside evqa/cli/ (translate it in the CLI):\n" + "\n".join(uses)


# --- the typed library path and the command line agree ---------------------------------------------------


@pytest.fixture
def no_argparse(monkeypatch):
    """Within the `with` block, any argparse parsing fails the test (the typed path must not parse flags)."""

    @contextlib.contextmanager
    def guard():
        def refuse(*args, **kwargs):
            raise AssertionError("argparse was used on the typed path")

        with monkeypatch.context() as m:
            m.setattr(argparse.ArgumentParser, "parse_known_args", refuse)
            m.setattr(argparse, "Namespace", refuse)
            yield

    return guard


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _records(pred: Path) -> dict[str, tuple]:
    """What a prediction file says per entry (timings and token counts left out)."""
    from evqa.eval.predictions import load_predictions

    preds = load_predictions(pred)
    preds.pop("__run__", None)
    return {k: (r.get("parsed_response"), r.get("raw_response"), r.get("error")) for k, r in preds.items()}


def _numbers(results: dict) -> dict:
    return {k: results[k] for k in ("metrics", "breakdowns", "counts", "per_item", "ci", "ci_settings")}


def test_synth_infer_eval_typed_equal_the_cli(tmp_path, monkeypatch, no_argparse, capsys):
    from evqa.baselines.cli_run import InferOptions
    from evqa.benchmarks.run import (
        BenchmarkSelection,
        run_benchmark_eval,
        run_benchmark_infer,
        synthesize_benchmark,
    )
    from evqa.cli.main import main

    typed_data, cli_data = tmp_path / "typed_data", tmp_path / "cli_data"
    typed_pred, cli_pred = tmp_path / "typed_pred.json", tmp_path / "cli_pred.json"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with fake_api.FakeOpenAI() as server:  # its default reply to an MCQ prompt: "The answer is A."
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        with no_argparse():
            files = synthesize_benchmark("tvqa", typed_data, seed=0)
            bench = get_benchmark("tvqa")
            selection = BenchmarkSelection("tvqa", data_dir=str(typed_data))
            options = InferOptions(model="gpt-4o", output=str(typed_pred), max_size=32, progress=False)
            summary = run_benchmark_infer(bench, options, selection)
            assert (summary.total, summary.done, summary.failed) == (24, 24, 0)
            code = run_benchmark_eval(
                bench, selection, str(typed_pred), output_file=str(tmp_path / "typed.json")
            )
            assert code == 0
        typed_out = capsys.readouterr().out
        assert main(["synth", "--benchmark", "tvqa", "--out", str(cli_data)]) == 0
        argv = ["infer", "--benchmark", "tvqa", "--data-dir", str(cli_data), "--model", "gpt-4o", "--output",
                str(cli_pred), "--max-size", "32", "--no-progress"]  # fmt: skip
        assert main(argv) == 0
    assert files == get_benchmark("tvqa").locate(typed_data)
    assert _tree(typed_data) == _tree(cli_data)  # the same synthetic files, byte for byte
    assert _records(typed_pred) == _records(cli_pred) and len(_records(typed_pred)) == 24
    capsys.readouterr()
    # the same prediction file scored both ways: the same results file and printed table
    assert main(["eval", "--benchmark", "tvqa", "--data-dir", str(cli_data), "--pred_file", str(typed_pred),
                 "--output_file", str(tmp_path / "cli.json")]) == 0  # fmt: skip
    cli_out = capsys.readouterr().out
    typed_results = json.loads((tmp_path / "typed.json").read_text())
    cli_results = json.loads((tmp_path / "cli.json").read_text())
    assert _numbers(typed_results) == _numbers(cli_results)
    assert typed_results["metrics"]["accuracy"] > 0 and typed_results["counts"]["n"] == 24
    assert typed_out.split("results written to")[0] == cli_out.split("results written to")[0]  # the table
    assert typed_out.startswith("Acc: ") and "show_name=Friends: Acc: " in typed_out
    # and the CLI's own run on its own data gives the same numbers
    argv = ["eval", "--benchmark", "tvqa", "--data-dir", str(cli_data), "--pred_file", str(cli_pred)]
    assert main(argv) == 0
    assert _numbers(json.loads((tmp_path / "cli_pred_eval.json").read_text())) == _numbers(typed_results)


def test_a_judge_for_a_benchmark_without_one_is_refused_both_ways(tmp_path, capsys):
    from evqa.benchmarks.run import BenchmarkSelection, run_benchmark_eval, synthesize_benchmark
    from evqa.cli.main import main
    from evqa.errors import ConfigError
    from evqa.eval.judge import JudgeSettings

    synthesize_benchmark("tvqa", tmp_path, num_items=4)
    pred = tmp_path / "pred.json"
    pred.write_text("{}")
    bench, selection = get_benchmark("tvqa"), BenchmarkSelection("tvqa", data_dir=tmp_path)
    with pytest.raises(ConfigError, match="benchmark tvqa is not scored by a judge") as err:
        run_benchmark_eval(bench, selection, pred, judge=JudgeSettings())
    assert err.value.field == "--judge"
    argv = ["eval", "--benchmark", "tvqa", "--data-dir", str(tmp_path), "--pred_file", str(pred)]
    assert main([*argv, "--judge", "gpt-4o"]) == 2
    assert "field '--judge': benchmark tvqa is not scored by a judge" in capsys.readouterr().err
    assert main([*argv, "--judge", ""]) == 0  # only a --judge that names one is refused, as before
    with pytest.raises(ValueError, match="has no data file or option qa"):
        BenchmarkSelection("tvqa", files={"qa": "x.jsonl"}).locate(bench)
    with pytest.raises(ValueError, match="selection is of benchmark egotempo, not tvqa"):
        BenchmarkSelection("egotempo").option_values(bench)


def test_a_judged_benchmark_without_a_judge_uses_the_default_one(tmp_path, monkeypatch, no_argparse):
    """judge=None on the library is what `evqa judge` does without judge flags: JudgeSettings() (Gemini)."""
    from evqa.benchmarks.run import BenchmarkSelection, run_benchmark_eval, synthesize_benchmark
    from evqa.cli.main import main
    from evqa.eval.judge import DEFAULT_JUDGE

    from .conftest import API_KEY, VerdictGemini

    files = synthesize_benchmark("egotextvqa", tmp_path / "data", num_items=2)
    bench = get_benchmark("egotextvqa")
    records = bench.load(files)
    preds = {r.entry_id: {"parsed_response": {"answer": r.answer}, "raw_response": r.answer, "error": None}
             for r in records}  # fmt: skip
    for name in ("typed", "cli"):  # one prediction file each: each its own judgement cache
        (tmp_path / f"{name}.json").write_text(json.dumps(preds))
    with VerdictGemini() as server:
        monkeypatch.setenv("GEMINI_API_KEY", API_KEY)
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        monkeypatch.setenv("GEMINI_BASE_URL", server.url)
        with no_argparse():
            selection = BenchmarkSelection("egotextvqa", data_dir=tmp_path / "data")
            assert run_benchmark_eval(bench, selection, str(tmp_path / "typed.json")) == 0
        typed_calls = len(server.bodies)
        argv = ["judge", "--benchmark", "egotextvqa", "--data-dir", str(tmp_path / "data"), "--pred_file",
                str(tmp_path / "cli.json")]  # fmt: skip
        assert main(argv) == 0
    assert typed_calls == len(records) and len(server.bodies) == 2 * len(records)
    typed = json.loads((tmp_path / "typed_eval.json").read_text())
    cli = json.loads((tmp_path / "cli_eval.json").read_text())
    assert typed.pop("pred_file") != cli.pop("pred_file")
    assert typed == cli and typed["metrics"]["score"] == pytest.approx(4.0)  # VerdictGemini: yes, 4
    for name in ("typed", "cli"):
        run = json.loads((tmp_path / f"{name}.summary.json").read_text())["run"]
        assert run["judge"] == DEFAULT_JUDGE
