"""The summary `evqa synth` prints: what was written, and how the trivial baselines score."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from evqa.data.synth.paths import SynthPaths


@dataclass
class SynthSummary:
    """Counts of what a generation wrote, its wall time (s), and the baselines' results JSONs by name."""

    root: Path
    counts: dict[str, int]
    seconds: float
    baselines: dict[str, tuple[Path, Path]] = field(default_factory=dict)
    scores: dict[str, dict] = field(default_factory=dict)

    @property
    def paths(self) -> SynthPaths:
        """The SynthPaths of the generated root."""
        return SynthPaths(self.root)

    def format(self) -> str:
        """Human-readable report: counts, then the comparison table of the scored baselines."""
        lines = [f"ST-Evidence-Synth written to {self.root} in {self.seconds:.1f} s"]
        width = max(len(k) for k in self.counts)
        lines += [f"  {key:<{width}}  {value}" for key, value in self.counts.items()]
        p = self.paths
        lines += [
            "",
            f"  benchmark  {p.gen_csv}",
            f"  GT masks   {p.gt_mask_png_dir} (PNG), {p.gt_mask_rle_dir} (RLE)",
            f"  MCQ        {p.mcq_csv}",
            f"  instruct   {p.instruct_qa_csv}, {p.instruct_mask_dir}",
        ]
        if self.scores:
            from evqa.eval.report import format_comparison

            lines += [
                "",
                "Trivial baselines (scored against the generated ground truth):",
                format_comparison(self.scores),
            ]
        elif self.baselines:
            lines += ["", "Baseline predictions (not scored):"]
            lines += [f"  {name}: {pred}" for name, (pred, _) in self.baselines.items()]
        return "\n".join(lines)


def score_baselines(
    paths: SynthPaths, baselines: dict[str, tuple[Path, Path]], *, progress: bool = False
) -> dict[str, dict]:
    """Score each baseline's predictions and RLE masks against the benchmark GT (evqa protocol).

    Returns {name: results JSON of evqa.eval.st_evidence.evaluate_gen}.
    """
    from evqa.eval.st_evidence import evaluate_gen

    return {
        name: evaluate_gen(
            paths.gen_csv,
            str(pred),
            eval_masks=True,
            gt_mask_dir=str(paths.gt_mask_rle_dir),
            pred_mask_dir=str(masks),
            progress=progress,
        )
        for name, (pred, masks) in baselines.items()
    }
