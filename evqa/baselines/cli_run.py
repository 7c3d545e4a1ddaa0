"""What `evqa infer` does with its arguments: pick the adapter and data, build the task, then dry-run,
merge or run. Kept out of `evqa.cli.infer` so the parser module stays import-light."""

from __future__ import annotations

import argparse
import inspect
import json
import logging
from pathlib import Path

from evqa.baselines.benchmarks import default_output, fps_tag, resolve_gen_data, resolve_mcq_data
from evqa.baselines.calling import ModelCaller
from evqa.baselines.frames import Sampling
from evqa.baselines.mcq_task import MCQ_TASKS, McqTask, expand_mcq_task
from evqa.baselines.registry import build_model, get_model_class, resolve_adapter
from evqa.baselines.retry import RetryPolicy
from evqa.baselines.runner import RunSummary, resolve_shard, run_items
from evqa.baselines.store import merge_outputs
from evqa.baselines.tasks import GenTask
from evqa.errors import ConfigError

log = logging.getLogger("evqa.infer")


def normalize_task(args: argparse.Namespace) -> tuple[str, str]:
    """(task, mcq_task) from --task / --mcq-task; an MCQ task name given as --task implies mcq."""
    if args.task in (*MCQ_TASKS, "all"):
        return "mcq", args.task
    if args.task not in ("gen", "mcq", "masks"):
        raise ConfigError(f"unknown task '{args.task}'", field="--task")
    return args.task, args.mcq_task


def sampling_from(args: argparse.Namespace, adapter_cls: type | None = None) -> Sampling:
    """Frame sampling from the flags: --num-frames wins over --fps (default 1 fps); --max-size defaults to
    the adapter's `default_max_size`; --pooling sends one pooled image per second (fps 1)."""
    fps = None if args.num_frames else (args.fps if args.fps is not None else 1.0)
    max_size = args.max_size or getattr(adapter_cls, "default_max_size", None)
    pooling = getattr(args, "pooling", None)
    return Sampling(
        fps=1.0 if pooling else fps,
        num_frames=args.num_frames,
        max_frames=args.max_frames,
        max_size=max_size,
        pooling=pooling,
    )


def build_task(args: argparse.Namespace, adapter_cls: type, task: str, mcq_task: str, out: Path):
    """The GenTask / McqTask of this run (entries limited by --limit)."""
    from evqa.data.st_evidence import load_gen_benchmark, load_mcq_benchmark

    common = dict(
        sampling=sampling_from(args, adapter_cls),
        prompt_style=getattr(adapter_cls, "prompt_style", "baseline"),
        needs_frames=adapter_cls.needs_frames,
        max_new_tokens=args.max_new_tokens,
    )
    if task == "gen":
        data = resolve_gen_data(args.gt_file, args.video_dir)
        entries = load_gen_benchmark(data.gt_file)[: args.limit]
        # the scorer looks for predicted masks in <prediction file without .json>/concat by default
        mask_dir = args.pred_mask_dir or out.with_suffix("") / "concat"
        return GenTask(
            entries, mode=args.mode or "single-turn", video_dir=data.video_dir, mask_dir=mask_dir, **common
        )
    data = resolve_mcq_data(args.data_file, args.distractors_file, args.mask_file, args.video_dir)
    entries = load_mcq_benchmark(data.data_file, data.distractors_file, data.mask_file)[: args.limit]
    return McqTask(
        entries, tasks=expand_mcq_task(mcq_task), mask_file=data.mask_file, video_dir=data.video_dir, **common
    )


def benchmark_order(args: argparse.Namespace, task: str) -> list[str]:
    """Entry ids in benchmark order (the order of the merged JSON)."""
    from evqa.data.st_evidence import load_gen_benchmark, load_mcq_benchmark

    if task == "gen":
        return [
            e.entry_id for e in load_gen_benchmark(resolve_gen_data(args.gt_file, args.video_dir).gt_file)
        ]
    data = resolve_mcq_data(args.data_file, args.distractors_file, args.mask_file, args.video_dir)
    return [e.entry_id for e in load_mcq_benchmark(data.data_file)]


def merge(out, order: list[str]) -> None:
    """--merge: combine every JSONL of `out` into `out` (benchmark order) and report the counts."""
    merged = merge_outputs(out, order=order)
    failed = sum(1 for r in merged.values() if r.get("error"))
    missing = len(set(order) - set(merged))
    print(f"merged {len(merged)} entries into {out} ({failed} failed, {missing} of the benchmark missing)")


def print_plan(task, limit_shard: list) -> None:
    """--dry-run: prompts and frame times per entry, as JSON lines on stdout."""
    for _, entry in limit_shard:
        print(json.dumps(task.plan(entry), ensure_ascii=False))


def run_infer(args: argparse.Namespace) -> RunSummary | None:
    """Carry out `evqa infer`; returns the run summary (None for --dry-run and --merge)."""
    task_name, mcq_task = normalize_task(args)
    if task_name == "masks":
        from evqa.baselines.masks_step import run_masks_step

        return run_masks_step(args)
    if args.merge and args.output and args.model is None:
        merge(args.output, benchmark_order(args, task_name))
        return None
    adapter, model_id = resolve_adapter(args.model or args.adapter, args.adapter)
    adapter_cls = get_model_class(adapter)
    if args.adapter_path and "adapter_path" not in inspect.signature(adapter_cls.__init__).parameters:
        raise ConfigError(f"the {adapter} adapter takes no LoRA adapter", field="--adapter-path")
    out = output_path(args, adapter, model_id, adapter_cls, task_name, mcq_task)
    if args.merge:
        merge(out, benchmark_order(args, task_name))
        return None
    task = build_task(args, adapter_cls, task_name, mcq_task, out)
    shard_index, num_shards = resolve_shard(args.num_shards, args.shard_index)
    if args.dry_run:
        print_plan(task, task.items()[shard_index::num_shards])
        return None
    model = build_model(adapter, model_id, **model_options(args))
    policy = RetryPolicy(
        max_retries=args.max_retries, timeout=args.timeout, attempt_timeout=args.request_timeout
    )
    task.bind(ModelCaller(model, policy))
    log.info("running %s (%s) on %d entries -> %s", adapter, model_id, len(task.entries), out)
    return run_items(
        task.items(),
        task.process,
        out,
        concurrency=args.concurrency or model.default_concurrency,
        shard_index=shard_index,
        num_shards=num_shards,
        progress=args.progress,
        batch_size=args.batch_size if model.supports_batching else 1,
        process_batch=task.process_batch,
    )


def output_path(
    args: argparse.Namespace, adapter: str, model_id: str, adapter_cls: type, task: str, mcq_task: str
):
    """--output, else the upstream-style default under results/."""
    if args.output:
        return Path(args.output)
    sampling = sampling_from(args, adapter_cls)
    tag = fps_tag(sampling.fps, sampling.num_frames)
    mode = args.mode or "single-turn"
    return default_output(adapter, model_id, task=task, mode=mode, tag=tag, mcq_task=mcq_task)


def model_options(args: argparse.Namespace) -> dict:
    """Constructor options every adapter accepts (unused ones are ignored by the adapter)."""
    options = {
        "base_url": args.base_url,
        "device": args.device,
        "dtype": args.dtype,
        "gpu_num": args.gpu_num,
        "max_frames": args.max_frames,
        "adapter_path": args.adapter_path,
    }
    return {k: v for k, v in options.items() if v is not None}
