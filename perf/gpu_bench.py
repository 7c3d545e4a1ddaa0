"""Real-size speed and memory of the EVQA model: one training step of the Trainer path, and `predict()`.

    python perf/gpu_bench.py --preset 3b --sam2 base --out results.json     # on a CUDA GPU
    python perf/gpu_bench.py --smoke --out smoke.json                       # tiny preset on CPU, < 1 min

Weights are random (`build_model` without `pretrained`): speed does not depend on them. Stages:
- peak: the device's measured matmul rate (bf16 8192^3 on CUDA, the model dtype on CPU) — the MFU divisor;
- training: LoRA (r=128) + trainable SAM2 parts, `EvqaTrainer.training_step` + gradient clipping +
  `optimizer.step` (the per-group learning rates of `optimizer_groups`) on `EvqaProcessor.collate` batches of
  synthetic samples (8 frames, a `<|seg|>` target with mask targets), per attention kernel and batch size:
  step time, samples/s, tokens/s, padding, peak memory, model FLOPs and MFU;
- inference: `EvqaPredictor.predict()` on a synthetic 6-fps video (1-fps LLM sampling, masks for every
  frame), split into vision encoding, generation and SAM2 propagation by timers around the model's own
  modules; `predict_batch()` throughput over several questions;
- compare (`--compare`, on by default): the same measurements with one factor changed — activation
  checkpointing off, no mask targets (the SAM2 share of a step), frames in memory (decode cost).

Model FLOPs per training step (forward + backward = 3x forward for everything that gets gradients; the
frozen SAM2 image encoder runs forward only; checkpointing's recomputation is not counted, so this is MFU):
    LLM     6 * N_llm * tokens + 6 * layers * (heads * head_dim) * sum(len^2) / 2       (causal attention)
    vision  6 * (N_blocks * patches + N_merger * patches / 4) + window / full-frame attention
    SAM2    T * 2 * sum_b N_b * (S/4/2^stage_b)^2 + T * 6 * N_trained * (S/16)^2 + memory attention
(`llm_flops`, `vision_flops`, `sam2_flops`; checked against torch's FLOP counter in the tests).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import platform
import resource
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from evqa.io import write_json_atomic
from evqa.model import EvqaPredictor, apply_lora, build_model
from evqa.prompts import evqa_question_prompt, format_target

SMOKE = dict(preset="tiny", sam2=None, device="cpu", batch_sizes=[1, 2], steps=1, frame_size=[48, 64],
             video_seconds=2.0, questions=2, max_new_tokens=8, threads=1)  # fmt: skip
CANDIDATES = ["A red car", "A blue ball", "A green cup", "A white dog"]


# ------------------------------------------------------------------------------------------ timing
def synchronize(device: torch.device) -> None:
    """Wait for queued device work (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StageClock:
    """Seconds spent per named stage: module forward hooks and wrapped instance methods, synchronised."""

    def __init__(self, device: torch.device):
        self.device, self.totals, self._handles, self._open = device, defaultdict(float), [], {}

    def now(self) -> float:
        synchronize(self.device)
        return time.perf_counter()

    def hook(self, module: torch.nn.Module, name: str) -> None:
        """Add the time of every `module(...)` call to stage `name`."""

        def start(*_):
            self._open[name] = self.now()

        def stop(*_):
            self.totals[name] += self.now() - self._open.pop(name)

        self._handles += [module.register_forward_pre_hook(start), module.register_forward_hook(stop)]

    def wrap(self, obj, attr: str, name: str) -> None:
        """Add the time of every `obj.attr(...)` call to stage `name` (an instance attribute, undone by close)."""
        original = getattr(obj, attr)

        def timed(*args, **kwargs):
            begin = self.now()
            try:
                return original(*args, **kwargs)
            finally:
                self.totals[name] += self.now() - begin

        setattr(obj, attr, timed)
        self._handles.append(_Unwrap(obj, attr))

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


class _Unwrap:
    def __init__(self, obj, attr):
        self.obj, self.attr = obj, attr

    def remove(self):
        delattr(self.obj, self.attr)


def peak_memory_mib(device: torch.device) -> float:
    """CUDA: max_memory_allocated since the last reset; CPU: the process's peak resident set (MiB)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def matmul_peak(device: torch.device, dtype: torch.dtype, size: int, repeats: int = 10) -> dict:
    """Measured dense matmul rate (TFLOP/s): [size x size] @ [size x size] on random data, `repeats` products
    back to back per round (no synchronisation between them), the best of 3 rounds after 3 warm-ups."""
    gen = torch.Generator(device=device).manual_seed(0)
    a, b = (torch.randn(size, size, device=device, dtype=dtype, generator=gen) for _ in range(2))
    for _ in range(3):
        a @ b
    clock, rounds = StageClock(device), []
    for _ in range(3):
        begin = clock.now()
        for _ in range(repeats):
            a @ b
        rounds.append((clock.now() - begin) / repeats)
    return {
        "dtype": str(dtype).removeprefix("torch."),
        "size": size,
        "tflops": 2 * size**3 / min(rounds) / 1e12,
    }


# ------------------------------------------------------------------------------------------ synthetic data
def synthetic_frames(num: int, size: tuple[int, int], seed: int) -> np.ndarray:
    """uint8 [num, H, W, 3]: a colour gradient whose values drift over time plus a moving red square
    (so codecs and trackers do real work)."""
    rng = np.random.default_rng(seed)
    height, width = size
    ys, xs = np.mgrid[0:height, 0:width]
    channels = [(int(rng.integers(0, 255)) + xs * (c + 1) // 3 + ys // 2) % 256 for c in range(3)]
    gradient = np.stack(channels, axis=-1).astype(np.uint8)
    frames = np.empty((num, height, width, 3), dtype=np.uint8)
    side = max(4, height // 4)
    for t in range(num):
        np.add(gradient, np.uint8(4 * t % 256), out=frames[t])  # uint8 arithmetic wraps modulo 256
        top, left = (t * 3) % (height - side), (t * 7) % (width - side)
        frames[t, top : top + side, left : left + side] = (250, 30, 30)
    return frames


def training_sample(processor, index: int, num_frames: int, size: tuple[int, int]) -> dict:
    """One `encode_example` output: `num_frames` frames 2 s apart, an EVQA target with `<|seg|>` and a mask
    target on the frames where the square is; question length varies with `index` (realistic padding)."""
    frames = synthetic_frames(num_frames, size, seed=index)
    timestamps = np.arange(num_frames, dtype=np.float64) * 2.0
    masks = np.all(frames == np.array([250, 30, 30], dtype=np.uint8), axis=-1)
    masks[: num_frames // 4] = False  # evidence starts a little into the clip
    question = "What is the moving object in this video " + "and what happens to it " * (index % 4) + "?"
    prompt = evqa_question_prompt(question, CANDIDATES)
    target = format_target("A", [(2.0 * (num_frames // 4), 2.0 * (num_frames - 1))])
    return processor.encode_example(frames, timestamps, prompt, target=target, mask_targets=masks)


def make_video(
    path: Path, seconds: float, fps: float, size: tuple[int, int]
) -> tuple[Path | np.ndarray, str]:
    """A synthetic video of `seconds` at `fps` -> (video, codec): an H.264 file (PyAV), an MPEG-4 part 2 file
    (OpenCV, when PyAV is missing), or the frames uint8 [N, H, W, 3] themselves when neither is installed."""
    frames = synthetic_frames(int(round(seconds * fps)), size, seed=123)
    if importlib.util.find_spec("av") is not None:
        from evqa.data.video import write_video

        write_video(path, frames, fps, crf=23)
        return path, "h264"
    if importlib.util.find_spec("cv2") is not None:
        import cv2

        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (size[1], size[0]))
        for rgb in frames:
            writer.write(np.ascontiguousarray(rgb[..., ::-1]))
        writer.release()
        return path, "mp4v"
    return frames, "memory"


# ------------------------------------------------------------------------------------------ model FLOPs
def _numel(module: torch.nn.Module, skip: tuple[str, ...] = ()) -> int:
    return sum(p.numel() for name, p in module.named_parameters() if not name.startswith(skip))


def llm_flops(model, batch: dict) -> float:
    """6 * N * tokens (N: decoder layers incl. LoRA + lm_head; embedding lookups are free) plus causal
    attention 6 * layers * (heads * head_dim) * len^2 / 2 per sequence (QK^T and AV, forward + backward)."""
    cfg = model.config.text_config
    params = _numel(model.model.language_model, skip=("embed_tokens.",)) + model.lm_head.weight.numel()
    lengths = batch["attention_mask"].sum(dim=1).double()
    width = cfg.num_attention_heads * getattr(cfg, "head_dim", cfg.hidden_size // cfg.num_attention_heads)
    return float(6 * params * lengths.sum() + 6 * cfg.num_hidden_layers * width * (lengths**2).sum() / 2)


def vision_flops(model, batch: dict) -> float:
    """Vision tower, forward + backward (LoRA on its attention): 6 * N * patches for the blocks and patch
    embedding, 6 * N_merger * patches / merge^2, plus attention over 8x8-patch windows / whole frames."""
    visual, cfg = model.model.visual, model.config.vision_config
    patches = batch["pixel_values_videos"].shape[0]
    merger = _numel(visual.merger)
    dense = 6 * ((_numel(visual) - merger) * patches + merger * patches / cfg.spatial_merge_size**2)
    window = (cfg.window_size // cfg.patch_size) ** 2
    grids = batch["video_grid_thw"].double()
    full_ctx = float(
        (grids[:, 0] * (grids[:, 1] * grids[:, 2]) ** 2).sum()
    )  # per frame pair: all its patches
    num_full = len(cfg.fullatt_block_indexes)
    attn = 12 * cfg.hidden_size * ((cfg.depth - num_full) * patches * window + num_full * full_ctx)
    return float(dense + attn)


def sam2_flops(model, batch: dict) -> float:
    """SAM2 per segmented sample of T frames (side S, hw = (S/16)^2 top-level tokens):
    frozen Hiera encoder 2 * sum_b N_b * (S/4/2^stage_b)^2 per frame (forward only); trainable decoder,
    memory encoder/attention 6 * N * hw per frame; memory attention 3 * 4 * d * hw * (hw + memories * hw)
    per layer on the T-1 tracked frames (memories = min(j, num_maskmem) for the j-th frame)."""
    sam2, cfg = model.sam2, model.config.sam2_config
    side = model.config.sam2_image_size
    hiera = sam2.vision_encoder.backbone
    stages = np.repeat(np.arange(4), cfg.vision_config.backbone_config.blocks_per_stage)
    encoder = _numel(hiera.patch_embed) * (side // 4) ** 2
    encoder += sum(
        _numel(block) * (side // 4 // 2 ** int(s)) ** 2 for block, s in zip(hiera.blocks, stages, strict=True)
    )
    hw = (side // 16) ** 2
    parts = ("mask_decoder", "memory_attention", "memory_encoder", "object_pointer_proj", "prompt_encoder")
    trainable = sum(_numel(getattr(sam2, name)) for name in parts)
    width, layers = cfg.memory_attention_hidden_size, cfg.memory_attention_num_layers
    total = 0.0
    for targets in batch.get("mask_targets") or []:
        if targets is None:
            continue
        frames = len(targets)
        memories = sum(min(j, cfg.num_maskmem) for j in range(1, frames))
        attention = 12 * width * layers * hw * (hw * (frames - 1) + hw * memories)
        total += frames * (2 * encoder + 6 * trainable * hw) + attention
    return float(total)


def model_flops(model, batch: dict) -> dict:
    """FLOPs of one training step on `batch` by part, and their total (see the module docstring)."""
    parts = {"llm": llm_flops(model, batch), "vision": vision_flops(model, batch)}
    parts["sam2"] = sam2_flops(model, batch)
    return {**parts, "total": sum(parts.values())}


# ------------------------------------------------------------------------------------------ training
def make_trainer(model, processor, batch_size: int, checkpointing: bool, bf16: bool, out_dir: str):
    """`EvqaTrainer` with the recipe's TrainingArguments; activation checkpointing switched on or off the
    way `Trainer.train()` does it, and the per-group optimizer created."""
    from evqa.training.arguments import TrainingArguments
    from evqa.training.collator import EvqaTrainCollator
    from evqa.training.trainer import EvqaTrainer

    args = TrainingArguments(output_dir=out_dir, per_device_train_batch_size=batch_size, bf16=bf16,
                             activation_checkpointing=checkpointing, max_steps=100, save_strategy="no",
                             report_to="none", use_cpu=model.device.type == "cpu")  # fmt: skip
    trainer = EvqaTrainer(model=model, args=args, data_collator=EvqaTrainCollator(processor))
    base = model.get_base_model()
    if checkpointing and not base.is_activation_checkpointing:
        trainer.model.activation_checkpointing_enable()
    elif not checkpointing and base.is_activation_checkpointing:
        base.activation_checkpointing_disable()
    trainer.create_optimizer()
    trainer.current_gradient_accumulation_steps = args.gradient_accumulation_steps  # set per step by train()
    return trainer


def optimizer_step(trainer, batch: dict) -> float:
    """One step of the Trainer path: training_step (forward + backward), clipping, optimizer.step."""
    loss = trainer.training_step(trainer.model, batch)
    trainer.accelerator.clip_grad_norm_(trainer.model.parameters(), trainer.args.max_grad_norm)
    trainer.optimizer.step()
    trainer.optimizer.zero_grad(set_to_none=True)
    return float(loss)


def train_row(model, processor, samples: list, spec: dict, opts, device, peak_tflops: float) -> dict:
    """Measure one configuration `spec` = {attn, batch_size, checkpointing, masks}: median step seconds
    over `opts.steps` steps after one warm-up step, and the numbers derived from it."""
    size = spec["batch_size"]
    examples = samples[:size] if spec["masks"] else [_without_masks(ex) for ex in samples[:size]]
    batch = processor.collate(examples)
    reset_memory(device)
    with tempfile.TemporaryDirectory() as out_dir:
        trainer = make_trainer(model, processor, size, spec["checkpointing"], device.type == "cuda", out_dir)
        clock, times, losses = StageClock(device), [], []
        for step in range(1 + opts.steps):
            begin = clock.now()
            losses.append(optimizer_step(trainer, batch))
            if step:
                times.append(clock.now() - begin)
        del trainer
    seconds = float(np.median(times))
    tokens = int(batch["attention_mask"].sum())
    flops = model_flops(model.get_base_model(), batch)
    return {**spec, "step_s": seconds, "samples_per_s": size / seconds, "tokens": tokens,
            "tokens_per_s": tokens / seconds, "padding_fraction": 1 - tokens / batch["attention_mask"].numel(),
            "peak_memory_mib": peak_memory_mib(device), "model_tflops_per_step": flops["total"] / 1e12,
            "flops_by_part": flops, "mfu": flops["total"] / seconds / (peak_tflops * 1e12),
            "loss": losses[-1]}  # fmt: skip


def _first_line(err: Exception) -> str:
    return f"{type(err).__name__}: {(str(err).splitlines() or [''])[0]}"


def _without_masks(example: dict) -> dict:
    return {k: v for k, v in example.items() if k not in ("mask_targets", "mask_valid")}


def attention_kernels(device: torch.device) -> dict[str, str | None]:
    """{kernel: None if usable else why not}: sdpa always, flash_attention_2 with CUDA and flash-attn."""
    flash = None if device.type == "cuda" else "needs CUDA"
    if flash is None and importlib.util.find_spec("flash_attn") is None:
        flash = "flash-attn is not installed"
    return {"sdpa": None, "flash_attention_2": flash}


def training_specs(opts, kernels: dict) -> list[dict]:
    """Rows to measure: every usable kernel x batch size (checkpointing on, masks on), then the compare
    rows at the smallest batch size: checkpointing off, and no mask targets (text-only loss)."""
    specs = [dict(attn=attn, batch_size=bs, checkpointing=True, masks=True)
             for attn, why in kernels.items() if why is None for bs in opts.batch_sizes]  # fmt: skip
    if opts.compare:
        small = min(opts.batch_sizes)
        specs += [dict(attn="sdpa", batch_size=small, checkpointing=False, masks=True),
                  dict(attn="sdpa", batch_size=small, checkpointing=True, masks=False)]  # fmt: skip
    return specs


def training_bench(opts, device, dtype, peak_tflops: float) -> list[dict]:
    """Build the model with LoRA once, then measure every row of `training_specs` (an out-of-memory row
    records the error and the run goes on)."""
    model, processor = build_model(opts.preset, opts.sam2, torch_dtype=dtype, device=device)
    model = apply_lora(model, r=128, alpha=256, dropout=0.1)
    model.train()
    samples = [training_sample(processor, i, opts.frames, tuple(opts.frame_size))
               for i in range(max(opts.batch_sizes))]  # fmt: skip
    rows = []
    kernels = attention_kernels(device)
    for spec in tqdm(training_specs(opts, kernels), desc="training", unit="config"):
        model.get_base_model().set_attn_implementation(spec["attn"])
        try:
            rows.append(train_row(model, processor, samples, spec, opts, device, peak_tflops))
        except Exception as err:  # e.g. out of memory at the largest batch: record it, measure the rest
            rows.append({**spec, "error": _first_line(err)})
            model.zero_grad(set_to_none=True)
            reset_memory(device)
    del model
    reset_memory(device)
    return rows


# ------------------------------------------------------------------------------------------ inference
def timed_predict(predictor: EvqaPredictor, items: list, video_fps: float | None, device) -> dict:
    """`predict_batch(items)` with stage timers: vision tower forward, `generate` (minus the vision tower),
    `segment_video` (SAM2 propagation; its image-encoder share separately), the rest (frame decoding and
    preprocessing before generation, parsing after)."""
    model, clock = predictor.model, StageClock(device)
    clock.hook(model.model.visual, "vision")
    clock.hook(model.sam2.vision_encoder, "sam2_encoder")
    clock.wrap(model, "generate", "generate")
    clock.wrap(predictor, "segment_video", "propagation")
    reset_memory(device)
    begin = clock.now()
    try:
        predictions = predictor.predict_batch(items, video_fps=video_fps)
    finally:
        total = clock.now() - begin
        clock.close()
    t = clock.totals
    return {
        "questions": len(items),
        "latency_s": total,
        "questions_per_s": len(items) / total,
        "stages_s": {
            "vision_encoding": t["vision"],
            "generation": t["generate"] - t["vision"],
            "sam2_propagation": t["propagation"],
            "sam2_image_encoding": t["sam2_encoder"],
            "decode_preprocess_other": total - t["generate"] - t["propagation"],
        },  # fmt: skip
        "segmented": sum(bool(p.meta["segmented"]) for p in predictions),
        "mask_frames": int(sum(len(p.masks) for p in predictions)),
        "llm_frames": len(predictions[0].frame_indices),
        "peak_memory_mib": peak_memory_mib(device),
    }


def inference_bench(opts, device, dtype, work_dir: Path) -> dict:
    """Single-question latency (after a warm-up call), batched throughput over `opts.questions` questions,
    and with --compare the single question on frames already in memory (no decoding on the critical path).

    Random weights rarely emit `<|seg|>`: a +100 logit bias on it makes every run generate
    `max_new_tokens` tokens and propagate masks, i.e. always the full work of a segmenting answer."""
    model, processor = build_model(opts.preset, opts.sam2, torch_dtype=dtype, device=device)
    model.generation_config.sequence_bias = {(processor.token_ids["seg"],): 100.0}
    predictor = EvqaPredictor(model, processor, fps=opts.llm_fps, max_new_tokens=opts.max_new_tokens,
                              progress=False)  # fmt: skip
    video, codec = make_video(
        work_dir / "bench.mp4", opts.video_seconds, opts.video_fps, tuple(opts.frame_size)
    )
    video_fps = None if isinstance(video, Path) else opts.video_fps
    question = "What is the moving object in this video?"
    items = [(video, f"{question} (question {i + 1})", CANDIDATES) for i in range(opts.questions)]
    results = {"video": {"seconds": opts.video_seconds, "fps": opts.video_fps, "size": opts.frame_size,
                         "codec": codec}}  # fmt: skip
    steps = [("warmup", items[:1], video), ("single", items[:1], video), ("batched", items, video)]
    if opts.compare and video_fps is None:
        frames = synthetic_frames(
            int(round(opts.video_seconds * opts.video_fps)), tuple(opts.frame_size), 123
        )
        steps.append(("single_frames_in_memory", [(frames, *items[0][1:])], frames))
    for name, batch, source in tqdm(steps, desc="inference", unit="run"):
        fps = opts.video_fps if isinstance(source, np.ndarray) else None
        try:
            results[name] = timed_predict(predictor, batch, fps, device)
        except Exception as err:  # one failed run must not lose the others
            results[name] = {"error": _first_line(err)}
            reset_memory(device)
    results.pop("warmup", None)
    del predictor, model
    reset_memory(device)
    return results


# ------------------------------------------------------------------------------------------ report
def environment(device: torch.device) -> dict:
    """What ran the benchmark: device name, library versions."""
    import transformers

    info = {"device": device.type, "torch": torch.__version__, "transformers": transformers.__version__,
            "python": platform.python_version(), "flash_attn": importlib.util.find_spec("flash_attn") is not None}  # fmt: skip
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(name=props.name, memory_gib=props.total_memory / 2**30, cuda=torch.version.cuda)
    else:
        info.update(name=platform.processor() or platform.machine(), threads=torch.get_num_threads())
    return info


def format_report(results: dict) -> str:
    """The training and inference tables as text."""
    env, peak = results["environment"], results["peak"]
    lines = [f"device: {env['name']} | torch {env['torch']} | transformers {env['transformers']}",
             f"measured {peak['dtype']} matmul peak: {peak['tflops']:.3g} TFLOP/s ({peak['size']}^3)", "",
             f"{'attn':<18}{'bs':>3}{'ckpt':>5}{'masks':>6}{'step s':>9}{'samp/s':>8}{'tok/s':>9}"
             f"{'pad %':>7}{'peak MiB':>10}{'TFLOP':>8}{'MFU %':>7}"]  # fmt: skip
    for row in results.get("training", []):
        head = f"{row['attn']:<18}{row['batch_size']:>3}{'on' if row['checkpointing'] else 'off':>5}"
        head += f"{'yes' if row['masks'] else 'no':>6}"
        if "error" in row:
            lines.append(f"{head}  {row['error']}")
            continue
        lines.append(f"{head}{row['step_s']:>9.3f}{row['samples_per_s']:>8.2f}{row['tokens_per_s']:>9.0f}"
                     f"{100 * row['padding_fraction']:>7.1f}{row['peak_memory_mib']:>10.0f}"
                     f"{row['model_tflops_per_step']:>8.3g}{100 * row['mfu']:>7.2f}")  # fmt: skip
    inference = results.get("inference", {})
    lines += ["", f"inference ({inference.get('video', {})}):",
              f"{'run':<26}{'q':>3}{'latency s':>10}{'q/s':>7}{'vision':>8}{'generate':>9}{'sam2':>8}"
              f"{'(enc)':>8}{'other':>8}{'peak MiB':>10}"]  # fmt: skip
    for name, run in inference.items():
        if name == "video":
            continue
        if "error" in run:
            lines.append(f"{name:<26}  {run['error']}")
            continue
        s = run["stages_s"]
        lines.append(f"{name:<26}{run['questions']:>3}{run['latency_s']:>10.2f}{run['questions_per_s']:>7.2f}"
                     f"{s['vision_encoding']:>8.2f}{s['generation']:>9.2f}{s['sam2_propagation']:>8.2f}"
                     f"{s['sam2_image_encoding']:>8.2f}{s['decode_preprocess_other']:>8.2f}"
                     f"{run['peak_memory_mib']:>10.0f}")  # fmt: skip
    return "\n".join(lines)


def best_training(rows: list[dict]) -> dict | None:
    """The measured main-grid row (checkpointing, masks) with the highest MFU."""
    grid = [r for r in rows if "error" not in r and r["checkpointing"] and r["masks"]]
    return max(grid, key=lambda r: r["mfu"]) if grid else None


# ------------------------------------------------------------------------------------------ command line
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="3b", help="tiny, 3b or 7b (random weights)")
    parser.add_argument("--sam2", default="base", help="SAM2.1 image encoder: tiny, base or large")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--smoke", action="store_true", help="tiny preset, CPU, tiny sizes (< 1 min)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument(
        "--steps", type=int, default=3, help="timed optimizer steps per row (after 1 warm-up)"
    )
    parser.add_argument("--frames", type=int, default=8, help="frames per training sample")
    parser.add_argument("--frame-size", type=int, nargs=2, default=[480, 854], metavar=("H", "W"))
    parser.add_argument("--video-seconds", type=float, default=60.0)
    parser.add_argument("--video-fps", type=float, default=6.0, help="frame rate of the synthetic video")
    parser.add_argument("--llm-fps", type=float, default=1.0, help="LLM frame sampling rate")
    parser.add_argument("--questions", type=int, default=4, help="questions in the batched inference run")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--matmul-size", type=int, default=None, help="default 8192 on CUDA, 1024 on CPU")
    parser.add_argument("--compare", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure checkpointing off, no mask targets, frames in memory")  # fmt: skip
    parser.add_argument("--skip", nargs="*", default=[], choices=["training", "inference"])
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    parser.add_argument(
        "--flops-only",
        action="store_true",
        help="print model FLOPs per training step (model on the meta device), run nothing",
    )
    parser.add_argument("--peak-tflops", type=float, default=989.0,
                        help="--flops-only divisor (default: H100 SXM dense bf16 datasheet rate)")  # fmt: skip
    parser.add_argument("--out", default=None, help="write the raw numbers here as JSON")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line; --smoke replaces the options named in `SMOKE` (model, device, sizes, steps, threads)."""
    opts = build_parser().parse_args(argv)
    if opts.smoke:
        for key, value in SMOKE.items():
            setattr(opts, key, value)
    return opts


def flops_only(opts) -> dict:
    """Model FLOPs per training step with nothing run: the LoRA model is built on the meta device (no memory),
    and the floor step time is FLOPs / `opts.peak_tflops`."""
    model, processor = build_model(opts.preset, opts.sam2, torch_dtype=torch.bfloat16, device="meta")
    base = apply_lora(model, r=128, alpha=256, dropout=0.1).get_base_model()
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    params = {"total": count(base), "llm": count(base.model.language_model), "vision": count(base.model.visual),
              "sam2": count(base.sam2), "trainable": sum(p.numel() for p in base.parameters() if p.requires_grad)}  # fmt: skip
    samples = [
        training_sample(processor, i, opts.frames, tuple(opts.frame_size))
        for i in range(max(opts.batch_sizes))
    ]
    rows = []
    for size in opts.batch_sizes:
        batch = processor.collate(samples[:size])
        flops = model_flops(base, batch)
        rows.append({"batch_size": size, "tokens": int(batch["attention_mask"].sum()),
                     "patches": int(batch["pixel_values_videos"].shape[0]), "flops_by_part": flops,
                     "floor_step_s": flops["total"] / (opts.peak_tflops * 1e12)})  # fmt: skip
    return {"peak_tflops": opts.peak_tflops, "parameters": params, "rows": rows}


def format_flops(table: dict) -> str:
    """The --flops-only table as text."""
    params = ", ".join(f"{k} {v / 1e9:.3g}B" for k, v in table["parameters"].items())
    lines = [f"parameters: {params}", f"{'bs':>3}{'tokens':>8}{'patches':>9}{'LLM TF':>9}{'vision TF':>11}"
             f"{'SAM2 TF':>9}{'total TF':>10}{'floor s @ ' + format(table['peak_tflops'], 'g'):>16}"]  # fmt: skip
    for row in table["rows"]:
        f = {k: v / 1e12 for k, v in row["flops_by_part"].items()}
        lines.append(f"{row['batch_size']:>3}{row['tokens']:>8}{row['patches']:>9}{f['llm']:>9.1f}{f['vision']:>11.1f}"
                     f"{f['sam2']:>9.1f}{f['total']:>10.1f}{row['floor_step_s']:>16.3f}")  # fmt: skip
    return "\n".join(lines)


def run_stages(opts, device: torch.device, dtype: torch.dtype, results: dict) -> bool:
    """Training then inference into `results`; a stage that raises is recorded; True if anything failed."""
    failed = False
    with tempfile.TemporaryDirectory() as work_dir:
        stages = {"training": lambda: training_bench(opts, device, dtype, results["peak"]["tflops"]),
                  "inference": lambda: inference_bench(opts, device, dtype, Path(work_dir))}  # fmt: skip
        for stage, run in stages.items():
            if stage in opts.skip:
                continue
            try:
                results[stage] = run()
            except Exception as err:  # one stage failing must not lose the others' numbers
                results[stage + "_error"] = _first_line(err)
                failed = True
                traceback.print_exc()
    failed = failed or any("error" in row for row in results.get("training", []))
    return failed or any("error" in run for run in results.get("inference", {}).values())


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if opts.flops_only:
        table = flops_only(opts)
        print(format_flops(table))
        if opts.out:
            write_json_atomic(opts.out, {"config": vars(opts).copy(), "flops": table})
        return 0
    device = torch.device(opts.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if opts.threads:
        torch.set_num_threads(opts.threads)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    results = {"environment": environment(device), "config": vars(opts).copy()}
    results["peak"] = matmul_peak(
        device, dtype, opts.matmul_size or (8192 if device.type == "cuda" else 1024)
    )
    results["attention"] = {k: v or "measured" for k, v in attention_kernels(device).items()}
    failed = run_stages(opts, device, dtype, results)
    best = best_training(results.get("training", []))
    results["best_training"] = best and {k: best[k] for k in ("attn", "batch_size", "mfu", "samples_per_s")}
    print(format_report(results))
    if opts.out:
        write_json_atomic(opts.out, results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
