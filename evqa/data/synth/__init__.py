"""ST-Evidence-Synth: a deterministic, learnable evidence-backed video QA benchmark in the real formats.

Each clip shows a coloured shape (and often a grey distractor shape) on a dark background; a question
asks the colour of the one evidence object. The answer needs the video, the temporal evidence is the interval when the object
is visible and the spatial evidence its exact per-frame masks. See data/README.md for the task and layout.

    from evqa.data.synth import ensure_synth
    paths = ensure_synth()            # data/synth, generated on first use
    paths.gen_csv, paths.video_dir, paths.gt_mask_rle_dir, paths.instruct_mask_dir, ...
"""

from evqa.data.synth.generate import DEFAULTS, ensure_synth, generate
from evqa.data.synth.paths import DEFAULT_ROOT, SynthPaths, default_root
from evqa.data.synth.summary import SynthSummary

__all__ = [
    "DEFAULTS",
    "DEFAULT_ROOT",
    "SynthPaths",
    "SynthSummary",
    "default_root",
    "ensure_synth",
    "generate",
]
