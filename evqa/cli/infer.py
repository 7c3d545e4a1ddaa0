"""`evqa infer`: run a model or baseline over the ST-Evidence benchmark and write predictions.

    evqa infer --model o3 --task gen --mode single-turn --fps 1          # GPT, JSONL while running, JSON at the end
    evqa infer --model gemini-2.5-pro --task mcq --mcq-task all
    evqa infer --model Qwen/Qwen3-VL-4B-Instruct --task gen --batch-size 8 --num_shards 4 --shard_index 0
    evqa infer --merge --output results/qwen3vl/qwen3_vl_4b_instruct_st_evidence_single_1fps.json
    evqa infer --task masks results/gpt/o3_st_evidence_single_1fps.json --model DIR --mode separate
    evqa infer --model gpt --dry-run --limit 2                           # prompts + frame times, no model call

Flags also accept the spellings of the upstream scripts (--batch_size, --gpu_num, --max_frames, ...).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

log = logging.getLogger("evqa.infer")


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Run a model over the ST-Evidence benchmark.")
    p.add_argument(
        "pred_file",
        nargs="?",
        help="--task masks: the step-1 prediction file with referring expressions (default: none)",
    )
    p.add_argument(
        "--model",
        default=None,
        help="adapter name (gpt, gemini, qwen3_vl, ...), API model id, hub id or checkpoint dir "
        "(default: the --adapter's default model)",
    )
    p.add_argument(
        "--adapter",
        default=None,
        help="adapter to use when --model alone does not tell (default: from --model)",
    )
    p.add_argument(
        "--task",
        default="gen",
        help="gen | mcq | masks; qa | time_evidence | spatial_evidence | all imply mcq (default: gen)",
    )
    p.add_argument(
        "--mcq-task",
        "--mcq_task",
        dest="mcq_task",
        default="all",
        help="MCQ task (qa, time_evidence, spatial_evidence, all; default: all)",
    )
    p.add_argument(
        "--mode",
        default=None,
        help="gen: single-turn | multi-turn (default single-turn); masks: concat | separate (seperate; "
        "default concat)",
    )
    for add in (_add_data_arguments, _add_output_arguments, _add_frame_arguments, _add_execution_arguments):
        add(p)
    from evqa.cli.benchmark_args import add_benchmark_arguments

    add_benchmark_arguments(p)
    return p


def _add_data_arguments(p: argparse.ArgumentParser) -> None:
    data = p.add_argument_group(
        "data (none given: the synthetic benchmark; a path given but missing is an error)"
    )
    data.add_argument(
        "--gt_file",
        "--gt-file",
        "--data",
        dest="gt_file",
        help="generative benchmark CSV (default: synthetic)",
    )
    data.add_argument(
        "--video_dir",
        "--video-dir",
        dest="video_dir",
        help="folder the CSV's video paths are relative to (default: videos/ beside the CSV)",
    )
    data.add_argument("--data_file", "--data-file", dest="data_file", help="MCQ CSV (default: synthetic)")
    data.add_argument(
        "--distractors_file",
        "--distractors-file",
        dest="distractors_file",
        help="MCQ temp_options.json (default: none, time_evidence not asked)",
    )
    data.add_argument(
        "--mask_file",
        "--mask-file",
        dest="mask_file",
        help="MCQ mask_options.json (default: none, spatial_evidence not asked)",
    )


def _add_output_arguments(p: argparse.ArgumentParser) -> None:
    out = p.add_argument_group("output")
    out.add_argument(
        "--output",
        "--output_file",
        "--output-file",
        "--out",
        dest="output",
        help="prediction JSON path (default: results/<model family>/<model>_st_evidence_<...>.json)",
    )
    out.add_argument(
        "--pred_mask_dir",
        "--pred-mask-dir",
        "--output_dir",
        dest="pred_mask_dir",
        help="where masks go (default: <output without .json>/concat)",
    )
    out.add_argument(
        "--merge", action="store_true", help="merge the shard JSONLs of --output into the final JSON (off)"
    )
    out.add_argument(
        "--overwrite",
        action="store_true",
        help="start afresh: remove this output's earlier files instead of resuming (default: resume, "
        "refused when the files come from another model, checkpoint, sampling, prompt or data)",
    )


def _add_frame_arguments(p: argparse.ArgumentParser) -> None:
    sampling = p.add_argument_group("frames")
    sampling.add_argument(
        "--fps", type=float, default=None, help="frames per second sent to the model (default 1)"
    )
    sampling.add_argument(
        "--num-frames",
        "--num_frames",
        dest="num_frames",
        type=int,
        help="fixed frame count instead of --fps (default: none)",
    )
    sampling.add_argument(
        "--max-frames",
        "--max_frames",
        dest="max_frames",
        type=int,
        help="cap on frames per video (default: none; --task masks: 64)",
    )
    sampling.add_argument(
        "--max-size",
        "--max_size",
        dest="max_size",
        type=int,
        help="longest frame side in pixels (default: the adapter's, else the original size)",
    )
    sampling.add_argument(
        "--pooling",
        choices=("wa", "wae", "war", "bblf"),
        default=None,
        help="send one pooled image per second of video instead of sampled frames (POVQA's temporal "
        "pooling: wa weighted average, wae exponential, war ramp, bblf blur + last frame); --num-frames / "
        "--max-frames pick or cap the seconds (default: no pooling)",
    )
    sampling.add_argument(
        "--every_n_frames",
        "--every-n-frames",
        dest="every_n_frames",
        type=int,
        default=1,
        help="--task masks: keep masks of every n-th frame of the 6-fps timeline (default: 1)",
    )


def _add_execution_arguments(p: argparse.ArgumentParser) -> None:
    run = p.add_argument_group("execution")
    run.add_argument(
        "--concurrency", type=int, default=None, help="API requests in flight (default: per model, gpt 16)"
    )
    run.add_argument(
        "--batch-size",
        "--batch_size",
        dest="batch_size",
        type=int,
        default=1,
        help="local models: entries per forward pass (default: 1)",
    )
    run.add_argument(
        "--gpu-num",
        "--gpu_num",
        dest="gpu_num",
        type=int,
        default=1,
        help="GPUs one model is spread over (default: 1)",
    )
    run.add_argument("--device", default=None, help="cuda | cpu | cuda:N (default: cuda if available)")
    run.add_argument(
        "--dtype",
        default=None,
        help="bfloat16 | float16 | float32 (default: bfloat16 on GPU, float32 on CPU)",
    )
    run.add_argument(
        "--adapter-path",
        "--adapter_path",
        dest="adapter_path",
        default=None,
        help="transformers adapters: a LoRA adapter folder (evqa train, model.kind hf_vlm) merged into "
        "--model (default: none)",
    )
    run.add_argument(
        "--num_shards",
        "--num-shards",
        dest="num_shards",
        type=int,
        default=None,
        help="split the entries over K processes (default: torchrun's WORLD_SIZE, else 1)",
    )
    run.add_argument(
        "--shard_index",
        "--shard-index",
        dest="shard_index",
        type=int,
        default=None,
        help="which shard this process runs, 0..K-1 (default: torchrun's RANK, else 0)",
    )
    run.add_argument("--limit", type=int, default=None, help="only the first N entries (default: all)")
    run.add_argument(
        "--dry-run",
        "--dry_run",
        dest="dry_run",
        action="store_true",
        help="print prompts and frame times, call no model (off)",
    )
    run.add_argument(
        "--base-url",
        "--base_url",
        dest="base_url",
        default=None,
        help="API endpoint (default: OPENAI_BASE_URL / GEMINI_BASE_URL, else the provider's)",
    )
    run.add_argument(
        "--max-retries",
        "--max_retries",
        dest="max_retries",
        type=int,
        default=5,
        help="retries of a transient API failure (429, 5xx, timeout) per request (default: 5)",
    )
    run.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="per-item deadline in seconds, all retries (default: 600)",
    )
    run.add_argument(
        "--request-timeout",
        "--request_timeout",
        dest="request_timeout",
        type=float,
        default=120.0,
        help="limit of one API attempt in seconds (default: 120)",
    )
    run.add_argument(
        "--max-new-tokens",
        "--max_new_tokens",
        dest="max_new_tokens",
        type=int,
        default=None,
        help="generation budget in tokens (default: the model's)",
    )
    run.add_argument(
        "--no-progress",
        "--no_progress",
        dest="progress",
        action="store_false",
        help="no progress bar (shown)",
    )
    run.add_argument(
        "--save_masks",
        "--save-masks",
        action="store_true",
        help="accepted for upstream compatibility; masks are always saved (off)",
    )
    run.add_argument(
        "--skip_viz", "--skip-viz", action="store_true", help="accepted for upstream compatibility (off)"
    )


def run(args: argparse.Namespace) -> int:
    from evqa.baselines.cli_run import InferOptions, run_infer
    from evqa.cli.benchmark_args import infer_hook

    handled, summary = infer_hook(args)
    if not handled:
        summary = run_infer(InferOptions.from_namespace(args))
    if summary is None:  # dry run or merge: already reported
        return 0
    print(json.dumps({k: v for k, v in vars(summary).items() if k != "errors"}, indent=2))
    for entry_id, error in list(summary.errors.items())[:5]:
        print(f"failed: {entry_id}: {error}", file=sys.stderr)
    if summary.failed:
        print(failure_advice(summary.failed, summary.transient), file=sys.stderr)
        return 1
    return 0


def failure_advice(failed: int, transient: int) -> str:
    """What to do about failed entries: re-running helps only the transient ones."""
    permanent = failed - transient
    if permanent == 0:
        return f"{failed} entries failed on transient errors; run the same command again to retry them"
    text = (
        f"{failed} entries failed; {permanent} of them on errors a re-run repeats (see the lines above): "
        "fix their cause first"
    )
    if transient:
        text += f", then run the same command again (it also retries the {transient} transient failures)"
    return text


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.INFO)
    sys.exit(run(build_parser("evqa infer").parse_args()))
