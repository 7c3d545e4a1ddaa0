"""`evqa demo [--out DIR] [--backbone qwen2_5_vl|qwen3_vl]`: synthetic data -> train the tiny model -> infer ->
score, on CPU (`make demo`)."""

from __future__ import annotations

import argparse
import os
import time


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Generate ST-Evidence-Synth, train the tiny EVQA model on it, run it on the test split "
        "and compare its scores with the trivial baselines. Writes <out>/demo_results.json.",
    )
    p.add_argument(
        "--out",
        default="demo_out",
        help="output folder (model, predictions, demo_results.json; default: demo_out)",
    )
    p.add_argument(
        "--data",
        default=None,
        help="synthetic data root, generated if missing (default: $EVQA_SYNTH_ROOT or data/synth)",
    )
    p.add_argument(
        "--config",
        default="train/evqa_tiny_synth_sft.yaml",
        help="training experiment YAML (default: train/evqa_tiny_synth_sft.yaml)",
    )
    p.add_argument(
        "--backbone",
        default="qwen2_5_vl",
        choices=("qwen2_5_vl", "qwen3_vl"),
        help="LLM of the tiny model: qwen2_5_vl (the tiny preset, frame times in the rope positions) or "
        "qwen3_vl (the qwen3vl-tiny preset: textual timestamps per temporal patch of 2 frames, trained on "
        "16 frames, one per equal segment of the clip, inferring on 16 frames spread evenly; default: "
        "qwen2_5_vl)",
    )
    p.add_argument("overrides", nargs="*", help="training overrides, e.g. training.max_steps=50")
    return p


def run(args: argparse.Namespace) -> int:
    # The tiny model is latency-bound: one intra-op thread per process is about as fast on an idle machine
    # and avoids several-fold slowdowns when the cores are shared (set OMP_NUM_THREADS to override). It must
    # be set before torch is imported.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from evqa.eval.report import format_comparison
    from evqa.training.demo import backbone_of, losing_metrics, run_demo

    started = time.perf_counter()
    name = backbone_of(args.backbone).name
    results = run_demo(
        args.out, data_root=args.data, config=args.config, overrides=args.overrides, backbone=args.backbone
    )
    print()
    print(format_comparison({name: results["model"], **results["baselines"]}))
    losing = losing_metrics(results["model"], results["baselines"])
    verdict = (
        "beats every trivial baseline on Acc, mIoU and J&F" if not losing else f"does not beat: {losing}"
    )
    print(f"\n{name} {verdict}.")
    print(f"results: {args.out}/demo_results.json  ({time.perf_counter() - started:.0f} s)")
    return 0
