"""Video-quality agreement between predicted scores and MOS: SRCC, KRCC, PLCC (raw and after the VQEG
4-parameter logistic fit) and RMSE after the fit. scipy does the statistics and the fit.

- SRCC: Spearman's rho (`scipy.stats.spearmanr`, average ranks for ties).
- KRCC: Kendall's tau-b (`scipy.stats.kendalltau`, the tie-corrected variant).
- PLCC: Pearson's r of the raw predictions (what VQA² reports) and, as `PLCC_fit`, of the predictions mapped
  to the MOS scale by the VQEG logistic
      f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2
  fitted by least squares (`scipy.optimize.curve_fit`) from the usual start
  b1 = max(MOS), b2 = min(MOS), b3 = mean(x), b4 = std(x) / 4 (scale-free, unlike a fixed 0.5: our
  scores live in [0.2, 1.0], MOS in whatever unit a dataset uses). `RMSE_fit` = sqrt(mean((f(x) - MOS)^2)),
  in MOS units.
- Fallback: when the logistic cannot be fitted (fewer than 4 entries, curve_fit does not converge, or it
  returns non-finite parameters) the mapping is the least-squares straight line instead, and the result
  says so (`fit: "linear"`). A line keeps |PLCC| unchanged, so PLCC_fit then equals |PLCC| and RMSE_fit is
  the regression's residual RMSE — an honest number, never a fabricated perfect fit.
- A constant prediction (or constant MOS) has no correlation: SRCC, KRCC, PLCC and PLCC_fit are NaN, and
  RMSE_fit is the RMSE of predicting mean(MOS) (`fit: "constant"`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy import optimize, stats


def logistic4(x, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    """VQEG 4-parameter logistic: (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2, elementwise."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):  # exp overflow -> inf -> the lower asymptote b2, which is right
        return (b1 - b2) / (1.0 + np.exp(-(x - b3) / np.abs(b4))) + b2


def _as_pair(pred: Sequence[float], mos: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(pred, dtype=np.float64).ravel(), np.asarray(mos, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"{x.size} predictions but {y.size} MOS values")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("predictions and MOS must be finite numbers")
    return x, y


def fit_logistic(pred: Sequence[float], mos: Sequence[float]) -> tuple[np.ndarray, str, np.ndarray]:
    """Map predictions onto the MOS scale. Returns (fitted values [N], kind, parameters) where kind is
    "logistic" (parameters b1..b4), "linear" (slope, intercept: the fallback) or "constant" (mean)."""
    x, y = _as_pair(pred, mos)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return np.full_like(y, y.mean()), "constant", np.array([y.mean()])
    if x.size >= 4:
        start = [y.max(), y.min(), x.mean(), x.std() / 4.0]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optimize.OptimizeWarning)
                params, _ = optimize.curve_fit(logistic4, x, y, p0=start, maxfev=20000)
            fitted = logistic4(x, *params)
            if np.all(np.isfinite(params)) and np.all(np.isfinite(fitted)):
                return fitted, "logistic", params
        except (RuntimeError, ValueError, FloatingPointError):
            pass
    slope, intercept = np.polyfit(x, y, 1)
    return slope * x + intercept, "linear", np.array([slope, intercept])


def _corr(fn, x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(fn(x, y).statistic)


def srcc(pred: Sequence[float], mos: Sequence[float]) -> float:
    """Spearman rank correlation (NaN for constant input)."""
    return _corr(stats.spearmanr, *_as_pair(pred, mos))


def krcc(pred: Sequence[float], mos: Sequence[float]) -> float:
    """Kendall's tau-b (NaN for constant input)."""
    return _corr(stats.kendalltau, *_as_pair(pred, mos))


def plcc(pred: Sequence[float], mos: Sequence[float]) -> float:
    """Pearson linear correlation of the raw predictions (NaN for constant input)."""
    return _corr(stats.pearsonr, *_as_pair(pred, mos))


def quality_correlations(pred: Sequence[float], mos: Sequence[float]) -> dict:
    """All VQA metrics of one dataset: {"n", "SRCC", "KRCC", "PLCC", "PLCC_fit", "RMSE_fit", "fit"}.

    Args:
        pred: predicted quality per video [N] (any scale, e.g. the level-word score in [0.2, 1]).
        mos: mean opinion score per video [N] (the dataset's own scale).
    Correlations are in [-1, 1]; RMSE_fit is in MOS units.
    """
    x, y = _as_pair(pred, mos)
    fitted, kind, _ = fit_logistic(x, y)
    return {
        "n": int(x.size),
        "SRCC": _corr(stats.spearmanr, x, y),
        "KRCC": _corr(stats.kendalltau, x, y),
        "PLCC": _corr(stats.pearsonr, x, y),
        "PLCC_fit": _corr(stats.pearsonr, fitted, y),
        "RMSE_fit": float(np.sqrt(np.mean((fitted - y) ** 2))),
        "fit": kind,
    }
