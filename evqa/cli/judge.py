"""`evqa judge`: score open-answer predictions with an LLM judge (EgoTextVQA, EgoTempo).

    evqa judge --benchmark egotextvqa --pred_file results/gpt/gpt_4o_egotextvqa_1fps.json --judge gemini-2.5-flash
    evqa judge --benchmark egotempo --data-dir data/egotempo --pred_file P --judge gpt-4o --protocol upstream

Judgements are cached in `<pred stem>.judge.json` (or --judge-cache) and a rerun judges only what is not
judged yet; it writes `<pred stem>_eval.json` and `<pred stem>.summary.json`. Exit code 1 when some items
are judge errors (counted and reported; run again to retry them).
"""

from __future__ import annotations

import argparse

from evqa.cli.common import add_prediction_arguments, prediction_path
from evqa.errors import ConfigError


def build_parser(prog: str) -> argparse.ArgumentParser:
    from evqa.cli.benchmark_args import add_benchmark_arguments, add_judge_arguments

    p = argparse.ArgumentParser(prog=prog, description="Score open-answer predictions with an LLM judge.")
    add_prediction_arguments(p)
    p.add_argument("--protocol", default="evqa", choices=["evqa", "upstream"],
                   help="evqa: judge errors counted and left out (default); upstream: a judge error is 'no, 0'")  # fmt: skip
    p.add_argument("--output_file", "--output-file", dest="output_file",
                   help="results JSON (default: <pred stem>_eval.json next to it)")  # fmt: skip
    p.add_argument(
        "--no_progress", "--no-progress", dest="no_progress", action="store_true", help="hide progress bars"
    )
    add_benchmark_arguments(p, options=False)
    add_judge_arguments(p)
    p.set_defaults(benchmark="egotextvqa")
    return p


def run(args: argparse.Namespace) -> int:
    from evqa.benchmarks import get_benchmark
    from evqa.cli.benchmark_args import eval_benchmark

    bench = get_benchmark(args.benchmark)
    if not bench.needs_judge:
        raise ConfigError(
            f"benchmark {bench.name} is not scored by a judge (use evqa eval)", field="--benchmark"
        )
    return eval_benchmark(bench, args, prediction_path(args))
