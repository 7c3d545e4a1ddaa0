"""`evqa convert-unipixel SRC DST`: convert a released UniPixel checkpoint into an EVQA checkpoint folder.

Example:
    evqa convert-unipixel checkpoints/UniPixel-3B model_zoo/evqa-unipixel-3b --base-preset 3b --sam2 base
"""

from __future__ import annotations

import argparse

DTYPES = ("bfloat16", "float16", "float32")


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Convert a UniPixel checkpoint (Qwen2.5-VL + Meta SAM2 + heads) into an EVQA checkpoint.",
        epilog="Writes DST/config.json, safetensors, tokenizer, evqa_processor_config.json and "
        "conversion_report.json (tensors converted per part; none dropped, none left at init).",
    )
    parser.add_argument("src", help="UniPixel checkpoint folder (config.json, tokenizer, *.safetensors)")
    parser.add_argument("dst", help="output EVQA checkpoint folder")
    parser.add_argument(
        "--base-preset", choices=("3b", "7b"), help="check the checkpoint's LLM matches this Qwen2.5-VL size"
    )
    parser.add_argument(
        "--sam2",
        choices=("tiny", "base", "large"),
        help="SAM2.1 image encoder size (default: read from config.json 'sam2_config')",
    )
    parser.add_argument("--dtype", choices=DTYPES, help="weight dtype written (default: the checkpoint's)")
    return parser


def run(args: argparse.Namespace) -> int:
    import torch

    from evqa.model.convert_unipixel import convert_unipixel

    dtype = getattr(torch, args.dtype) if args.dtype else None
    report = convert_unipixel(args.src, args.dst, sam2=args.sam2, base_preset=args.base_preset, dtype=dtype)
    converted = ", ".join(f"{count} {part}" for part, count in report.converted.items())
    print(
        f"converted {args.src} -> {args.dst}: {converted} tensors (SAM2 {report.sam2}, {report.sam2_image_size} px)"
    )
    print(f"dropped: {len(report.dropped)}, left at initialisation: {len(report.initialised)}")
    return 0
