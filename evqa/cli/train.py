"""`evqa train --config train/<experiment>.yaml [section.key=value ...]` — what scripts/sft.sh calls."""

from __future__ import annotations

import argparse


def build_parser(prog: str) -> argparse.ArgumentParser:
    from evqa.training.main import build_parser as training_parser

    return training_parser(prog)


def run(args: argparse.Namespace) -> int:
    from evqa.training.config import parse_config
    from evqa.training.main import run_training

    out = run_training(*parse_config(args.config, args.overrides))
    print(f"model saved to {out}")
    return 0
