"""Evidence-backed accuracy: NExT-GQA's Acc@GQA generalised to masks.

An entry counts only if its answer is correct AND its temporal evidence holds (IoP >= tau_t) AND, when masks
are scored, its spatial evidence holds (J >= tau_m). Thresholds are inclusive, like TIoP@0.5. A missing
evidence score (None or NaN: no segments predicted, a failed item, an unscorable mask) counts as failed
evidence, never as passed. The fraction is over all N entries given, on a 0-1 scale (x100 is the scorer's
choice), so it is never above plain accuracy over the same entries.

An entry whose ground truth has no evidence of a kind (no GT segments, no GT masks) has nothing to check for
that kind: pass `has_gt_t` / `has_gt_j` (bool per entry) and the condition is not applied to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_IOP_THRESHOLD = 0.5
DEFAULT_J_THRESHOLD = 0.5


@dataclass(frozen=True)
class EvidenceAccuracy:
    """`accuracy` in [0, 1]; `passed` [N] bool per entry; counts of missing evidence scores."""

    accuracy: float
    passed: np.ndarray
    n: int
    n_missing_iop: int
    n_missing_j: int
    iop_threshold: float
    j_threshold: float | None

    def as_dict(self) -> dict:
        """JSON-ready summary (the per-entry flags as a list of bools)."""
        return {
            "accuracy": self.accuracy,
            "n": self.n,
            "n_passed": int(self.passed.sum()),
            "n_missing_iop": self.n_missing_iop,
            "n_missing_j": self.n_missing_j,
            "iop_threshold": self.iop_threshold,
            "j_threshold": self.j_threshold,
            "passed": self.passed.tolist(),
        }


def _scores(values: Sequence[float | None], n: int, name: str) -> np.ndarray:
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} values for {n} entries")
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _applies(flags: Sequence[bool] | None, n: int, name: str) -> np.ndarray:
    if flags is None:
        return np.ones(n, dtype=bool)
    if len(flags) != n:
        raise ValueError(f"{name} has {len(flags)} values for {n} entries")
    return np.array([bool(f) for f in flags], dtype=bool)


def evidence_backed_accuracy(
    correct: Sequence[bool],
    iop: Sequence[float | None],
    j: Sequence[float | None] | None = None,
    *,
    iop_threshold: float = DEFAULT_IOP_THRESHOLD,
    j_threshold: float = DEFAULT_J_THRESHOLD,
    has_gt_t: Sequence[bool] | None = None,
    has_gt_j: Sequence[bool] | None = None,
) -> EvidenceAccuracy:
    """Fraction of entries that are correct with evidence (module doc).

    Args:
        correct: answer correctness per entry [N].
        iop: temporal IoP per entry in [0, 1] [N]; None / NaN = missing (fails).
        j: mask J per entry in [0, 1] [N] when masks are scored, else None (no mask condition).
        iop_threshold, j_threshold: the inclusive thresholds tau_t and tau_m.
        has_gt_t, has_gt_j: per entry, whether its GT has segments / masks (default: all have); where
            not, that condition is not applied (and its missing score is not counted as missing).
    """
    ok = np.array([bool(c) for c in correct], dtype=bool)
    n = ok.size
    t = _scores(iop, n, "iop")
    need_t = _applies(has_gt_t, n, "has_gt_t")
    passed = ok & ((t >= iop_threshold) | ~need_t)  # NaN >= x is False: missing evidence fails
    n_missing_j = 0
    if j is not None:
        m = _scores(j, n, "j")
        need_j = _applies(has_gt_j, n, "has_gt_j")
        passed &= (m >= j_threshold) | ~need_j
        n_missing_j = int((np.isnan(m) & need_j).sum())
    return EvidenceAccuracy(
        accuracy=float(passed.mean()) if n else float("nan"),
        passed=passed,
        n=int(n),
        n_missing_iop=int((np.isnan(t) & need_t).sum()),
        n_missing_j=n_missing_j,
        iop_threshold=float(iop_threshold),
        j_threshold=None if j is None else float(j_threshold),
    )
