"""Score generative ST-Evidence predictions (the upstream script name; same flags). See `evqa eval --help`."""

import sys

from evqa.cli.main import run_command

if __name__ == "__main__":
    sys.exit(run_command("eval", sys.argv[1:], prog="eval_st_evidence.py"))
