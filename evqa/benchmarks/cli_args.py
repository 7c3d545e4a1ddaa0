"""The command-line side of the registry: `--benchmark`, `--data-dir`, every entry's own file flags and
options, and the judge flags — added to `evqa infer`, `evqa eval`, `evqa synth` and `evqa judge` by one
call each, so the parsers of those commands stay as they were."""

from __future__ import annotations

import argparse
from typing import Any

from evqa.benchmarks.registry import DEFAULT_BENCHMARK, get_benchmark, list_benchmarks

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


def judge_settings(args: argparse.Namespace):
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


def benchmark_name(args: argparse.Namespace) -> str:
    return getattr(args, "benchmark", None) or DEFAULT_BENCHMARK


def located_files(bench, args: argparse.Namespace) -> dict[str, Any]:
    """The benchmark's files: its flags first, else found under `--data-dir`."""
    overrides = {f.key: getattr(args, f.key, None) for f in bench.data_files}
    return bench.locate(getattr(args, "data_dir", None), overrides)


def benchmark_options(bench, args: argparse.Namespace) -> dict[str, Any]:
    every = [*bench.options, *getattr(bench, "score_options", ())]  # score_options: on infer and eval
    return {opt.dest: getattr(args, opt.dest, opt.default) for opt in every}
