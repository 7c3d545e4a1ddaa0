"""Step 2 for general models (`evqa infer --task masks`): referring expressions -> masks with an EVQA (or
converted UniPixel) checkpoint, into the folder the scorer reads by default.

Modes: `concat` joins an entry's expressions into one query and segments it once; `separate` (upstream
spelling `seperate` accepted) segments each expression and unions the masks. Each query is asked the way the
model learned referring segmentation ('Please segment the ... in this video.' -> 'It is <|seg|>.'): the
answer prefix is teacher-forced and the hidden state that predicts `<|seg|>` prompts SAM2, which tracks the
object over every frame of the video from the start of the entry's first predicted segment.
Output: `<prediction file without .json>/<concat|seperate>/<entry_id>.json` (RLE), frames every
`--every_n_frames` of the video's own timeline; per-entry status in `<folder>_status.json` (resumable).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from evqa.baselines.frames import Sampling, load_frames
from evqa.baselines.runner import RunSummary, resolve_shard, run_items
from evqa.errors import ConfigError, InputError
from evqa.paths import child_path, validate_entry_id

log = logging.getLogger(__name__)

MASK_MODES = {"concat": "concat", "separate": "seperate", "seperate": "seperate"}  # mode -> folder name


def join_expressions(expressions: list[str]) -> str:
    """'a', 'b', 'c' -> 'a, b and c' (the concat-mode query)."""
    if len(expressions) <= 1:
        return "".join(expressions)
    return ", ".join(expressions[:-1]) + " and " + expressions[-1]


class ReferringSegmenter:
    """Masks bool [N, H, W] for every frame of a video from referring expressions, with an EVQA model."""

    def __init__(
        self,
        model_path: str,
        *,
        device: str | None = None,
        dtype: str | None = None,
        fps: float = 1.0,
        max_frames: int | None = 64,
    ):
        from evqa.baselines.hf_frames import pick_device
        from evqa.baselines.ours import load_evqa
        from evqa.model import EvqaPredictor

        self.model, self.processor = load_evqa(model_path, pick_device(device), dtype)
        self.predictor = EvqaPredictor(
            self.model, self.processor, fps=fps, max_frames=max_frames, progress=False
        )
        self.sampling = Sampling(fps=fps, max_frames=max_frames)

    def seg_hidden(self, frames: np.ndarray, timestamps: np.ndarray, expression: str):
        """Last-layer hidden state [D] that predicts `<|seg|>` after 'It is ' for `expression`."""
        import torch

        from evqa.model.predictor import llm_inputs
        from evqa.prompts import SEG_TARGET, SEG_TOKEN, segmentation_prompt

        example = self.processor.encode_generation_prompt(frames, timestamps, segmentation_prompt(expression))
        prefix = self.processor.tokenizer(SEG_TARGET.split(SEG_TOKEN)[0], add_special_tokens=False)[
            "input_ids"
        ]
        prefix = torch.tensor(prefix, dtype=torch.long)
        example["input_ids"] = torch.cat([example["input_ids"], prefix])
        example["attention_mask"] = torch.ones_like(example["input_ids"])
        example["mm_token_type_ids"] = torch.cat([example["mm_token_type_ids"], torch.zeros_like(prefix)])
        inputs = llm_inputs(self.model, self.processor, [example])
        with torch.inference_mode():
            out = self.model(**inputs, output_hidden_states=True)
        return out.hidden_states[-1][0, -1]

    def segment(self, video: str, expressions: list[str], *, mode: str, start_s: float = 0.0):
        """(masks bool [N, H, W] on every frame, video fps): the union over `expressions` (one joined query
        in concat mode), SAM2 prompted at the frame at `start_s` seconds."""
        from evqa.data.video import video_info

        info = video_info(video)
        frames = load_frames(video, self.sampling)
        prompt_frame = min(max(0, round(start_s * info.fps)), info.num_frames - 1)
        queries = [join_expressions(expressions)] if mode == "concat" else expressions
        union = np.zeros((info.num_frames, info.height, info.width), dtype=bool)
        for query in queries:
            hidden = self.seg_hidden(frames.frames, frames.timestamps, query)
            union |= self.predictor.segment_video(video, hidden, prompt_frame)
        return union, info.fps


def step1_items(pred_file: str, video_dir: Path, gen_entries) -> list[tuple[str, dict[str, Any]]]:
    """(entry_id, {video, expressions, start_s}) for every step-1 prediction with referring expressions."""
    from evqa.eval.predictions import load_predictions

    videos = {e.entry_id: e.video_path for e in gen_entries}
    items = []
    for entry_id, record in load_predictions(pred_file).items():
        parsed = (record or {}).get("parsed_response") or {}
        expressions = [
            e for e in parsed.get("referring_expressions") or [] if isinstance(e, str) and e.strip()
        ]
        if record.get("error") or not expressions:
            continue
        if entry_id not in videos:
            raise InputError("entry is not in the benchmark", path=pred_file, entry=entry_id)
        segments = parsed.get("segments") or []
        start = min(
            (float(s[0]) for s in segments if isinstance(s, (list, tuple)) and len(s) == 2), default=0.0
        )
        items.append(
            (
                entry_id,
                {
                    "video": str(video_dir / videos[entry_id]),
                    "expressions": expressions,
                    "start_s": max(0.0, start),
                    "entry_id": entry_id,
                },
            )
        )
    return items


def mask_writer(segmenter: ReferringSegmenter, out_dir: Path, mode: str, every: int):
    """The runner's per-entry function: segment, keep every `every`-th frame, write `<out_dir>/<entry_id>.json`."""
    from evqa.data.masks import write_rle_json

    def process(item: dict[str, Any]) -> dict[str, Any]:
        masks, fps = segmenter.segment(item["video"], item["expressions"], mode=mode, start_s=item["start_s"])
        kept = {i: masks[i] for i in range(0, len(masks), every)}
        path = child_path(out_dir, f"{validate_entry_id(item['entry_id'])}.json")
        write_rle_json(path, item["entry_id"], kept, size=masks.shape[1:], fps=fps)
        return {"mask_path": str(path), "error": None, "meta": {"frames": len(kept), "mode": mode}}

    return process


def run_masks_step(args) -> RunSummary | None:
    """`evqa infer --task masks PRED_FILE --model CKPT [--mode concat|separate] [--every_n_frames N]`;
    `args` is an `evqa.baselines.cli_run.InferOptions`."""
    from evqa.baselines.benchmarks import resolve_gen_data
    from evqa.data.st_evidence import load_gen_benchmark

    if not args.pred_file:
        raise ConfigError("--task masks needs the step-1 prediction file as its argument", field="pred_file")
    mode = args.mode or "concat"
    if mode not in MASK_MODES:
        raise ConfigError(f"unknown mask mode '{mode}' (concat, separate)", field="--mode")
    data = resolve_gen_data(args.gt_file, args.video_dir)
    items = step1_items(args.pred_file, data.video_dir, load_gen_benchmark(data.gt_file))[: args.limit]
    out_dir = Path(args.pred_mask_dir or Path(args.pred_file).with_suffix("") / MASK_MODES[mode])
    if args.dry_run:
        for entry_id, item in items:
            print(
                f"{entry_id}: {item['expressions']} from {item['start_s']:.1f} s -> {out_dir / entry_id}.json"
            )
        return None
    from evqa.baselines.cli_run import check_device, ensure_writable
    from evqa.baselines.registry import default_model, get_model_class

    check_device(args, get_model_class(args.adapter or "ours"))
    ensure_writable(out_dir / "x")
    model = args.model or default_model(args.adapter or "ours")
    segmenter = ReferringSegmenter(
        model, device=args.device, dtype=args.dtype, fps=args.fps or 1.0, max_frames=args.max_frames or 64
    )
    process = mask_writer(segmenter, out_dir, mode, max(1, args.every_n_frames))
    shard_index, num_shards = resolve_shard(args.num_shards, args.shard_index)
    log.info("segmenting %d entries' referring expressions -> %s", len(items), out_dir)
    status = out_dir.with_name(f"{out_dir.name}_status.json")  # beside the mask folder, not in it
    return run_items(
        items, process, status, shard_index=shard_index, num_shards=num_shards, progress=args.progress
    )
