"""`evqa eval-mcq` (and benchmark/st_evidence_mcq/eval_st_evidence_mcq.py): score MCQ predictions.

The prediction file is accepted positionally (as the upstream script) and as --pred_file (as the upstream
README). Ground truth comes from the MCQ data files; default: the synthetic benchmark's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from evqa.cli.common import add_prediction_arguments, prediction_path
from evqa.io import write_json_atomic


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Score ST-Evidence MCQ predictions (qa, time_evidence, "
                                "spatial_evidence) against the MCQ data files.")  # fmt: skip
    add_prediction_arguments(p)
    p.add_argument("--data_file", "--data-file", dest="data_file",
                   help="st_evidence_mcq.csv (default: the synthetic benchmark's)")  # fmt: skip
    p.add_argument("--distractors_file", "--distractors-file", dest="distractors_file",
                   help="temp_options.json (time-evidence options and answers); default: the synthetic "
                   "benchmark's without --data_file, else none (time_evidence not scored)")  # fmt: skip
    p.add_argument("--mask_file", "--mask-file", dest="mask_file",
                   help="mask_options.json (spatial-evidence options and answers); default: the synthetic "
                   "benchmark's without --data_file, else none (spatial_evidence not scored)")  # fmt: skip
    p.add_argument("--save-metrics", "--save_metrics", "-s", dest="save_metrics",
                   help="metrics JSON (default: <pred stem>_metrics.json next to it)")  # fmt: skip
    p.add_argument("--protocol", default="evqa", choices=["evqa", "upstream"],
                   help="evqa: GT from the data files (default); upstream: the published evaluator (GT from "
                   "the file's gt_* fields, exact comparison, totals over the entries in the file)")  # fmt: skip
    p.add_argument("--verbose", "-v", action="store_true",
                   help="list incorrect and unparsable entries (default: off)")  # fmt: skip
    p.add_argument("--no-progress", "--no_progress", dest="no_progress", action="store_true",
                   help="accepted for symmetry with evqa eval (default: off); MCQ scoring shows no progress bar")  # fmt: skip
    return p


def _data_files(args) -> tuple[str, str | None, str | None]:
    if args.data_file is not None:
        return args.data_file, args.distractors_file, args.mask_file
    from evqa.data.synth import ensure_synth

    paths = ensure_synth()
    return (str(paths.mcq_csv), args.distractors_file or str(paths.temp_options),
            args.mask_file or str(paths.mask_options))  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from evqa.eval.mcq import evaluate_mcq, evaluate_mcq_upstream, format_mcq_table

    pred_file = prediction_path(args)
    if args.protocol == "upstream":
        results = evaluate_mcq_upstream(pred_file)
    else:
        data_file, distractors, masks = _data_files(args)
        results = evaluate_mcq(pred_file, data_file=data_file, distractors_file=distractors, mask_file=masks)
        from evqa.eval.results_extras import add_mcq_extras

        add_mcq_extras(results, data_file, distractors, masks, pred_file)
    print(format_mcq_table(results))
    if args.verbose and args.protocol != "upstream":
        for key in ("qa", "temporal", "spatial"):
            print(
                f"{key}: incorrect {results[key]['incorrect'][:20]}, unparsable {results[key]['unparsable'][:20]}"
            )
    output = args.save_metrics or str(Path(pred_file).with_name(f"{Path(pred_file).stem}_metrics.json"))
    write_json_atomic(output, results)
    print(f"metrics written to {output}")
    if args.protocol != "upstream":
        from evqa.benchmarks.run import write_st_evidence_summary

        files = {"data_file": data_file, "distractors_file": distractors, "mask_file": masks}
        print(
            f"summary written to {write_st_evidence_summary('st_evidence_mcq', pred_file, files, results, 'evqa')}"
        )
    return 0
