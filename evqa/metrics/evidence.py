"""Evidence-backed accuracy: NExT-GQA's Acc@GQA generalised to masks.

An entry counts only if its answer is correct AND its temporal evidence holds (IoP >= tau_t) AND, when masks
are scored, its spatial evidence holds (J >= tau_m). Thresholds are inclusive, like TIoP@0.5. A missing
evidence score (None or NaN: no segments predicted, a failed item, an unscorable mask) counts as failed
evidence, never as passed. The fraction is over all N entries given, on a 0-1 scale (x100 is the scorer's
choice), so it is never above plain accuracy over the same entries.
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


def evidence_backed_accuracy(
    correct: Sequence[bool],
    iop: Sequence[float | None],
    j: Sequence[float | None] | None = None,
    *,
    iop_threshold: float = DEFAULT_IOP_THRESHOLD,
    j_threshold: float = DEFAULT_J_THRESHOLD,
) -> EvidenceAccuracy:
    """Fraction of entries that are correct with evidence (module doc).

    Args:
        correct: answer correctness per entry [N].
        iop: temporal IoP per entry in [0, 1] [N]; None / NaN = missing (fails).
        j: mask J per entry in [0, 1] [N] when masks are scored, else None (no mask condition).
        iop_threshold, j_threshold: the inclusive thresholds tau_t and tau_m.
    """
    ok = np.array([bool(c) for c in correct], dtype=bool)
    n = ok.size
    t = _scores(iop, n, "iop")
    passed = ok & (t >= iop_threshold)  # NaN >= x is False: missing evidence fails
    n_missing_j = 0
    if j is not None:
        m = _scores(j, n, "j")
        passed &= m >= j_threshold
        n_missing_j = int(np.isnan(m).sum())
    return EvidenceAccuracy(
        accuracy=float(passed.mean()) if n else float("nan"),
        passed=passed,
        n=int(n),
        n_missing_iop=int(np.isnan(t).sum()),
        n_missing_j=n_missing_j,
        iop_threshold=float(iop_threshold),
        j_threshold=None if j is None else float(j_threshold),
    )
