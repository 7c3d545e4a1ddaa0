"""Training-step speed of the demo's gen_mask batches: objects tracked together against one at a time.

    python perf/bench_mask_step.py [--backbone qwen3_vl] [--batches 3] [--repeats 2] [--data data/synth]

Builds the demo's model and data (`evqa demo --backbone ...`: the synthetic data is generated when missing)
and times forward + backward of the same gen_mask batches (8 samples, SAM2 tracking every sampled frame of
each) in four settings, in one run:
  * one at a time, 1 thread: each object its own `track_objects` call (the reference: how training tracked
    before the objects of a batch were tracked together);
  * together, 1 thread: one `track_objects` call for every object of the batch (what training does);
  * together, 2 threads: the same with `mask_step_threads: 2` (the demo recipe's setting);
  * text batch, 1 thread: a gen_qa batch, for scale.
It checks that both ways give the same loss (relative 1e-4) and prints mean seconds per batch and ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402


def build(backbone: str, data_root: str):
    """(model in train mode, collator, dataset) of the demo recipe for `backbone`."""
    from evqa.data.synth import ensure_synth
    from evqa.training.collator import EvqaTrainCollator
    from evqa.training.config import parse_config
    from evqa.training.demo import DEMO_CONFIG, backbone_of, demo_config, synth_sources
    from evqa.training.main import build_model
    from evqa.training.mixture import build_mixture

    paths = ensure_synth(data_root, progress=True)
    overrides = list(backbone_of(backbone).overrides)
    sources = synth_sources(paths, demo_config(DEMO_CONFIG, overrides)["data"]["sources"])
    overrides += [f"data.sources={json.dumps(sources)}", "training.output_dir=/tmp/evqa_bench_mask_step"]
    model_args, data_args, train_args = parse_config(DEMO_CONFIG, overrides)
    dataset = build_mixture(data_args.sources, num_frames=data_args.num_frames, seed=data_args.seed,
                            sample_type=data_args.sample_type, prompt_style=data_args.prompt_style,
                            max_video_frames=data_args.max_video_frames)  # fmt: skip
    model, processor = build_model(model_args, train_args)
    return model, EvqaTrainCollator(processor, data_args.resolution, data_args.num_frames), dataset


def one_at_a_time(track_objects):
    """`track_objects` with every request tracked by its own call."""

    def track(sam2, requests, **kwargs):
        return [track_objects(sam2, [r], **kwargs)[0] for r in requests]

    return track


def time_step(model, batch, threads: int) -> tuple[float, float]:
    """(seconds, loss) of forward + backward of one batch on `threads` intra-op threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        started = time.perf_counter()
        out = model(**batch)
        out.loss.backward()
        seconds = time.perf_counter() - started
    finally:
        torch.set_num_threads(previous)
    model.zero_grad(set_to_none=True)
    return seconds, float(out.loss.detach())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backbone", default="qwen3_vl", choices=("qwen2_5_vl", "qwen3_vl"),
                        help="demo backbone whose recipe is timed (default: qwen3_vl)")  # fmt: skip
    parser.add_argument("--batches", type=int, default=3, help="gen_mask batches timed (default: 3)")
    parser.add_argument(
        "--repeats", type=int, default=2, help="passes over the batches per setting (default: 2)"
    )
    parser.add_argument("--data", default="data/synth", help="synthetic data root (default: data/synth)")
    args = parser.parse_args()

    import evqa.model.modeling as modeling

    model, collate, dataset = build(args.backbone, args.data)
    masks = [i for i, kind in enumerate(dataset.data_types) if kind == "mask"]
    texts = [i for i, kind in enumerate(dataset.data_types) if kind != "mask"]
    size = 8
    mask_batches = [
        collate([dataset[i] for i in masks[k * size : (k + 1) * size]]) for k in range(args.batches)
    ]
    text_batch = collate([dataset[i] for i in texts[:size]])
    together = modeling.track_objects
    settings = {"one at a time, 1 thread": (one_at_a_time(together), 1, mask_batches),
                "together, 1 thread": (together, 1, mask_batches), "together, 2 threads": (together, 2, mask_batches),
                "text batch, 1 thread": (together, 1, [text_batch])}  # fmt: skip
    time_step(model, mask_batches[0], 1)  # warm-up
    times, losses = {name: [] for name in settings}, {name: [] for name in settings}
    for _ in range(args.repeats):  # interleaved, so drifts of a shared machine hit every setting alike
        for name, (track, threads, batches) in settings.items():
            modeling.track_objects = track
            try:
                for batch in batches:
                    seconds, loss = time_step(model, batch, threads)
                    times[name].append(seconds)
                    losses[name].append(loss)
            finally:
                modeling.track_objects = together
    reference, ours = losses["one at a time, 1 thread"], losses["together, 1 thread"]
    for a, b in zip(reference, ours, strict=True):
        assert abs(a - b) <= 1e-4 * abs(a), f"losses differ: {a} vs {b}"
    mean = {name: sum(v) / len(v) for name, v in times.items()}
    base = mean["one at a time, 1 thread"]
    print(f"\n{args.backbone}: {args.batches} gen_mask batches of {size} x {args.repeats} passes\n")
    print(f"{'setting':28s} {'s / batch':>10s} {'vs one at a time':>17s}")
    for name, value in mean.items():
        print(f"{name:28s} {value:10.3f} {base / value:16.2f}x")


if __name__ == "__main__":
    main()
