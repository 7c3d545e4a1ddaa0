"""Uncertainty of a benchmark number: bootstrap confidence intervals, and paired tests between two runs.

Bootstrap (percentile method). The N entries are resampled with replacement, B times (default 1,000) from
`numpy.random.default_rng(seed)` (default seed 0, so a CI is reproducible): resample b takes the entries
`rng.integers(0, N, size=N)` — drawn in order b = 0, 1, ..., so the numbers do not depend on how the
resamples are batched in memory. The statistic is computed on every resample, and the CI is
[q(alpha/2), q(1 - alpha/2)] of those B values (numpy's default linear-interpolated quantile),
alpha = 1 - confidence. The point estimate is the statistic of the original entries. A resample whose
statistic is NaN (e.g. a ratio whose denominator happens to be 0) is left out and counted (`n_nan`).

Values are per entry, [N] (e.g. 0/1 correctness, IoU) or [N, K] (several numbers per entry that the
statistic combines, e.g. yes/no counts for accuracy = #yes / (#yes + #no)). A statistic maps a batch of
resamples [B, N, ...] (entries on axis 1) to [B]; `mean_statistic` and `ratio_of_sums` are the usual ones.
Scale: whatever the statistic returns (multiply by 100 in the statistic for x100 numbers).

Paired tests (two runs scored on the same N entries, entry i of `a` and of `b` being the same item):
- `paired_bootstrap_test`: both runs resampled with the *same* indices; delta = stat(a) - stat(b);
  two-sided p = (1 + #{|delta*_b - delta| >= |delta|}) / (B + 1) — the bootstrap distribution shifted to
  the null of no difference (Efron & Tibshirani 1993, §16), with the +1 that keeps p above 0.
- `mcnemar_test` for 0/1 correctness: n01 = #(a right, b wrong), n10 = #(a wrong, b right). With fewer
  than 25 discordant entries (n01 + n10 < 25) the exact two-sided binomial test
  (`scipy.stats.binomtest(n01, n01 + n10, 0.5)`); otherwise the chi-square test with continuity
  correction, X^2 = max(|n01 - n10| - 1, 0)^2 / (n01 + n10), 1 degree of freedom. No discordant entry
  -> p = 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

Statistic = Callable[[np.ndarray], np.ndarray]
N_RESAMPLES = 1000
SEED = 0
MCNEMAR_EXACT_BELOW = 25
_CHUNK_ELEMENTS = 1 << 22  # resampled values held in memory at once (~32 MB of float64)


def mean_statistic(sample: np.ndarray) -> np.ndarray:
    """Mean over entries: resamples [B, N] -> [B] (for values [N])."""
    if sample.ndim != 2:
        raise ValueError(f"mean_statistic needs values [N]; got resamples of shape {sample.shape[1:]}")
    return sample.mean(axis=1)


def ratio_of_sums(sample: np.ndarray) -> np.ndarray:
    """sum(column 0) / sum(column 1) over entries: [B, N, 2] -> [B] (NaN where the denominator is 0)."""
    if sample.ndim != 3 or sample.shape[2] != 2:
        raise ValueError(f"ratio_of_sums needs values [N, 2]; got resamples of shape {sample.shape[1:]}")
    num, den = sample[..., 0].sum(axis=1), sample[..., 1].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1), np.nan)


@dataclass(frozen=True)
class BootstrapCI:
    """A point estimate with its bootstrap CI; `as_dict()` is what results JSONs store."""

    estimate: float
    low: float
    high: float
    confidence: float
    n: int
    n_resamples: int
    n_nan: int
    seed: int
    method: str = "percentile"

    def as_dict(self) -> dict:
        return asdict(self)


def _as_values(values) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError("bootstrap needs at least one entry")
    return x


def _resampled_statistics(
    arrays: list[np.ndarray], statistic: Statistic, n_resamples: int, seed: int
) -> list[np.ndarray]:
    """The statistic of each array on the same B resamples of its entries: one [B] array per input."""
    n = arrays[0].shape[0]
    rng = np.random.default_rng(seed)
    per_entry = max(1, max(a[0].size for a in arrays))
    chunk = max(1, _CHUNK_ELEMENTS // (n * per_entry))
    out: list[list[np.ndarray]] = [[] for _ in arrays]
    done = 0
    while done < n_resamples:
        size = min(chunk, n_resamples - done)
        idx = rng.integers(0, n, size=(size, n))
        for k, a in enumerate(arrays):
            out[k].append(np.asarray(statistic(a[idx]), dtype=np.float64).reshape(size))
        done += size
    return [np.concatenate(parts) for parts in out]


def _check(n_resamples: int, confidence: float) -> None:
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def bootstrap_ci(
    values,
    statistic: Statistic = mean_statistic,
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = 0.95,
    seed: int = SEED,
) -> BootstrapCI:
    """Percentile bootstrap CI of `statistic` over per-entry `values` [N] or [N, K] (see module doc)."""
    _check(n_resamples, confidence)
    x = _as_values(values)
    estimate = float(np.asarray(statistic(x[None])).reshape(-1)[0])
    boot = _resampled_statistics([x], statistic, n_resamples, seed)[0]
    kept = boot[~np.isnan(boot)]
    alpha = 1.0 - confidence
    low, high = np.quantile(kept, [alpha / 2, 1 - alpha / 2]) if kept.size else (np.nan, np.nan)
    return BootstrapCI(
        estimate=estimate,
        low=float(low),
        high=float(high),
        confidence=confidence,
        n=int(x.shape[0]),
        n_resamples=n_resamples,
        n_nan=int(boot.size - kept.size),
        seed=seed,
    )


@dataclass(frozen=True)
class PairedBootstrap:
    """delta = stat(a) - stat(b), its percentile CI, and the two-sided paired-bootstrap p-value."""

    estimate_a: float
    estimate_b: float
    delta: float
    low: float
    high: float
    p_value: float
    confidence: float
    n: int
    n_resamples: int
    n_nan: int
    seed: int
    test: str = "paired_bootstrap"

    def as_dict(self) -> dict:
        return asdict(self)


def paired_bootstrap_test(
    a,
    b,
    statistic: Statistic = mean_statistic,
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = 0.95,
    seed: int = SEED,
) -> PairedBootstrap:
    """Paired bootstrap between two runs' per-entry values on the same entries (module doc)."""
    _check(n_resamples, confidence)
    xa, xb = _as_values(a), _as_values(b)
    if xa.shape != xb.shape:
        raise ValueError(f"paired runs need the same entries: shapes {xa.shape} and {xb.shape}")
    est_a = float(np.asarray(statistic(xa[None])).reshape(-1)[0])
    est_b = float(np.asarray(statistic(xb[None])).reshape(-1)[0])
    delta = est_a - est_b
    boot_a, boot_b = _resampled_statistics([xa, xb], statistic, n_resamples, seed)
    deltas = boot_a - boot_b
    kept = deltas[~np.isnan(deltas)]
    alpha = 1.0 - confidence
    low, high = np.quantile(kept, [alpha / 2, 1 - alpha / 2]) if kept.size else (np.nan, np.nan)
    # a resample exactly at the boundary counts as extreme; the slack absorbs float rounding of the means
    tol = 1e-12 * max(1.0, abs(delta))
    extreme = int(np.count_nonzero(np.abs(kept - delta) >= abs(delta) - tol))
    return PairedBootstrap(
        estimate_a=est_a,
        estimate_b=est_b,
        delta=delta,
        low=float(low),
        high=float(high),
        p_value=(1 + extreme) / (kept.size + 1),
        confidence=confidence,
        n=int(xa.shape[0]),
        n_resamples=n_resamples,
        n_nan=int(deltas.size - kept.size),
        seed=seed,
    )


@dataclass(frozen=True)
class McNemar:
    """McNemar's test on paired 0/1 correctness; `method` is "exact" (binomial) or "chi2" (corrected)."""

    n: int
    n01: int  # a right, b wrong
    n10: int  # a wrong, b right
    statistic: float | None  # the chi-square value (None for the exact test)
    p_value: float
    method: str
    test: str = "mcnemar"

    def as_dict(self) -> dict:
        return asdict(self)


def _as_flags(values, name: str) -> np.ndarray:
    x = np.asarray(values)
    if x.ndim != 1:
        raise ValueError(f"{name} must be one 0/1 value per entry, got shape {x.shape}")
    if not np.all((x == 0) | (x == 1)):
        raise ValueError(f"{name} must hold 0/1 (or bool) correctness values")
    return x.astype(bool)


def mcnemar_test(correct_a, correct_b, method: str = "auto") -> McNemar:
    """McNemar's test between two runs' correctness on the same entries.

    Args:
        correct_a, correct_b: 0/1 or bool [N], entry i the same item in both runs.
        method: "auto" (exact below 25 discordant entries, else chi-square), "exact" or "chi2".
    """
    if method not in ("auto", "exact", "chi2"):
        raise ValueError(f"method must be auto, exact or chi2, got {method!r}")
    a, b = _as_flags(correct_a, "correct_a"), _as_flags(correct_b, "correct_b")
    if a.shape != b.shape:
        raise ValueError(f"paired runs need the same entries: {a.size} and {b.size} values")
    n01, n10 = int(np.count_nonzero(a & ~b)), int(np.count_nonzero(~a & b))
    discordant = n01 + n10
    if method == "auto":
        method = "exact" if discordant < MCNEMAR_EXACT_BELOW else "chi2"
    if discordant == 0:
        return McNemar(int(a.size), n01, n10, None if method == "exact" else 0.0, 1.0, method)
    if method == "exact":
        p = stats.binomtest(n01, discordant, 0.5, alternative="two-sided").pvalue
        return McNemar(int(a.size), n01, n10, None, float(p), method)
    chi2 = max(abs(n01 - n10) - 1, 0) ** 2 / discordant  # clamped: n01 == n10 is X^2 = 0, p = 1
    return McNemar(int(a.size), n01, n10, float(chi2), float(stats.chi2.sf(chi2, df=1)), method)
