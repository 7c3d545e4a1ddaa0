"""Step 2: referring expressions of a prediction file -> masks (the upstream script name; upstream flags accepted). See `evqa infer --help`."""

import sys

from evqa.cli.main import run_command

if __name__ == "__main__":
    sys.exit(
        run_command(
            "infer", ["--task", "masks", "--adapter", "unipixel", *sys.argv[1:]], prog="unipixel_video_seg.py"
        )
    )
