"""The train-pooling x eval-pooling grid (POVQA's results layout): every trained adapter, each trained on
frames pooled one way, evaluated with frames pooled every way; one prediction file and one
`<cell>.summary.json` per cell, and a table of one headline metric (rows: training, columns: evaluation).

    python -m evqa.training.pooling_grid --benchmark tvqa --data-dir data/tvqa --model Qwen/Qwen2.5-VL-7B-Instruct \\
        --train base= --train wa=models/sft/wa --train bblf=models/sft/bblf \\
        --eval-pooling wa wae war bblf --out runs/grid [-- extra evqa infer options]

Each cell is `evqa infer --benchmark B --pooling <eval> [--adapter-path <train adapter>] --output
<out>/<train>/<eval>.json` then `evqa eval --benchmark B` on it (so resume, retries and the summary are
the usual ones: a killed grid run continues where it stopped). `--eval-pooling none` evaluates plain
sampled frames. Writes `<out>/grid.json` (every cell's summary path and value) and `<out>/grid.<fmt>`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from evqa.errors import ConfigError

EVAL_CHOICES = ("none", "wa", "wae", "war", "bblf")


def parse_train(specs: Sequence[str]) -> dict[str, str | None]:
    """{'base': None, 'wa': 'models/sft/wa'} from ['base=', 'wa=models/sft/wa'] (NAME=ADAPTER_DIR; empty: no
    adapter). A named adapter folder that does not exist is an error."""
    out: dict[str, str | None] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name:
            raise ConfigError(f"expected NAME=ADAPTER_DIR (or NAME= for none), got '{spec}'", field="--train")
        if name in out:
            raise ConfigError(f"training run '{name}' given twice", field="--train")
        if path and not Path(path).is_dir():
            raise ConfigError("adapter folder does not exist", path=path, field="--train")
        out[name] = path or None
    return out


def cell_path(out_dir: Path, train: str, pooling: str) -> Path:
    return out_dir / train / f"{pooling}.json"


def run_grid(
    *,
    benchmark: str,
    model: str,
    data_dir: str,
    train: Mapping[str, str | None],
    eval_poolings: Sequence[str],
    out_dir: str | Path,
    metric: str | None = None,
    fmt: str = "md",
    infer_args: Sequence[str] = (),
    eval_args: Sequence[str] = (),
) -> dict:
    """Run every cell (module doc) and write the grid JSON and table; returns the grid JSON."""
    from evqa.benchmarks.base import summary_path
    from evqa.benchmarks.registry import get_benchmark
    from evqa.cli.main import main
    from evqa.eval.tables import Column, format_table

    bench = get_benchmark(benchmark)
    key = metric or bench.columns[0].key
    column = next((c for c in bench.columns if c.key == key), None)
    if column is None:
        raise ConfigError(f"{benchmark} has no metric '{key}' ({', '.join(c.key for c in bench.columns)})",
                          field="--metric")  # fmt: skip
    for pooling in eval_poolings:
        if pooling not in EVAL_CHOICES:
            raise ConfigError(
                f"unknown pooling '{pooling}' ({', '.join(EVAL_CHOICES)})", field="--eval-pooling"
            )
    out_dir = Path(out_dir)
    cells: dict[str, dict[str, dict]] = {}
    for name, adapter in train.items():
        for pooling in eval_poolings:
            pred = cell_path(out_dir, name, pooling)
            argv = ["infer", "--benchmark", benchmark, "--data-dir", data_dir, "--model", model,
                    "--output", str(pred), *infer_args]  # fmt: skip
            argv += ["--pooling", pooling] if pooling != "none" else []
            argv += ["--adapter-path", adapter] if adapter else []
            code = main(argv)
            if code not in (0, 1):  # 1: some items failed (counted by the scorer)
                raise ConfigError(f"cell {name} x {pooling}: evqa infer exited with {code}", field="--train")
            code = main(["eval", "--benchmark", benchmark, "--data-dir", data_dir, "--pred_file", str(pred),
                         *eval_args])  # fmt: skip
            if code not in (0, 1):
                raise ConfigError(f"cell {name} x {pooling}: evqa eval exited with {code}", field="--train")
            summary = json.loads(summary_path(pred).read_text())
            cells.setdefault(name, {})[pooling] = {
                "summary": str(summary_path(pred)),
                "value": summary["metrics"].get(key),
                "adapter": adapter,
            }
    rows = [(name, {p: cell["value"] for p, cell in by_eval.items()}) for name, by_eval in cells.items()]
    columns = [
        Column(p, p, "higher" if column.higher_is_better else "lower", column.digits) for p in eval_poolings
    ]
    table = format_table(rows, columns, fmt, name_header=f"train \\ eval ({column.label})")
    grid = {"benchmark": benchmark, "model": model, "metric": key, "eval_poolings": list(eval_poolings),
            "cells": cells}  # fmt: skip
    from evqa.io import write_json_atomic

    write_json_atomic(out_dir / "grid.json", grid)
    (out_dir / f"grid.{ {'md': 'md', 'latex': 'tex', 'csv': 'csv'}[fmt] }").write_text(table)
    print(table, end="")
    return grid


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m evqa.training.pooling_grid",
        description="train-pooling x eval-pooling grid: one summary per cell and a table",
        epilog="arguments after -- go to every `evqa infer` call (e.g. -- --num-frames 16 --max-size 448)",
    )
    p.add_argument("--benchmark", required=True, help="registered benchmark (e.g. tvqa, reasonvqa)")
    p.add_argument("--data-dir", required=True, help="the benchmark's data folder (as for evqa infer)")
    p.add_argument("--model", required=True, help="base model (evqa infer --model)")
    p.add_argument("--train", action="append", required=True, metavar="NAME=ADAPTER_DIR",
                   help="a training run: its name (row) and its peft adapter folder; NAME= for the base model. "
                   "Repeat for each row")  # fmt: skip
    p.add_argument("--eval-pooling", nargs="+", default=["wa", "wae", "war", "bblf"], choices=EVAL_CHOICES,
                   help="evaluation poolings (columns); none = plain sampled frames (default: wa wae war bblf)")  # fmt: skip
    p.add_argument(
        "--out", required=True, help="output folder: <out>/<train>/<pooling>.json + summaries, grid.*"
    )
    p.add_argument("--metric", help="the table's metric (default: the benchmark's first column)")
    p.add_argument(
        "--format", default="md", choices=("md", "latex", "csv"), help="table format (default: md)"
    )
    p.add_argument("--eval-arg", action="append", default=[], metavar="ARG",
                   help="an extra `evqa eval` argument, repeatable (e.g. --eval-arg=--no-embedding)")  # fmt: skip
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = build_parser().parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    try:
        run_grid(benchmark=args.benchmark, model=args.model, data_dir=args.data_dir, train=parse_train(args.train),
                 eval_poolings=args.eval_pooling, out_dir=args.out, metric=args.metric, fmt=args.format,
                 infer_args=extra, eval_args=args.eval_arg)  # fmt: skip
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
