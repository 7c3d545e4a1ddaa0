"""The `evqa` command. Subcommands live in their own modules and are imported only when chosen, so
`evqa eval` never pays for importing torch.

Each subcommand module defines:
    build_parser(prog: str) -> argparse.ArgumentParser
    run(args: argparse.Namespace) -> int          (the exit code)
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

from evqa.errors import EvqaError

# libraries that log one INFO line per HTTP request; EVQA's own lines say what a run does
QUIET_LOGGERS = (
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "openai",
    "google_genai",
    "google.genai",
    "urllib3",
    "huggingface_hub",
)

# name -> (module under evqa.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "eval": ("evqa.cli.eval_gen", "score generative ST-Evidence predictions (QA, temporal, masks)"),
    "eval-mcq": ("evqa.cli.eval_mcq", "score ST-Evidence multiple-choice predictions"),
    "synth": ("evqa.cli.synth", "generate the ST-Evidence-Synth benchmark and instruct data"),
    "data": ("evqa.cli.data", "download, check and prepare real data (download, check, boxes-to-masks, ...)"),
    "model": ("evqa.cli.model", "build model checkpoints (model init --preset ...)"),
    "predict": ("evqa.cli.predict", "answer one question about one video, with segments and masks"),
    "convert-unipixel": (
        "evqa.cli.convert",
        "convert a released UniPixel checkpoint into an EVQA checkpoint",
    ),
    "infer": ("evqa.cli.infer", "run a model or baseline over the benchmark and write predictions"),
    "train": ("evqa.cli.train", "fine-tune the EVQA model from an experiment YAML"),
    "demo": ("evqa.cli.demo", "synthetic data -> train tiny model -> infer -> score, on CPU"),
    "report": ("evqa.cli.report", "one Markdown / LaTeX / CSV table from results or summary JSONs"),
    "compare": ("evqa.cli.compare", "paired test (McNemar / bootstrap) between two runs' results JSONs"),
    "view": ("evqa.cli.view", "static HTML error viewer of prediction files (timelines, masks; A/B)"),
    "benchmarks": (
        "evqa.cli.benchmarks",
        "list the registered benchmarks, their data, metrics and synthetic versions",
    ),
    "dpo-pairs": (
        "evqa.cli.dpo_pairs",
        "write DPO preference pairs (JSONL) from a benchmark's training split",
    ),
    "judge": ("evqa.cli.judge", "LLM-as-judge scoring of open-answer predictions (EgoTextVQA, EgoTempo)"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: evqa <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `evqa <command> --help` for the options of one command."]
    return "\n".join(lines)


def configure_logging() -> None:
    """INFO lines of EVQA on stderr (resume counts, data used, output paths), once per process; the
    per-request lines of HTTP clients are silenced."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def run_command(name: str, argv: list[str], prog: str | None = None) -> int:
    """Parse `argv` for subcommand `name` and run it; mistakes become one line on stderr and an exit code:
    0 ok, 1 some items failed, 2 user error (bad flag, missing or malformed file, refused credentials,
    an output that cannot be written), 130 interrupted.

    Also used by the upstream-named scripts under benchmark/, which pass their own `prog`.
    """
    configure_logging()
    module = importlib.import_module(COMMANDS[name][0])
    parser = module.build_parser(prog or f"evqa {name}")
    args = parser.parse_args(argv)
    try:
        return int(module.run(args) or 0)
    except EvqaError as err:
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `evqa ... | head`: the reader has gone; say nothing more
        _silence_stdout()
        return 0
    except OSError as err:  # an output path that cannot be written, a full disk, ...
        where = f"{err.filename}: " if err.filename else ""
        print(f"error: {where}{_one_line(err.strerror or err)}", file=sys.stderr)
        return 2


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    configure_logging()
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from evqa import __version__

        print(f"evqa {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: unknown command '{name}'\n\n{_usage()}", file=sys.stderr)
        return 2
    return run_command(name, rest)


if __name__ == "__main__":
    sys.exit(main())
