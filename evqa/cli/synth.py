"""`evqa synth`: generate the ST-Evidence-Synth benchmark and instruct data, then print a summary."""

from __future__ import annotations

import argparse

from evqa.errors import ConfigError


def parse_size(text: str) -> tuple[int, int]:
    """'112x160' -> (112, 160) = (H, W) in pixels; a single number means a square."""
    parts = text.lower().split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ConfigError(f"--size must look like HxW (e.g. 112x112), got '{text}'") from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2:
        raise ConfigError(f"--size must look like HxW (e.g. 112x112), got '{text}'")
    return values[0], values[1]


def build_parser(prog: str) -> argparse.ArgumentParser:
    from evqa.data.synth import DEFAULTS, default_root

    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0].split(": ", 1)[1])
    parser.add_argument(
        "--out", default=str(default_root()), help="output folder (default: $EVQA_SYNTH_ROOT or data/synth)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed; equal seeds give identical files")
    parser.add_argument(
        "--num-train",
        type=int,
        default=DEFAULTS["num_train"],
        help="instruct (training) clips (default: %(default)s)",
    )
    parser.add_argument(
        "--num-test", type=int, default=DEFAULTS["num_test"], help="benchmark clips (default: %(default)s)"
    )
    h, w = DEFAULTS["size"]
    parser.add_argument("--size", default=f"{h}x{w}", help=f"frame size HxW in pixels (default: {h}x{w})")
    parser.add_argument("--fps", type=float, default=DEFAULTS["fps"], help="frames per second (default: 6)")
    parser.add_argument(
        "--no-score", action="store_true", help="write the baseline predictions but do not score them"
    )
    from evqa.cli.benchmark_args import add_benchmark_arguments

    add_benchmark_arguments(parser, data=False, options=False, data_dir=False)
    parser.add_argument("--num-items", type=int, default=None,
                        help="--benchmark other than ST-Evidence: items of its synthetic version (default: its own)")  # fmt: skip
    return parser


def run(args: argparse.Namespace) -> int:
    from evqa.cli.benchmark_args import synth_hook
    from evqa.data.synth import generate

    code = synth_hook(args)
    if code is not None:
        return code
    summary = generate(
        args.out,
        seed=args.seed,
        num_train=args.num_train,
        num_test=args.num_test,
        size=parse_size(args.size),
        fps=args.fps,
        score=not args.no_score,
    )
    print(summary.format())
    return 0
