"""Experiment YAML -> the three argument dataclasses, with `section.key=value` overrides.

An experiment file has three sections mirroring the dataclasses:
    model:    {preset: 3b, sam2: base, ...}              -> ModelArguments
    data:     {num_frames: 8, sources: [...]}            -> DataArguments
    training: {output_dir: work_dirs/3b/..., ...}        -> TrainingArguments (HF fields + ours)
Overrides on the command line use dotted keys and YAML values: `training.max_steps=20 model.sam2=large`.
`model.kind` picks the dataclasses: `evqa` (default, the EVQA model) or `hf_vlm` (a plain transformers VLM,
`evqa.training.hf_vlm.arguments`). `training.stage: dpo` picks the DPO dataclasses
(`evqa.training.dpo_args`, for hf_vlm `evqa.training.dpo_hf_vlm`).
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import yaml

from evqa.errors import ConfigError
from evqa.training.arguments import DataArguments, ModelArguments, TrainingArguments

SECTIONS = {"model": ModelArguments, "data": DataArguments, "training": TrainingArguments}
# YAML 1.1 reads "5e-4" (no dot) as a string; every number-looking string becomes a float
_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _number(value):
    return float(value) if isinstance(value, str) and _FLOAT.match(value.strip()) else value


def load_yaml(path: str | os.PathLike) -> dict:
    """Read one experiment YAML (a mapping with only the known sections)."""
    try:
        cfg = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError("config file not found", path=path) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"not valid YAML ({err})", path=path) from None
    cfg = cfg or {}
    if not isinstance(cfg, dict):
        raise ConfigError("top level must be a mapping", path=path)
    unknown = set(cfg) - set(SECTIONS)
    if unknown:
        raise ConfigError(f"unknown section(s) {sorted(unknown)}; expected {list(SECTIONS)}", path=path)
    return cfg


def apply_overrides(cfg: dict, overrides: list[str]) -> dict:
    """Set `section.key=value` pairs (value parsed as YAML, so `1e-4`, `true`, `[a, b]` work)."""
    for text in overrides:
        key, sep, value = text.partition("=")
        parts = key.strip().split(".")
        if not sep or len(parts) != 2 or parts[0] not in SECTIONS:
            raise ConfigError(
                f"override {text!r} must look like section.key=value with section in {list(SECTIONS)}",
                field=key,
            )
        cfg.setdefault(parts[0], {})[parts[1]] = yaml.safe_load(value)
    return cfg


def _build(cls, values: dict, section: str, path):
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in section '{section}'", path=path, field=unknown[0])
    values = {k: _number(v) for k, v in values.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"invalid '{section}' settings: {err}", path=path, field=section) from None


def sections_of(cfg: dict, path=None) -> dict:
    """{section: dataclass} for the config's `model.kind`."""
    kind = (cfg.get("model") or {}).get("kind", "evqa")
    stage = (cfg.get("training") or {}).get("stage", "sft")
    if stage not in ("sft", "dpo"):
        raise ConfigError(
            f"unknown training.stage {stage!r}; expected sft or dpo", path=path, field="training.stage"
        )
    if stage == "dpo" and kind == "hf_vlm":
        from evqa.training.dpo_hf_vlm import SECTIONS as HF_VLM_DPO_SECTIONS

        return HF_VLM_DPO_SECTIONS
    if stage == "dpo" and kind == "evqa":
        from evqa.training.dpo_args import SECTIONS as DPO_SECTIONS

        return DPO_SECTIONS
    if kind == "evqa":
        return SECTIONS
    if kind == "hf_vlm":
        from evqa.training.hf_vlm.arguments import SECTIONS as HF_VLM_SECTIONS

        return HF_VLM_SECTIONS
    raise ConfigError(f"unknown model.kind {kind!r}; expected evqa or hf_vlm", path=path, field="model.kind")


def parse_config(path: str | os.PathLike, overrides: list[str] | None = None):
    """YAML + overrides -> (ModelArguments, DataArguments, TrainingArguments) of the config's model.kind."""
    cfg = apply_overrides(load_yaml(path), list(overrides or []))
    sections = sections_of(cfg, path)
    return tuple(_build(cls, dict(cfg.get(name) or {}), name, path) for name, cls in sections.items())
