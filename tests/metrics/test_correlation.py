"""SRCC / KRCC / PLCC / logistic-fitted PLCC and RMSE against values counted by hand."""

import math

import numpy as np
import pytest
from scipy import optimize

from evqa.metrics import correlation as corr


def test_spearman_and_kendall_counted_by_hand():
    x, y = [1, 2, 3, 4, 5], [2, 1, 4, 3, 5]
    # rank differences d = [-1, 1, -1, 1, 0], sum d^2 = 4 -> rho = 1 - 6*4 / (5 * (25 - 1)) = 0.8
    assert corr.srcc(x, y) == pytest.approx(0.8)
    # 10 pairs; discordant: (1,2) and (3,4) -> tau = (8 - 2) / 10
    assert corr.krcc(x, y) == pytest.approx(0.6)
    # reversed order: every pair discordant
    assert corr.srcc(x, x[::-1]) == pytest.approx(-1.0)
    assert corr.krcc(x, x[::-1]) == pytest.approx(-1.0)


def test_kendall_tau_b_with_a_tie():
    # x ties entries 2 and 3: 6 pairs, 5 concordant, 0 discordant, 1 tied in x only
    # tau-b = (5 - 0) / sqrt((6 - 1) * (6 - 0)) = 5 / sqrt(30)
    assert corr.krcc([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(5 / math.sqrt(30))
    # Spearman with average ranks: x ranks [1, 2.5, 2.5, 4], y ranks [1, 2, 3, 4]
    # Pearson of the ranks: dx = [-1.5, 0, 0, 1.5], dy = [-1.5, -.5, .5, 1.5]; cov = 4.5,
    # |dx| = sqrt(4.5), |dy| = sqrt(5) -> 4.5 / sqrt(22.5)
    assert corr.srcc([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(22.5))


def test_pearson_hand_computed():
    # dx = [-1, 0, 1], dy = [-1, 1, 0]: sum dx*dy = 1, |dx|^2 = |dy|^2 = 2 -> r = 1/2
    assert corr.plcc([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)


def test_logistic_series_is_recovered_exactly():
    x = np.linspace(0.2, 1.0, 30)
    mos = corr.logistic4(x, 90.0, 10.0, 0.6, 0.08)
    out = corr.quality_correlations(x, mos)
    assert out["fit"] == "logistic" and out["n"] == 30
    assert out["SRCC"] == pytest.approx(1.0) and out["KRCC"] == pytest.approx(1.0)
    assert out["PLCC"] < 0.99  # the raw relation is an S-curve, not a line
    assert out["PLCC_fit"] == pytest.approx(1.0, abs=1e-9)
    assert out["RMSE_fit"] == pytest.approx(0.0, abs=1e-6)
    fitted, kind, params = corr.fit_logistic(x, mos)
    np.testing.assert_allclose(fitted, mos, atol=1e-6)
    # b4 enters only as |b4|
    np.testing.assert_allclose(np.abs(params), [90.0, 10.0, 0.6, 0.08], rtol=1e-5)


def test_decreasing_logistic_is_fitted_too():
    x = np.linspace(0.0, 1.0, 25)
    mos = corr.logistic4(x, 1.0, 5.0, 0.5, 0.1)  # b1 < b2: decreasing
    out = corr.quality_correlations(x, mos)
    assert out["fit"] == "logistic"
    assert out["SRCC"] == pytest.approx(-1.0)
    assert out["PLCC_fit"] == pytest.approx(1.0, abs=1e-9)
    assert out["RMSE_fit"] == pytest.approx(0.0, abs=1e-6)


def test_linear_fallback_when_the_fit_fails(monkeypatch):
    # three entries: too few for four parameters -> least-squares line
    # x = [1, 2, 3], y = [1, 3, 2]: slope = 1/2, intercept = 1 -> fitted [1.5, 2, 2.5]
    # residuals [-0.5, 1, -0.5] -> RMSE = sqrt(1.5 / 3)
    out = corr.quality_correlations([1, 2, 3], [1, 3, 2])
    assert out["fit"] == "linear"
    assert out["PLCC_fit"] == pytest.approx(0.5)
    assert out["RMSE_fit"] == pytest.approx(math.sqrt(0.5))

    def no_convergence(*args, **kwargs):
        raise RuntimeError("Optimal parameters not found")

    monkeypatch.setattr(optimize, "curve_fit", no_convergence)
    x, y = [1, 2, 3, 4, 5], [5, 4, 4, 2, 1]
    out = corr.quality_correlations(x, y)
    assert out["fit"] == "linear"
    # a line keeps |PLCC|
    assert out["PLCC"] < 0 and out["PLCC_fit"] == pytest.approx(-out["PLCC"])
    slope, intercept = np.polyfit(x, y, 1)
    residual = np.asarray(y) - (slope * np.asarray(x) + intercept)
    assert out["RMSE_fit"] == pytest.approx(math.sqrt(np.mean(residual**2)))


def test_constant_predictions_have_no_correlation():
    out = corr.quality_correlations([0.6, 0.6, 0.6, 0.6], [1, 2, 3, 6])
    assert out["fit"] == "constant"
    assert all(math.isnan(out[k]) for k in ("SRCC", "KRCC", "PLCC", "PLCC_fit"))
    # RMSE of predicting mean 3: sqrt((4 + 1 + 0 + 9) / 4)
    assert out["RMSE_fit"] == pytest.approx(math.sqrt(14 / 4))


def test_input_errors():
    with pytest.raises(ValueError, match="3 predictions but 2 MOS"):
        corr.srcc([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="finite"):
        corr.quality_correlations([1, float("nan"), 3], [1, 2, 3])
