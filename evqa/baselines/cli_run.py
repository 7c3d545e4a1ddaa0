"""What `evqa infer` does: pick the adapter and data, build the task, then dry-run, merge or run.

The library entry point is `run_infer(InferOptions(...))`; the CLI (`evqa.cli.infer`) only turns its flags
into an `InferOptions`. Kept out of `evqa.cli.infer` so the parser module stays import-light.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
from dataclasses import dataclass
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
from evqa.run_files import RunHeader, checkpoint_fingerprint, data_file_hashes, prompt_version

log = logging.getLogger("evqa.infer")


@dataclass
class InferOptions:
    """Everything `evqa infer` can be told (the flags of `evqa infer --help`, same names and defaults).

    Data paths left None mean the synthetic benchmark; a given path that does not exist is an error.
    """

    model: str | None = None
    adapter: str | None = None
    task: str = "gen"
    mcq_task: str = "all"
    mode: str | None = None
    pred_file: str | None = None  # --task masks: the step-1 prediction file
    # data
    gt_file: str | None = None
    video_dir: str | None = None
    data_file: str | None = None
    distractors_file: str | None = None
    mask_file: str | None = None
    # output
    output: str | None = None
    pred_mask_dir: str | None = None
    merge: bool = False
    overwrite: bool = False
    # frames
    fps: float | None = None
    num_frames: int | None = None
    max_frames: int | None = None
    max_size: int | None = None
    pooling: str | None = None
    every_n_frames: int = 1
    # execution
    concurrency: int | None = None
    batch_size: int = 1
    gpu_num: int = 1
    device: str | None = None
    dtype: str | None = None
    adapter_path: str | None = None
    num_shards: int | None = None
    shard_index: int | None = None
    limit: int | None = None
    dry_run: bool = False
    base_url: str | None = None
    max_retries: int = 5
    timeout: float = 600.0
    request_timeout: float = 120.0
    max_new_tokens: int | None = None
    progress: bool = True
    save_masks: bool = False
    skip_viz: bool = False

    @classmethod
    def from_namespace(cls, args) -> InferOptions:
        """The options of parsed `evqa infer` flags: `args` is the CLI's argparse namespace (or any object with
        the flags as attributes); attributes the class does not know are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in vars(args).items() if k in names})

    def validate(self) -> None:
        """ConfigError naming the flag for a value no run can use (a zero or negative count or rate)."""
        positive = {
            "--fps": self.fps,
            "--num-frames": self.num_frames,
            "--max-frames": self.max_frames,
            "--max-size": self.max_size,
            "--every_n_frames": self.every_n_frames,
            "--concurrency": self.concurrency,
            "--batch-size": self.batch_size,
            "--gpu-num": self.gpu_num,
            "--timeout": self.timeout,
            "--request-timeout": self.request_timeout,
            "--max-new-tokens": self.max_new_tokens,
        }
        for flag, value in positive.items():
            if value is not None and not value > 0:
                raise ConfigError(f"must be greater than 0, got {value:g}", field=flag)
        for flag, value in {"--limit": self.limit, "--max-retries": self.max_retries}.items():
            if value is not None and value < 0:
                raise ConfigError(f"must not be negative, got {value}", field=flag)


def ensure_writable(out: Path) -> None:
    """ConfigError naming --output when its folder cannot be made or written (before any model call)."""
    import os

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create the output folder ({err.strerror})", field="--output") from None
    if not os.access(out.parent, os.W_OK):
        raise ConfigError(f"the output folder {out.parent} is not writable", field="--output")


def check_device(options: InferOptions, adapter_cls: type) -> None:
    """A local model asked for CUDA (`--device cuda...` or `--gpu-num` > 1) on a machine without it is
    a ConfigError (one line), not a traceback from deep inside torch."""
    if getattr(adapter_cls, "facts", None) is not None and adapter_cls.facts.api:
        return
    wants_cuda = (options.device or "").startswith("cuda") or options.gpu_num > 1
    if not wants_cuda:
        return
    import torch

    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    flag = "--device" if (options.device or "").startswith("cuda") else "--gpu-num"
    if available == 0:
        raise ConfigError("CUDA is not available on this machine; use --device cpu", field=flag)
    if options.gpu_num > available:
        raise ConfigError(
            f"{options.gpu_num} GPUs asked for, this machine has {available}", field="--gpu-num"
        )


def normalize_task(args: InferOptions) -> tuple[str, str]:
    """(task, mcq_task) from --task / --mcq-task; an MCQ task name given as --task implies mcq."""
    if args.task in (*MCQ_TASKS, "all"):
        return "mcq", args.task
    if args.task not in ("gen", "mcq", "masks"):
        raise ConfigError(f"unknown task '{args.task}'", field="--task")
    return args.task, args.mcq_task


def sampling_from(args: InferOptions, adapter_cls: type | None = None) -> Sampling:
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


def build_task(args: InferOptions, adapter_cls: type, task: str, mcq_task: str, out: Path):
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
        task = GenTask(
            entries, mode=args.mode or "single-turn", video_dir=data.video_dir, mask_dir=mask_dir, **common
        )
        task.data_files = {"gt_file": data.gt_file}
        return task
    data = resolve_mcq_data(args.data_file, args.distractors_file, args.mask_file, args.video_dir)
    entries = load_mcq_benchmark(data.data_file, data.distractors_file, data.mask_file)[: args.limit]
    task = McqTask(
        entries, tasks=expand_mcq_task(mcq_task), mask_file=data.mask_file, video_dir=data.video_dir, **common
    )
    task.data_files = {
        "data_file": data.data_file,
        "distractors_file": data.distractors_file,
        "mask_file": data.mask_file,
    }
    return task


def benchmark_order(args: InferOptions, task: str) -> list[str]:
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
    from evqa.baselines.store import sibling_jsonl_paths

    if not sibling_jsonl_paths(out):
        raise ConfigError(
            f"no prediction JSONL of {out} to merge (X.jsonl or X.shard-*-of-*.jsonl)", field="--merge"
        )
    merged = merge_outputs(out, order=order)
    failed = sum(1 for r in merged.values() if r.get("error"))
    missing = len(set(order) - set(merged))
    print(f"merged {len(merged)} entries into {out} ({failed} failed, {missing} of the benchmark missing)")


def print_plan(task, limit_shard: list) -> None:
    """--dry-run: prompts and frame times per entry, as JSON lines on stdout, one write per line (shards of
    the multi-GPU script share one pipe: block-buffered output would interleave their lines mid-line)."""
    for _, entry in limit_shard:
        print(json.dumps(task.plan(entry), ensure_ascii=False), flush=True)


def make_header(
    args: InferOptions,
    adapter: str,
    model_id: str,
    adapter_cls: type,
    sampling: Sampling,
    task: dict,
    data_files,
) -> RunHeader:
    """A run header (what must match for a resume) from the run's flags: the checkpoint fingerprint of a
    local model (+ its LoRA adapter), `task` as described by the caller, the sampling, the prompt version
    of the adapter's prompt style and the sha256 of `data_files` (paths; None and folders are skipped)."""
    facts = adapter_cls.facts
    checkpoint = None if facts.api else checkpoint_fingerprint(model_id)
    if args.adapter_path:
        checkpoint = {**(checkpoint or {}), "adapter": checkpoint_fingerprint(args.adapter_path)}
    return RunHeader(
        adapter=adapter,
        model=str(model_id),
        checkpoint=checkpoint,
        task={**task, "max_new_tokens": args.max_new_tokens},
        sampling=dataclasses.asdict(sampling),
        prompt_version=prompt_version(getattr(adapter_cls, "prompt_style", "baseline")),
        endpoint=args.base_url or None,
        data_sha256=data_file_hashes(data_files),
    )


def run_header(
    args: InferOptions, adapter: str, model_id: str, adapter_cls: type, task, task_name: str, mcq_task: str
) -> RunHeader:
    """The header of an ST-Evidence run's prediction JSONL."""
    if task_name == "gen":
        described = {"name": task_name, "mode": args.mode or "single-turn"}
        files = [task.data_files.get("gt_file")]
    else:
        described = {"name": task_name, "mcq_tasks": expand_mcq_task(mcq_task)}
        files = [task.data_files.get(k) for k in ("data_file", "distractors_file", "mask_file")]
    return make_header(args, adapter, model_id, adapter_cls, task.sampling, described, files)


def run_infer(options: InferOptions) -> RunSummary | None:
    """Carry out `evqa infer`; returns the run summary (None for --dry-run and --merge)."""
    options.validate()
    task_name, mcq_task = normalize_task(options)
    if task_name == "masks":
        from evqa.baselines.masks_step import run_masks_step

        return run_masks_step(options)
    if options.merge and options.output and options.model is None:
        merge(options.output, benchmark_order(options, task_name))
        return None
    adapter, model_id = resolve_adapter(options.model or options.adapter, options.adapter)
    adapter_cls = get_model_class(adapter)
    if options.adapter_path and "adapter_path" not in inspect.signature(adapter_cls.__init__).parameters:
        raise ConfigError(f"the {adapter} adapter takes no LoRA adapter", field="--adapter-path")
    out = output_path(options, adapter, model_id, adapter_cls, task_name, mcq_task)
    if options.merge:
        merge(out, benchmark_order(options, task_name))
        return None
    task = build_task(options, adapter_cls, task_name, mcq_task, out)
    shard_index, num_shards = resolve_shard(options.num_shards, options.shard_index)
    if options.dry_run:
        print_plan(task, task.items()[shard_index::num_shards])
        return None
    check_device(options, adapter_cls)  # after --dry-run, which builds no model
    ensure_writable(out)
    header = run_header(options, adapter, model_id, adapter_cls, task, task_name, mcq_task)
    model = build_model(adapter, model_id, **model_options(options))
    if header.endpoint is None:
        header.endpoint = model.endpoint()
    task.bind(ModelCaller(model, retry_policy(options)))
    log.info("running %s (%s) on %d entries -> %s", adapter, model_id, len(task.entries), out)
    return run_bound_task(task, model, out, options, header, shard_index, num_shards)


def retry_policy(args: InferOptions) -> RetryPolicy:
    """The retry settings of an infer command line."""
    return RetryPolicy(
        max_retries=args.max_retries, timeout=args.timeout, attempt_timeout=args.request_timeout
    )


def run_bound_task(
    task, model, out: Path, args: InferOptions, header: RunHeader, shard_index: int, num_shards: int
) -> RunSummary:
    """Run a task already bound to its model caller through the runner, with the command line's concurrency,
    batching, progress and overwrite settings (every benchmark's infer ends here)."""
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
        header=header,
        overwrite=args.overwrite,
    )


def output_path(args: InferOptions, adapter: str, model_id: str, adapter_cls: type, task: str, mcq_task: str):
    """--output, else the upstream-style default under results/."""
    if args.output:
        return Path(args.output)
    sampling = sampling_from(args, adapter_cls)
    tag = fps_tag(sampling.fps, sampling.num_frames)
    mode = args.mode or "single-turn"
    return default_output(adapter, model_id, task=task, mode=mode, tag=tag, mcq_task=mcq_task)


def model_options(args: InferOptions) -> dict:
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
