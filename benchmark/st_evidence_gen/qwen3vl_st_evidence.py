"""Qwen3-VL baseline on the generative ST-Evidence task (the upstream script name; upstream flags accepted). See `evqa infer --help`."""

import sys

from evqa.cli.main import run_command

if __name__ == "__main__":
    sys.exit(run_command("infer", ["--adapter", "qwen3_vl", *sys.argv[1:]], prog="qwen3vl_st_evidence.py"))
