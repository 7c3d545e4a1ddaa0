"""`evqa data`: download, extract, check and prepare the real ST-Evidence / UniPixel data.

evqa data download st-evidence [--local-dir D] [--source DIR] [--include PATTERN ...]
evqa data extract data/st-evidence-instruct [--remove]
evqa data check --csv C [--video-dir V] [--mask-dir M] [--frames-dir F]
evqa data reencode SRC DST [--fps 6] [--size HxW] [--frames-dir F]
evqa data boxes-to-masks --mask-dir M --out O --sam2 facebook/sam2.1-hiera-large [--frames-dir F | --video-dir V]
evqa data subset tvqa_val.jsonl --by show_name --n 5000 --seed 42 [--out val_5000_seed42.jsonl]
"""

from __future__ import annotations

import argparse


def _add_download(sub) -> None:
    from evqa.data.prepare import DATASETS

    p = sub.add_parser("download", help="fetch a dataset from the Hugging Face Hub (or copy a local mirror)")
    p.add_argument(
        "dataset", choices=sorted(DATASETS), help="; ".join(f"{k}: {v.repo_id}" for k, v in DATASETS.items())
    )
    p.add_argument(
        "--local-dir", "--local_dir", help="destination (default: the dataset's usual folder under data/)"
    )
    p.add_argument("--source", help="copy from this local folder instead of the Hub")
    p.add_argument("--include", nargs="+", help="only files matching these glob patterns")
    p.add_argument("--revision", help="a branch, tag or commit of the dataset repository")
    p.add_argument("--extract", action="store_true", help="extract the downloaded archives afterwards")


def _add_check(sub) -> None:
    p = sub.add_parser("check", help="check a benchmark / instruct tree (videos, frame folders, masks, CSV)")
    p.add_argument("--csv", required=True, help="st_evidence_gen.csv or an instruct CSV")
    p.add_argument("--video-dir", "--video_dir", help="folder the CSV's video_path is relative to")
    p.add_argument("--mask-dir", "--mask_dir", help="GT masks (PNG / RLE layout) or training mask JSONs")
    p.add_argument(
        "--frames-dir", "--frames_dir", help="the video_frames_6fps folder (one sub-folder per video_id)"
    )
    p.add_argument("--fps", type=float, default=6.0, help="the annotation timeline's fps (default: 6)")


def _add_reencode(sub) -> None:
    p = sub.add_parser("reencode", help="re-encode every video of a folder at a given fps / resolution")
    p.add_argument("src", help="folder of videos (searched recursively)")
    p.add_argument("dst", help="output folder (same relative paths, .mp4)")
    p.add_argument("--fps", type=float, default=6.0, help="output frame rate (default: 6)")
    p.add_argument("--size", help="output size HxW in pixels (default: keep)")
    p.add_argument(
        "--frames-dir",
        "--frames_dir",
        help="also write <frames-dir>/<video>/frame_%%04d.jpg, numbered from 0 (default: no frames)",
    )


def _add_boxes(sub) -> None:
    p = sub.add_parser("boxes-to-masks", help="turn bbox_norm box prompts into RLE masks with SAM2")
    p.add_argument("--mask-dir", "--mask_dir", required=True, help="folder of mask JSONs with prompts")
    p.add_argument("--out", required=True, help="output folder for the mask JSONs with RLE masks")
    p.add_argument("--sam2", required=True, help="transformers Sam2Model name or folder")
    p.add_argument("--frames-dir", "--frames_dir", help="6-fps frame folders (<frames-dir>/<video stem>/)")
    p.add_argument("--video-dir", "--video_dir", help="folder the JSONs' video_path is relative to")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")


def _add_subset(sub) -> None:
    p = sub.add_parser("subset", help="a deterministic stratified sample of a JSONL benchmark (+ stats, ids)")
    p.add_argument("input", help="the JSONL file to sample (e.g. TVQA's tvqa_val.jsonl)")
    p.add_argument("--by", required=True, help="the field to stratify by (e.g. show_name)")
    p.add_argument("--n", type=int, required=True, help="how many rows to choose")
    p.add_argument("--seed", type=int, default=42, help="sampling seed (default: 42)")
    p.add_argument("--id-key", "--id_key", "--id_key", dest="id_key", default="qid",
                   help="the unique question-id field, one per .qids.txt line (default: qid)")  # fmt: skip
    p.add_argument("--out", help="output JSONL (default: <input stem>_<n>_seed<seed>.jsonl beside the input); "
                   "<out stem>.stats.json and <out stem>.qids.txt are written beside it")  # fmt: skip


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="download, check and prepare real data",
        epilog=__doc__.split("\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    _add_download(sub)
    p = sub.add_parser("extract", help="extract every .tar/.tar.gz under a folder (once)")
    p.add_argument("root", help="folder to search for archives")
    p.add_argument("--remove", action="store_true", help="delete each archive after extracting it")
    _add_check(sub)
    _add_reencode(sub)
    _add_boxes(sub)
    _add_subset(sub)
    return parser


def _download(args) -> int:
    from evqa.data.prepare import download, extract_archives

    dest = download(
        args.dataset, args.local_dir, source=args.source, allow_patterns=args.include, revision=args.revision
    )
    print(f"downloaded {args.dataset} to {dest}")
    if args.extract:
        print(f"extracted {len(extract_archives(dest))} archive(s)")
    return 0


def _check(args) -> int:
    from evqa.data.prepare import check_dataset

    report = check_dataset(
        args.csv, video_dir=args.video_dir, mask_dir=args.mask_dir, frames_dir=args.frames_dir, fps=args.fps
    )
    print(f"check {args.csv}\n{report.format()}")
    return 0 if report.ok else 1


def _reencode(args) -> int:
    from evqa.cli.synth import parse_size
    from evqa.data.prepare import reencode_folder

    size = parse_size(args.size) if args.size else None
    count = reencode_folder(args.src, args.dst, fps=args.fps, size=size, frames_dir=args.frames_dir)
    print(f"re-encoded {count} video(s) to {args.dst} at {args.fps:g} fps")
    return 0


def _boxes(args) -> int:
    from evqa.data.boxes import boxes_to_masks, load_sam2

    model = load_sam2(args.sam2, device=args.device)
    counts = boxes_to_masks(
        model, args.mask_dir, args.out, frames_dir=args.frames_dir, video_dir=args.video_dir
    )
    print(
        f"{counts['files']} file(s): {counts['masks_made']} mask(s) made, {counts['unchanged']} unchanged -> {args.out}"
    )
    return 0


def _subset(args) -> int:
    from pathlib import Path

    from evqa.data.subset import read_jsonl_rows, stratified_subset, write_subset

    source = Path(args.input)
    rows = read_jsonl_rows(source)
    subset = stratified_subset(rows, by=args.by, n=args.n, seed=args.seed, id_key=args.id_key, source=source)
    out = Path(args.out) if args.out else source.with_name(f"{source.stem}_{args.n}_seed{args.seed}.jsonl")
    paths = write_subset(subset, out, source=source)
    strata = len(subset.stats["strata"])
    print(f"{len(subset.rows)} of {len(rows)} rows ({strata} {args.by} strata) -> {paths['rows']} "
          f"(+ {paths['stats'].name}, {paths['qids'].name})")  # fmt: skip
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action == "extract":
        from evqa.data.prepare import extract_archives

        print(
            f"extracted {len(extract_archives(args.root, remove=args.remove))} archive(s) under {args.root}"
        )
        return 0
    return {
        "download": _download,
        "check": _check,
        "reencode": _reencode,
        "boxes-to-masks": _boxes,
        "subset": _subset,
    }[args.action](args)
