"""`evqa model init`: build a model preset and write a checkpoint folder that `from_pretrained` loads.

evqa model init --preset tiny --out checkpoints/tiny
evqa model init --preset 7b --sam2 base --pretrained /models/Qwen2.5-VL-7B-Instruct --out checkpoints/7b
"""

from __future__ import annotations

import argparse

# evqa.model.presets.PRESETS, spelled here so that --help does not import torch (a test checks they agree)
PRESETS = ("tiny", "3b", "7b", "qwen3vl-tiny", "qwen3vl-2b", "qwen3vl-4b", "qwen3vl-8b")

DTYPES = ("float32", "bfloat16", "float16")


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Build EVQA model checkpoints.")
    sub = parser.add_subparsers(dest="action", required=True)
    init = sub.add_parser("init", help="write a random-init (or Qwen2.5-VL-initialised) checkpoint folder")
    init.add_argument("--preset", choices=PRESETS, required=True,
                      help="model: Qwen2.5-VL tiny / 3b / 7b or Qwen3-VL qwen3vl-tiny / -2b / -4b / -8b (required)")  # fmt: skip
    init.add_argument("--sam2", choices=("micro", "tiny", "base", "large"), default=None,
                      help="SAM2.1 image encoder (default: micro for the tiny presets, tiny for the others)")  # fmt: skip
    init.add_argument("--out", required=True, help="output checkpoint folder (required)")
    init.add_argument(
        "--pretrained",
        default=None,
        help="local Qwen2.5-VL-3B/7B- or Qwen3-VL-2B/4B/8B-Instruct folder matching --preset (weights; default: "
        "the preset's model from the local cache, else random init)",
    )
    init.add_argument(
        "--sam2-pretrained",
        "--sam2_pretrained",
        dest="sam2_pretrained",
        default=None,
        help="local transformers SAM2.1 folder (weights; default: from the local cache, else random init)",
    )
    init.add_argument(
        "--dtype",
        choices=DTYPES,
        default="float32",
        help="parameter dtype of the saved weights (default: float32)",
    )
    init.add_argument("--random-init", action="store_true",
                      help="random weights even when the preset's Hugging Face model id is in the local cache")  # fmt: skip
    init.add_argument("--seed", type=int, default=0, help="random-init seed (default: 0)")
    return parser


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from evqa.errors import DataError

    for flag, value in (("--pretrained", args.pretrained), ("--sam2-pretrained", args.sam2_pretrained)):
        if value is not None and not Path(value).is_dir():
            raise DataError("folder not found (a local model folder is expected)", path=value, field=flag)
    import torch

    from evqa.model import build_model, save_model

    model, processor = build_model(
        args.preset,
        args.sam2,
        torch_dtype=getattr(torch, args.dtype),
        pretrained=False if args.random_init else args.pretrained,
        sam2_pretrained=False if args.random_init else args.sam2_pretrained,
        seed=args.seed,
    )
    out = save_model(model, processor, args.out)
    total = sum(p.numel() for p in model.parameters())
    sam2 = sum(p.numel() for p in model.sam2.parameters())
    print(f"wrote {args.preset} checkpoint to {out} ({total / 1e6:.2f}M parameters, SAM2 {sam2 / 1e6:.2f}M)")
    return 0
