"""Training sources, one per dataset, each yielding `SourceItem`s (see `base.py`).

`build_source(spec)` turns one entry of a config's `data.sources` list — `{"type": <name>, <constructor
arguments>...}` — into a source; modules are imported only when their type is used.
"""

from __future__ import annotations

import importlib

from evqa.errors import ConfigError
from evqa.training.sources.base import FrameRef, MaskTrack, Source, SourceItem, TrainExample, load_example

# type name -> "module:class"
SOURCE_TYPES: dict[str, str] = {
    "st_evidence_qa": "st_evidence:StEvidenceSource",
    "st_evidence_mask": "st_evidence:StEvidenceSource",
    "st_evidence_vicas": "st_evidence:StEvidenceVicasSource",
    "revos": "ref_vos_rle:RevosSource",
    "mevis": "ref_vos_rle:MevisSource",
    "ref_youtube_vos": "ref_vos_palette:RefYoutubeVosSource",
    "ref_davis17": "ref_vos_palette:RefDavis17Source",
    "lvvis": "lvvis:LvvisSource",
    "ref_sav": "ref_sav:RefSavSource",
    "groundmore": "groundmore:GroundmoreSource",
    "vicas": "vicas:VicasSource",
    "llava_instruct": "conversations:LlavaInstructSource",
    "videogpt_plus": "conversations:VideoGptPlusSource",
    "video_qa": "video_qa:VideoQASource",
}

MIXTURE_KEYS = ("type", "repeat", "ratio")


def build_source(spec: dict) -> Source:
    """Build one source from its config entry (mixture keys `repeat` / `ratio` are ignored here)."""
    kind = spec.get("type")
    if kind not in SOURCE_TYPES:
        raise ConfigError(f"unknown source type {kind!r}; known: {', '.join(SOURCE_TYPES)}", field="type")
    module_name, class_name = SOURCE_TYPES[kind].split(":")
    cls = getattr(importlib.import_module(f"evqa.training.sources.{module_name}"), class_name)
    kwargs = {k: v for k, v in spec.items() if k not in MIXTURE_KEYS}
    if kind == "st_evidence_mask" and not kwargs.get("mask_dir"):
        raise ConfigError("st_evidence_mask needs mask_dir", entry=kind, field="mask_dir")
    if kind == "st_evidence_qa":
        kwargs.pop("mask_dir", None)
        kwargs.pop("clip_to_annotated", None)
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ConfigError(f"bad arguments for source {kind!r}: {err}", entry=kind) from None


__all__ = [
    "SOURCE_TYPES",
    "FrameRef",
    "MaskTrack",
    "Source",
    "SourceItem",
    "TrainExample",
    "build_source",
    "load_example",
]
