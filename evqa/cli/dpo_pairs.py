"""`evqa dpo-pairs`: preference pairs (JSONL, `evqa.training.pairs`) from a benchmark's training split.

    evqa dpo-pairs --csv data/synth/instruct/gen_qa/synth/st_evidence_synth.csv \\
        --video-dir data/synth/instruct/videos --out data/synth/dpo/gen_qa_pairs.jsonl
    evqa dpo-pairs --csv data/synth/instruct/gen_mask/st_evidence.csv --video-dir data/synth/instruct/videos \\
        --mask-dir data/synth/instruct/gen_mask/masks \\
        --frames-dir data/synth/instruct/gen_mask/video_frames_6fps --out data/synth/dpo/gen_mask_pairs.jsonl
"""

from __future__ import annotations

import argparse

from evqa.training.pairs import NEGATIVES


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Write DPO preference pairs (JSONL: id, source, entry_id, video, frames, prompt, chosen, "
        "rejected, chosen_masks, rejected_masks; see train/README.md) from an ST-Evidence-style CSV.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", help="benchmark / instruct CSV (entry_id, video_path, question, answer, candidates, "
                        "temporal_evidence[, split]): every negative kind")  # fmt: skip
    source.add_argument("--jsonl", help="video-QA JSONL (the video_qa source's format; ReasonVQA, EgoTextVQA): "
                        "correctness pairs for plain VLMs (model.kind hf_vlm)")  # fmt: skip
    parser.add_argument("--video-dir", help="folder the CSV's video_path (or the JSONL's video) values are under "
                        "(required with --csv; default with --jsonl: the file's folder)")  # fmt: skip
    parser.add_argument("--mask-dir", default=None, help="gen_mask mask JSON folder (<entry_id>.json): prompts "
                        "ask to segment, targets end in <|seg|>, and 'mask' negatives are made (default: none, "
                        "text-only pairs)")  # fmt: skip
    parser.add_argument("--frames-dir", default=None, help="6-fps frame folders <frames-dir>/<video_id>/, "
                        "recorded as the pair's frames when present (default: none, decode the video)")  # fmt: skip
    parser.add_argument("--negatives", default=None, help=f"comma-separated kinds out of {','.join(NEGATIVES)} "
                        "(default: every kind that applies; 'correctness' alone = POVQA's negatives)")  # fmt: skip
    parser.add_argument("--split", default="train", help="keep rows whose split column equals this; 'all' keeps "
                        "every row (default: train)")  # fmt: skip
    parser.add_argument("--wrong-options", type=int, default=1,
                        help="correctness pairs per entry, each with another wrong option (default: 1)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of the wrong-option and wrong-object draws "
                        "(default: 0)")  # fmt: skip
    parser.add_argument("--out", required=True, help="output JSONL path")
    return parser


def run(args: argparse.Namespace) -> int:
    from evqa.errors import ConfigError
    from evqa.training.pairs import build_pairs, build_video_qa_pairs

    negatives = [n.strip() for n in args.negatives.split(",") if n.strip()] if args.negatives else None
    if args.jsonl:
        if negatives not in (None, ["correctness"]) or args.mask_dir or args.frames_dir:
            raise ConfigError("--jsonl makes correctness pairs only (no --mask-dir / --frames-dir / other "
                              "--negatives)", field="--jsonl")  # fmt: skip
        pairs = build_video_qa_pairs(args.jsonl, video_root=args.video_dir, wrong_options=args.wrong_options,
                                     seed=args.seed)  # fmt: skip
        return _write(args.out, pairs)
    if not args.video_dir:
        raise ConfigError("--csv needs --video-dir", field="--video-dir")
    pairs = build_pairs(args.csv, args.video_dir, mask_dir=args.mask_dir, frames_dir=args.frames_dir,
                        negatives=negatives, split=None if args.split == "all" else args.split,
                        wrong_options=args.wrong_options, seed=args.seed)  # fmt: skip
    return _write(args.out, pairs)


def _write(out, pairs) -> int:
    from collections import Counter

    from evqa.training.pairs import write_pairs

    count = write_pairs(out, pairs)
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(Counter(p["source"] for p in pairs).items()))
    print(f"{count} pairs ({kinds or 'none'}) written to {out}")
    return 0
