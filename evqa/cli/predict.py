"""`evqa predict`: answer one question about one video, with time segments and a mask for every frame.

    evqa predict --model checkpoints/tiny --video clip.mp4 --question "Which shape moves first?" \\
        --options "a red circle" "a blue square" "a green star" "a yellow ring" --output-dir /tmp/out

Prints the answer and segments, writes O/prediction.json and O/masks/<frame:05d>.png (every video frame).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Answer one question about one video.")
    parser.add_argument("--model", required=True, help="EVQA checkpoint folder")
    parser.add_argument("--video", required=True, help="video file or frame folder")
    parser.add_argument("--question", required=True, help="the question text")
    parser.add_argument("--options", nargs="+", required=True, help="answer options, in order A, B, ...")
    parser.add_argument(
        "--output-dir", "--output_dir", required=True, help="where prediction.json and masks/ go (required)"
    )
    parser.add_argument(
        "--fps", type=float, default=1.0, help="LLM frame-sampling rate in frames per second (default: 1)"
    )
    parser.add_argument(
        "--max-frames",
        "--max_frames",
        type=int,
        default=64,
        help="at most this many LLM frames (default: 64)",
    )
    parser.add_argument(
        "--max-new-tokens",
        "--max_new_tokens",
        type=int,
        default=96,
        help="generation budget in tokens (default: 96)",
    )
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    return parser


def run(args: argparse.Namespace) -> int:
    import torch

    from evqa.data.masks import write_mask_png
    from evqa.errors import ConfigError, InputError
    from evqa.io import write_json_atomic
    from evqa.model import EvqaPredictor, load_model

    if not Path(args.video).exists():
        raise InputError("video not found", path=args.video, field="--video")
    if not Path(args.model).is_dir():
        raise InputError("model folder not found", path=args.model, field="--model")
    for flag, value in (
        ("--fps", args.fps),
        ("--max-frames", args.max_frames),
        ("--max-new-tokens", args.max_new_tokens),
    ):
        if not value > 0:
            raise ConfigError(f"must be greater than 0, got {value:g}", field=flag)
    if (args.device or "").startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("CUDA is not available on this machine; use --device cpu", field="--device")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, processor = load_model(args.model, device=device)
    predictor = EvqaPredictor(
        model, processor, fps=args.fps, max_frames=args.max_frames, max_new_tokens=args.max_new_tokens
    )
    pred = predictor.predict(args.video, args.question, args.options)
    out = Path(args.output_dir)
    for index, mask in enumerate(pred.masks):
        write_mask_png(out / "masks" / f"{index:05d}.png", mask)
    record = {
        "answer": pred.letter,
        "segments": [list(s) for s in pred.segments],
        "raw_response": pred.raw_text,
        "mask_path": str(out / "masks"),
        "meta": {**pred.meta, "frames": pred.frame_indices.tolist()},
    }
    write_json_atomic(out / "prediction.json", record)
    print(f"answer: {pred.letter if pred.letter else 'unparsable'}")
    print(f"segments: {record['segments']}")
    print(f"masks: {len(pred.masks)} frames -> {out / 'masks'}")
    return 0
