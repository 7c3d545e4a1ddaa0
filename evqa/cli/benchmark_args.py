"""The command-line side of the benchmark registry: `--benchmark`, `--data-dir`, every entry's own file flags
and options, and the judge flags — added to `evqa infer`, `evqa eval`, `evqa synth`, `evqa judge` and `evqa
view` by one call each, so the parsers of those commands stay as they were — and the hooks those commands
call, which turn the parsed flags into the typed options of `evqa.benchmarks.run` (`BenchmarkSelection`,
`InferOptions`, `JudgeSettings`). The ST-Evidence entries keep their own command paths: for them the hooks
only fill the file flags the user left empty from `--data-dir`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from evqa.benchmarks.registry import DEFAULT_BENCHMARK, get_benchmark, list_benchmarks
from evqa.errors import ConfigError

if TYPE_CHECKING:
    from evqa.baselines.runner import RunSummary
    from evqa.benchmarks.base import Benchmark
    from evqa.benchmarks.run import BenchmarkSelection
    from evqa.eval.judge import JudgeSettings

ST_EVIDENCE = ("st_evidence_gen", "st_evidence_mcq")
_TYPES = {"int": int, "float": float, "str": str}


def _has(parser: argparse.ArgumentParser, dest: str, flags: tuple[str, ...]) -> bool:
    return any(a.dest == dest for a in parser._actions) or any(
        f in parser._option_string_actions for f in flags
    )


def add_benchmark_arguments(
    parser: argparse.ArgumentParser, *, data: bool = True, options: bool = True, data_dir: bool = True
) -> None:
    """`--benchmark`, `--data-dir` and (with `data` / `options`) each registered entry's file flags and
    options; a flag the command already has (e.g. `--gt_file`) is kept as it is."""
    group = parser.add_argument_group("benchmark (evqa benchmarks lists them)")
    if not _has(parser, "benchmark", ("--benchmark",)):
        group.add_argument(
            "--benchmark",
            default=None,
            help=f"registered benchmark: {', '.join(list_benchmarks())} (default: {DEFAULT_BENCHMARK})",
        )
    if data_dir and not _has(parser, "data_dir", ("--data-dir", "--data_dir")):
        group.add_argument(
            "--data-dir",
            "--data_dir",
            dest="data_dir",
            default=None,
            help="folder holding the benchmark's files (what `evqa synth --benchmark NAME --out DIR` wrote, or "
            "the real release laid out as its README says); single-file flags override (default: none)",
        )
    for name in list_benchmarks():
        bench = get_benchmark(name)
        specs = [
            (f.key, f.flags, f"{name}: {f.help} (default: found under --data-dir)") for f in bench.data_files
        ]
        for key, flags, help_ in specs if data else ():
            if not _has(parser, key, flags):
                group.add_argument(*flags, dest=key, default=None, help=help_)
        for opt in [*(bench.options if options else ()), *getattr(bench, "score_options", ())]:
            if _has(parser, opt.dest, opt.flags):
                continue
            if opt.type == "flag":
                group.add_argument(*opt.flags, dest=opt.dest, action="store_true", help=f"{name}: {opt.help}")
            else:
                group.add_argument(*opt.flags, dest=opt.dest, type=_TYPES[opt.type], default=opt.default,
                                   help=f"{name}: {opt.help}")  # fmt: skip


def add_judge_arguments(parser: argparse.ArgumentParser, *, default: str | None = None) -> None:
    """The judge flags of `evqa judge` and `evqa eval` (benchmarks scored by an LLM judge)."""
    from evqa.eval.judge import DEFAULT_JUDGE

    group = parser.add_argument_group("LLM judge (open-answer benchmarks)")
    group.add_argument("--judge", default=default,
                       help=f"judge model: an API model (gemini-2.5-flash, gpt-4o, ...) or a local transformers "
                       f"checkpoint (default: {DEFAULT_JUDGE})")  # fmt: skip
    group.add_argument("--judge-adapter", dest="judge_adapter", default=None,
                       help="adapter that runs the judge when --judge alone does not tell (default: inferred)")  # fmt: skip
    group.add_argument("--judge-base-url", dest="judge_base_url", default=None,
                       help="judge API endpoint (default: OPENAI_BASE_URL / GEMINI_BASE_URL from the environment)")  # fmt: skip
    group.add_argument("--judge-cache", dest="judge_cache", default=None,
                       help="judgement cache JSON, shared across runs (default: <pred stem>.judge.json)")  # fmt: skip
    group.add_argument("--judge-concurrency", dest="judge_concurrency", type=int, default=None,
                       help="judge requests in flight (default: the judge model's)")  # fmt: skip
    group.add_argument("--judge-retries", dest="judge_retries", type=int, default=5,
                       help="retries of a failed judge API call (429, 5xx, timeouts) (default: 5)")  # fmt: skip
    group.add_argument("--judge-reply-retries", dest="judge_reply_retries", type=int, default=2,
                       help="times an unusable judge reply is asked again before it is a judge_error (default: 2)")  # fmt: skip
    group.add_argument("--judge-device", dest="judge_device", default=None,
                       help="local judge: cuda | cpu (default: cuda if available)")  # fmt: skip


# --- flags -> typed options ---------------------------------------------------------------------------


def judge_settings(args: argparse.Namespace) -> JudgeSettings:
    """JudgeSettings from the judge flags."""
    from evqa.eval.judge import DEFAULT_JUDGE, JudgeSettings

    return JudgeSettings(
        model=args.judge or DEFAULT_JUDGE,
        adapter=args.judge_adapter,
        base_url=args.judge_base_url,
        device=args.judge_device,
        cache=args.judge_cache,
        concurrency=args.judge_concurrency,
        max_retries=args.judge_retries,
        reply_retries=args.judge_reply_retries,
        progress=not getattr(args, "no_progress", False) and getattr(args, "progress", True),
    )


def benchmark_judge(bench: Benchmark, args: argparse.Namespace) -> JudgeSettings | None:
    """The `judge` of `run_benchmark_eval`: from the judge flags for a benchmark scored by a judge; for any
    other one None, unless --judge was given (which `run_benchmark_eval` refuses)."""
    if bench.needs_judge:
        return judge_settings(args)
    if getattr(args, "judge", None):
        from evqa.eval.judge import JudgeSettings

        return JudgeSettings(model=args.judge)
    return None


def benchmark_name(args: argparse.Namespace) -> str:
    return getattr(args, "benchmark", None) or DEFAULT_BENCHMARK


def benchmark_selection(bench: Benchmark, args: argparse.Namespace) -> BenchmarkSelection:
    """`bench` with `--data-dir`, its file flags and the values of those of its options the command has."""
    from evqa.benchmarks.run import BenchmarkSelection, every_option

    every = every_option(bench)
    return BenchmarkSelection(
        name=bench.name,
        data_dir=getattr(args, "data_dir", None),
        files={f.key: getattr(args, f.key, None) for f in bench.data_files},
        options={opt.dest: getattr(args, opt.dest) for opt in every if hasattr(args, opt.dest)},
    )


def _fill_from_data_dir(bench: Benchmark, args: argparse.Namespace) -> None:
    """ST-Evidence with --data-dir: set the file flags the user left empty to what the data dir holds."""
    if not getattr(args, "data_dir", None):
        return
    for key, path in benchmark_selection(bench, args).locate(bench).items():
        if hasattr(args, key) and getattr(args, key) is None and path is not None:
            setattr(args, key, str(path))


# --- the hooks of evqa infer / eval / judge / synth -------------------------------------------------------


def infer_hook(args: argparse.Namespace) -> tuple[bool, RunSummary | None]:
    """Run `evqa infer` for a registered benchmark; returns (True, RunSummary | None) when it handled the
    command, (False, None) when the ST-Evidence path should run (with file flags filled from --data-dir)."""
    name = benchmark_name(args)
    bench = get_benchmark(name)
    if name in ST_EVIDENCE:
        explicit = getattr(args, "benchmark", None) is not None
        if name == "st_evidence_mcq" and args.task == "gen":
            args.task = "mcq"
        if explicit and name == "st_evidence_gen" and args.task not in ("gen", "masks"):
            raise ConfigError(f"--task {args.task} is not the generative benchmark", field="--task")
        _fill_from_data_dir(bench, args)
        return False, None
    from evqa.baselines.cli_run import InferOptions
    from evqa.benchmarks.run import run_benchmark_infer

    return True, run_benchmark_infer(
        bench, InferOptions.from_namespace(args), benchmark_selection(bench, args)
    )


def eval_hook(args: argparse.Namespace, pred_file: str) -> int | None:
    """`evqa eval --benchmark NAME`: None for the generative ST-Evidence path (file flags filled from
    --data-dir), else the exit code of scoring the registered benchmark."""
    name = benchmark_name(args)
    bench = get_benchmark(name)
    if name == "st_evidence_gen":
        _fill_from_data_dir(bench, args)
        return None
    return eval_benchmark(bench, args, pred_file)


def eval_benchmark(bench: Benchmark, args: argparse.Namespace, pred_file: str) -> int:
    """`run_benchmark_eval` with the options of `evqa eval|judge`'s flags (`--protocol`, `--output_file`, the
    judge flags)."""
    from evqa.benchmarks.run import run_benchmark_eval

    return run_benchmark_eval(bench, benchmark_selection(bench, args), pred_file,
                              protocol=getattr(args, "protocol", "evqa"),
                              output_file=getattr(args, "output_file", None),
                              judge=benchmark_judge(bench, args))  # fmt: skip


def synth_hook(args: argparse.Namespace) -> int | None:
    """`evqa synth --benchmark NAME`: None for ST-Evidence (its generator runs as before), else writes the
    entry's synthetic version and prints where its files are."""
    name = benchmark_name(args)
    if name in ST_EVIDENCE:
        return None
    from evqa.benchmarks.run import synthesize_benchmark
    from evqa.data.synth import default_root

    out = Path(args.out)
    if out == default_root():  # --out not given: a folder of its own beside the ST-Evidence synth data
        out = out / name
    files = synthesize_benchmark(name, out, seed=args.seed, num_items=getattr(args, "num_items", None))
    records = get_benchmark(name).load(files)
    print(json.dumps({"benchmark": name, "out": str(out), "items": len(records),
                      "files": {k: None if v is None else str(v) for k, v in files.items()}}, indent=2))  # fmt: skip
    return 0
