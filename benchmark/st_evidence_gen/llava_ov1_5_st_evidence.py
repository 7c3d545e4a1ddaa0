"""LLaVA-OneVision-1.5 baseline on the generative ST-Evidence task (the upstream script name; upstream flags accepted). See `evqa infer --help`."""

import sys

from evqa.cli.main import run_command

if __name__ == "__main__":
    sys.exit(
        run_command("infer", ["--adapter", "llava_ov_1_5", *sys.argv[1:]], prog="llava_ov1_5_st_evidence.py")
    )
