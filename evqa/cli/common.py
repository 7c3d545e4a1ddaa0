"""Argument handling shared by several subcommands."""

from __future__ import annotations

import argparse

from evqa.errors import ConfigError


def add_prediction_arguments(parser: argparse.ArgumentParser) -> None:
    """The prediction file, positional PRED (as the upstream scripts) or --pred_file (as their README)."""
    parser.add_argument(
        "pred", nargs="?", help="prediction file (upstream JSON or our JSONL); same as --pred_file"
    )
    parser.add_argument("--pred_file", "--pred-file", dest="pred_file",
                        help="prediction file (upstream JSON or our JSONL); same as PRED (default: none)")  # fmt: skip


def prediction_path(args: argparse.Namespace) -> str:
    """The prediction file, given positionally (as the upstream scripts) or as --pred_file (as their README)."""
    if args.pred is None and args.pred_file is None:
        raise ConfigError("a prediction file is required (PRED or --pred_file PRED)", field="--pred_file")
    if args.pred and args.pred_file and args.pred != args.pred_file:
        raise ConfigError("give the prediction file once (positional or --pred_file)", field="--pred_file")
    return args.pred_file or args.pred
