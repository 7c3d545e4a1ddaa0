"""VideoLLaMA3 baseline on the generative ST-Evidence task (the upstream script name; upstream flags accepted). See `evqa infer --help`."""

import sys

from evqa.cli.main import run_command

if __name__ == "__main__":
    sys.exit(
        run_command("infer", ["--adapter", "videollama3", *sys.argv[1:]], prog="videollama3_st_evidence.py")
    )
