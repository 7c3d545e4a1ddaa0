"""`evqa eval` (and benchmark/st_evidence_gen/eval_st_evidence.py): score generative predictions.

Flags are the upstream evaluator's, plus `--protocol evqa|upstream`. Without --gt_file the synthetic
benchmark (`evqa.data.synth.ensure_synth()`) is the ground truth.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from evqa.cli.common import add_prediction_arguments, prediction_path
from evqa.io import write_json_atomic


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Score ST-Evidence generative predictions: QA accuracy, "
                                "temporal IoU/IoP and, with --eval_masks, J / F / J&F.")  # fmt: skip
    add_prediction_arguments(p)
    p.add_argument("--gt_file", "--gt-file", dest="gt_file",
                   help="GT CSV (st_evidence_gen.csv); default: the synthetic benchmark")  # fmt: skip
    p.add_argument("--eval_masks", "--eval-masks", dest="eval_masks", action="store_true",
                   help="also score masks (J, F, J&F); default: off")  # fmt: skip
    p.add_argument("--gt_mask_dir", "--gt-mask-dir", dest="gt_mask_dir",
                   help="GT masks: <dir>/<entry_id>/<frame:05d>.png or <dir>/<entry_id>.json; "
                   "default: the synthetic benchmark's (only without --gt_file)")  # fmt: skip
    p.add_argument("--pred_mask_dir", "--pred-mask-dir", dest="pred_mask_dir",
                   help="predicted masks; default: <pred_file without .json>/<mask_mode>; a record's "
                   "mask_folder wins; a folder that does not exist is an error")  # fmt: skip
    p.add_argument("--mask_mode", "--mask-mode", dest="mask_mode", default="concat",
                   choices=["concat", "seperate", "separate"],
                   help="which upstream mask folder to default to when --pred_mask_dir is not given "
                   "(default: concat)")  # fmt: skip
    p.add_argument("--num_workers", "--num-workers", dest="num_workers", type=int, default=None,
                   help="processes for mask scoring (default: all cores)")  # fmt: skip
    p.add_argument("--protocol", default="evqa", choices=["evqa", "upstream"],
                   help="evqa: bounded, documented metrics (default); upstream: the published evaluator's numbers")  # fmt: skip
    p.add_argument("--output_file", "--output-file", dest="output_file",
                   help="results JSON (default: <pred_file stem>_eval.json next to it)")  # fmt: skip
    p.add_argument("--no_progress", "--no-progress", dest="no_progress", action="store_true",
                   help="hide progress bars (default: shown)")  # fmt: skip
    p.add_argument("--iop_threshold", type=float, default=0.5,
                   help="evidence-backed accuracy: temporal IoP a correct answer needs (default: %(default)s)")  # fmt: skip
    p.add_argument("--j_threshold", type=float, default=0.5,
                   help="evidence-backed accuracy with masks: mask J it also needs (default: %(default)s)")  # fmt: skip
    from evqa.cli.benchmark_args import add_benchmark_arguments, add_judge_arguments

    add_benchmark_arguments(p, options=False)
    add_judge_arguments(p)
    return p


def _defaults(args) -> tuple[str, str | None]:
    """GT CSV and GT mask folder: the given ones, else the synthetic benchmark's."""
    if args.gt_file is not None:
        return args.gt_file, args.gt_mask_dir
    from evqa.data.synth import ensure_synth

    paths = ensure_synth()
    return str(paths.gen_csv), args.gt_mask_dir or str(paths.gt_mask_rle_dir)


def run(args: argparse.Namespace) -> int:
    from evqa.benchmarks.run import write_st_evidence_summary
    from evqa.cli.benchmark_args import eval_hook
    from evqa.eval.report import format_table
    from evqa.eval.st_evidence import evaluate_gen

    pred_file = prediction_path(args)
    code = eval_hook(args, pred_file)
    if code is not None:
        return code
    gt_file, gt_mask_dir = _defaults(args)
    workers = args.num_workers if args.num_workers is not None else (os.cpu_count() or 1)
    results = evaluate_gen(gt_file, pred_file, protocol=args.protocol, eval_masks=args.eval_masks,
                           gt_mask_dir=gt_mask_dir, pred_mask_dir=args.pred_mask_dir, num_workers=workers,
                           progress=not args.no_progress, mask_mode=args.mask_mode)  # fmt: skip
    from evqa.eval.results_extras import add_gen_extras

    add_gen_extras(
        results, gt_file, pred_file, iop_threshold=args.iop_threshold, j_threshold=args.j_threshold
    )
    print(format_table(results))
    eb = results["evidence_backed"]
    masks = (
        f", with J >= {eb['j_threshold']:g}: {eb['accuracy_masks']:.1f}%" if "accuracy_masks" in eb else ""
    )
    print(f"evidence-backed accuracy (IoP >= {eb['iop_threshold']:g}): {eb['accuracy']:.1f}%{masks}")
    for line in results.get("warnings", []):
        print(f"warning: {line}", file=sys.stderr)
    output = args.output_file or str(Path(pred_file).with_name(f"{Path(pred_file).stem}_eval.json"))
    write_json_atomic(output, results)
    print(f"results written to {output}")
    summary = write_st_evidence_summary(
        "st_evidence_gen", pred_file, {"gt_file": gt_file}, results, args.protocol
    )
    print(f"summary written to {summary}")
    return 0
