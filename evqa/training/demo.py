"""The end-to-end demo: ST-Evidence-Synth -> train the tiny model -> infer -> score -> compare.

Every stage is the real one, called as a library function: `ensure_synth` (data),
`evqa.training.main.run_training` (training from the demo YAML), `evqa.baselines.cli_run.run_infer` with the
`ours` adapter (the inference runner), `evaluate_gen` (the scorer). The trivial baselines are the
prediction files the synthetic generator writes next to its benchmark.

`backbone` picks the LLM: 'qwen2_5_vl' (the YAML as it is: the `tiny` preset, frames sampled at 1 fps for
inference) or 'qwen3_vl' (`BACKBONES`: the `qwen3vl-tiny` preset, whose processor writes each temporal
patch's time as text; it trains on one random frame from each of 16 equal segments of the clip and infers
on as many frames spread evenly over it, so the timestamps it reads at inference are the kind it was trained
on). Qwen3-VL fuses 2 frames into one temporal patch with one timestamp, so 8 frames of the 6 s synthetic
clips give 4 timestamps 1.5 s apart, coarser than the 0.5 s grid of the evidence segments: the 8-frame
model wrote the half-second digit of a segment at chance (its loss ln 2 on the training clips) and picked a
few typical segments. 16 frames give 8 timestamps 0.75 s apart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from evqa.errors import ConfigError, EvqaError

log = logging.getLogger(__name__)

DEMO_CONFIG = "train/evqa_tiny_synth_sft.yaml"
MODEL_NAME = "EVQA tiny (trained)"


@dataclass(frozen=True)
class DemoBackbone:
    """How the demo trains and runs one backbone: training `overrides` applied before the user's, the name
    in the table, and `frames_like_training`: infer on `data.num_frames` frames spread evenly over each
    clip (all frames sampled, then capped) instead of the inference runner's default 1 fps."""

    name: str
    overrides: tuple[str, ...] = field(default_factory=tuple)
    frames_like_training: bool = False


BACKBONES = {
    "qwen2_5_vl": DemoBackbone(MODEL_NAME),
    "qwen3_vl": DemoBackbone("EVQA qwen3vl-tiny (trained)",
                             ("model.preset=qwen3vl-tiny", "data.sample_type=segments", "data.num_frames=16"),
                             True),
}  # fmt: skip
# (results section, key) of the metrics the trained model must beat every trivial baseline on
HEADLINE = {
    "Acc": ("qa_metrics", "accuracy"),
    "mIoU": ("temporal_metrics", "mIoU"),
    "J&F": ("mask_metrics", "J&F"),
}


def _synth_fields(kind: str, paths) -> dict:
    """The path fields of a source of type `kind` on a synthetic root."""
    if kind == "st_evidence_qa":
        return {"csv": str(paths.instruct_qa_csv), "video_dir": str(paths.instruct_video_dir)}
    if kind == "st_evidence_mask":
        return {"csv": str(paths.instruct_mask_csv), "video_dir": str(paths.instruct_video_dir),
                "mask_dir": str(paths.instruct_mask_dir), "frames_dir": str(paths.frames_dir)}  # fmt: skip
    raise ConfigError(
        f"the demo trains on st_evidence_qa / st_evidence_mask sources only, not {kind!r}",
        field="data.sources",
    )


def synth_sources(paths, sources: list[dict]) -> list[dict]:
    """The config's `data.sources` pointed at the synthetic root `paths` (type, repeat, ratio kept)."""
    if not sources:
        raise ConfigError("the demo config lists no data.sources", field="data.sources")
    return [{**spec, **_synth_fields(spec.get("type"), paths)} for spec in sources]


def demo_config(config: str, overrides: list[str]) -> dict:
    """The demo YAML as a dict, with `overrides` applied."""
    from evqa.training.config import apply_overrides, load_yaml

    if not Path(config).is_file():
        raise EvqaError(f"{config}: demo config not found (run the demo from the repository root)")
    return apply_overrides(load_yaml(config), list(overrides))


def train_model(paths, out_dir: Path, config: str, overrides: list[str], sources: list[dict]) -> Path:
    """Train the tiny model with the real training code on `sources` (the config's, re-pointed at the
    synthetic root); returns the saved model folder."""
    import json

    from evqa.training.config import parse_config
    from evqa.training.main import run_training

    sources = json.dumps(synth_sources(paths, sources))  # JSON is YAML: passes as one override value
    overrides = [*overrides, f"data.sources={sources}", f"training.output_dir={out_dir}"]
    model_args, data_args, train_args = parse_config(config, overrides + ["training.resume=scratch"])
    return run_training(model_args, data_args, train_args)


def infer(model_dir: Path, paths, out_dir: Path, *, num_frames: int, **options) -> tuple[Path, Path]:
    """Run the inference runner with the `ours` adapter on the synthetic test split; (prediction file, mask
    folder).

    `num_frames` should be the frame count of training. Answers are ~26 tokens long, so generation stops at
    48 new tokens (an undertrained model that never emits `<|im_end|>` would otherwise spend minutes per
    entry). Each demo run trains a new model, so earlier predictions in `out_dir` are replaced
    (`overwrite`), never resumed into. `options`: further `InferOptions` fields."""
    from evqa.baselines.cli_run import InferOptions, run_infer

    pred_file, mask_dir = out_dir / "predictions.json", out_dir / "pred_masks"
    settings = dict(model=str(model_dir), adapter="ours", task="gen", gt_file=str(paths.gen_csv),
                    video_dir=str(paths.video_dir), output=str(pred_file), pred_mask_dir=str(mask_dir),
                    device="cpu", max_new_tokens=48, num_frames=num_frames, overwrite=True)  # fmt: skip
    summary = run_infer(InferOptions(**{**settings, **options}))
    if summary is None or summary.failed:
        failed = "no run" if summary is None else f"{summary.failed} of {summary.total} entries failed"
        raise EvqaError(f"inference of the demo model failed ({failed})")
    return pred_file, mask_dir


def score(paths, pred_file: Path, mask_dir: Path) -> dict:
    """Results JSON of one prediction file on the synthetic benchmark (evqa protocol, with masks)."""
    from evqa.eval.st_evidence import evaluate_gen

    return evaluate_gen(paths.gen_csv, str(pred_file), eval_masks=True, gt_mask_dir=str(paths.gt_mask_rle_dir),
                        pred_mask_dir=str(mask_dir))  # fmt: skip


def baseline_results(paths) -> dict[str, dict]:
    """{baseline name: results JSON} for the trivial baselines the generator wrote."""
    from evqa.data.synth.baselines import TRIVIAL_BASELINES, slug

    return {name: score(paths, *paths.baseline(slug(name))) for name in TRIVIAL_BASELINES}


def metric(results: dict, name: str) -> float:
    """One headline metric (percent) of a results JSON; 0 when the section is missing."""
    section, key = HEADLINE[name]
    return float((results.get(section) or {}).get(key) or 0.0)


def losing_metrics(model: dict, baselines: dict[str, dict]) -> list[str]:
    """'<metric> vs <baseline>' for every headline metric where the model does not beat a trivial baseline
    (the oracle, which uses the ground truth, is not trivial and is skipped)."""
    return [f"{m} vs {name}" for name, res in baselines.items() if not name.startswith("oracle")
            for m in HEADLINE if metric(model, m) <= metric(res, m)]  # fmt: skip


def backbone_of(name: str) -> DemoBackbone:
    """The demo settings of a backbone name (ConfigError naming the choices otherwise)."""
    if name not in BACKBONES:
        raise ConfigError(f"unknown demo backbone {name!r} (choose one of {', '.join(BACKBONES)})",
                          field="backbone")  # fmt: skip
    return BACKBONES[name]


def run_demo(
    out: str | Path,
    *,
    data_root: str,
    config: str = DEMO_CONFIG,
    overrides=(),
    infer_options=None,
    backbone: str = "qwen2_5_vl",
) -> dict:
    """Run every stage; writes `<out>/demo_results.json` = {"model": results, "baselines": {name: results}}.

    data_root: the synthetic data (None: the synth default root); generated there if missing.
    infer_options: further `InferOptions` fields for the inference stage (e.g. {"limit": 2}).
    backbone: a key of `BACKBONES`; its overrides come before `overrides`."""
    from evqa.data.synth import DEFAULTS, ensure_synth
    from evqa.io import write_json_atomic

    out = Path(out)
    settings = backbone_of(backbone)
    overrides = [*settings.overrides, *overrides]
    paths = ensure_synth(data_root, progress=True)
    log.info("[1/4] synthetic data ready under %s", paths.root)
    data = demo_config(config, overrides).get("data", {})
    model_dir = train_model(paths, out / "model", config, overrides, data.get("sources") or [])
    log.info("[2/4] trained model saved to %s", model_dir)
    num_frames = int(data.get("num_frames", 8))  # the frame count the model was trained with
    sampling = {}
    if settings.frames_like_training:  # every frame of the synthetic videos, then num_frames evenly spread
        sampling = {"num_frames": None, "fps": float(DEFAULTS["fps"]), "max_frames": num_frames}
    options = {**sampling, **dict(infer_options or {})}
    pred_file, mask_dir = infer(model_dir, paths, out, **{"num_frames": num_frames, **options})
    log.info("[3/4] predictions written to %s", pred_file)
    results = {"model": score(paths, pred_file, mask_dir), "baselines": baseline_results(paths)}
    write_json_atomic(out / "demo_results.json", results)
    log.info("[4/4] scores written to %s", out / "demo_results.json")
    return results
