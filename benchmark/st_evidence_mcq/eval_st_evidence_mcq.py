"""Score ST-Evidence MCQ predictions (the upstream script name). See `evqa eval-mcq --help`."""

import sys

from evqa.cli.main import run_command

if __name__ == "__main__":
    sys.exit(run_command("eval-mcq", sys.argv[1:], prog="eval_st_evidence_mcq.py"))
