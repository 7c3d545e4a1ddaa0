"""Bootstrap CIs, the paired bootstrap and McNemar: exact seeded numbers, an independent slow loop, and
binomial sums by hand."""

import io
import math

import numpy as np
import pytest

from evqa.metrics import stats as st

# A fixed per-entry correctness file (20 entries, 14 correct: accuracy 70 %).
CORRECTNESS_CSV = """entry_id,correct
e00,1
e01,0
e02,1
e03,1
e04,0
e05,1
e06,1
e07,1
e08,0
e09,1
e10,0
e11,1
e12,1
e13,1
e14,1
e15,0
e16,1
e17,1
e18,0
e19,1
"""


def _correct():
    return np.loadtxt(io.StringIO(CORRECTNESS_CSV), delimiter=",", skiprows=1, usecols=1)


def _quantile_linear(sorted_values, q):
    """Quantile with linear interpolation between order statistics, written out (numpy's default rule)."""
    h = (len(sorted_values) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])


def _slow_bootstrap(values, statistic, n_resamples=1000, seed=0):
    """One resample at a time in a Python loop: the independent implementation."""
    rng = np.random.default_rng(seed)
    values = np.asarray(values, dtype=float)
    out = []
    for _ in range(n_resamples):
        idx = rng.integers(0, len(values), size=len(values))
        out.append(statistic([values[i] for i in idx]))
    return out


def accuracy_x100(sample):
    return 100 * sample.mean(axis=1)


def test_accuracy_ci_on_a_fixed_file():
    correct = _correct()
    assert correct.shape == (20,) and correct.sum() == 14
    ci = st.bootstrap_ci(correct, accuracy_x100)
    # the numbers this implementation gives (seed 0, 1,000 resamples, percentile method)
    assert (ci.estimate, ci.low, ci.high) == (70.0, 50.0, 90.0)
    assert (ci.n, ci.n_resamples, ci.seed, ci.n_nan, ci.method) == (20, 1000, 0, 0, "percentile")
    # ... and an independent loop with the same generator gives the same CI
    boot = sorted(_slow_bootstrap(correct, lambda s: 100 * sum(s) / len(s)))
    assert _quantile_linear(boot, 0.025) == pytest.approx(ci.low)
    assert _quantile_linear(boot, 0.975) == pytest.approx(ci.high)
    # hand check: a resample's correct count is Binomial(20, 0.7); its 2.5 % / 97.5 % quantiles are
    # 10 and 18 correct (P(X <= 9) < .025 <= P(X <= 10), P(X <= 17) < .975 <= P(X <= 18)) -> 50 % and 90 %
    cdf = np.cumsum([math.comb(20, k) * 0.7**k * 0.3 ** (20 - k) for k in range(21)])
    assert cdf[9] < 0.025 <= cdf[10] and cdf[17] < 0.975 <= cdf[18]
    assert ci.as_dict()["low"] == 50.0


def test_default_statistic_is_the_mean_and_constant_values_have_a_point_ci():
    ci = st.bootstrap_ci([0.25] * 7)
    assert (ci.estimate, ci.low, ci.high) == (0.25, 0.25, 0.25)
    iou = np.array([0.1, 0.9, 0.5, 0.3, 0.7, 0.0, 1.0, 0.45])
    ci = st.bootstrap_ci(iou, confidence=0.9, n_resamples=400, seed=3)
    boot = sorted(_slow_bootstrap(iou, lambda s: sum(s) / len(s), n_resamples=400, seed=3))
    assert ci.estimate == pytest.approx(iou.mean())
    assert ci.low == pytest.approx(_quantile_linear(boot, 0.05))
    assert ci.high == pytest.approx(_quantile_linear(boot, 0.95))
    assert ci.low < ci.estimate < ci.high


def test_two_column_values_ratio_of_sums_and_nan_resamples():
    # judge verdicts: yes -> [1, 1], no -> [0, 1], judge error (excluded) -> [0, 0]
    verdicts = np.array([[1, 1], [0, 1], [1, 1], [0, 0], [1, 1], [0, 1], [0, 0], [1, 1]], dtype=float)
    ci = st.bootstrap_ci(verdicts, st.ratio_of_sums)
    assert ci.estimate == pytest.approx(4 / 6)

    def slow_ratio(rows):
        den = sum(r[1] for r in rows)
        return sum(r[0] for r in rows) / den if den else float("nan")

    boot = _slow_bootstrap(verdicts, slow_ratio)
    kept = sorted(b for b in boot if not math.isnan(b))
    assert ci.n_nan == len(boot) - len(kept)
    assert ci.low == pytest.approx(_quantile_linear(kept, 0.025))
    assert ci.high == pytest.approx(_quantile_linear(kept, 0.975))
    # two entries, one all-excluded: about a quarter of resamples draw it twice -> NaN, left out and counted
    ci = st.bootstrap_ci([[1, 1], [0, 0]], st.ratio_of_sums)
    assert 180 < ci.n_nan < 320 and (ci.low, ci.high) == (1.0, 1.0)


def test_results_do_not_depend_on_memory_chunking(monkeypatch):
    values = np.random.default_rng(1).random(50)
    whole = st.bootstrap_ci(values)
    monkeypatch.setattr(st, "_CHUNK_ELEMENTS", 7 * 50)  # 7 resamples per batch
    assert st.bootstrap_ci(values) == whole


def test_paired_bootstrap_against_a_slow_loop():
    a = np.array([1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1], dtype=float)
    b = np.array([1, 0, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0], dtype=float)
    res = st.paired_bootstrap_test(a, b)
    assert res.delta == pytest.approx(9 / 12 - 5 / 12)
    rng = np.random.default_rng(0)
    deltas = []
    for _ in range(1000):
        idx = rng.integers(0, 12, size=12)
        deltas.append(sum(a[i] for i in idx) / 12 - sum(b[i] for i in idx) / 12)
    extreme = sum(1 for d in deltas if abs(d - res.delta) >= abs(res.delta) - 1e-12)
    assert res.p_value == pytest.approx((1 + extreme) / 1001)
    assert res.low == pytest.approx(_quantile_linear(sorted(deltas), 0.025))
    assert res.high == pytest.approx(_quantile_linear(sorted(deltas), 0.975))
    assert res.p_value < 0.05  # b is never right where a is wrong


def test_paired_bootstrap_identical_runs_have_p_one():
    a = np.array([0.2, 0.4, 0.9, 0.1])
    res = st.paired_bootstrap_test(a, a.copy())
    assert (res.delta, res.low, res.high, res.p_value) == (0.0, 0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="same entries"):
        st.paired_bootstrap_test(a, a[:3])


def _binom_two_sided(k, n):
    """Exact two-sided McNemar p for p = 1/2: 2 * P(X <= min(k, n - k)), capped at 1, summed by hand."""
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1)) / 2**n
    return min(1.0, 2 * tail)


def _pairs(n11, n01, n10, n00):
    a = [1] * n11 + [1] * n01 + [0] * n10 + [0] * n00
    b = [1] * n11 + [0] * n01 + [1] * n10 + [0] * n00
    return a, b


def test_mcnemar_exact_binomial_sums():
    # n01 = 1, n10 = 6: p = 2 * (C(7,0) + C(7,1)) / 2^7 = 16 / 128
    res = st.mcnemar_test(*_pairs(10, 1, 6, 3))
    assert (res.n, res.n01, res.n10, res.method, res.statistic) == (20, 1, 6, "exact", None)
    assert res.p_value == pytest.approx(16 / 128)
    # n01 = 0, n10 = 5: 2 / 32
    assert st.mcnemar_test(*_pairs(0, 0, 5, 0)).p_value == pytest.approx(2 / 32)
    # balanced discordance -> 1
    assert st.mcnemar_test(*_pairs(2, 3, 3, 2)).p_value == pytest.approx(1.0)
    # 24 discordant entries is still exact
    res = st.mcnemar_test(*_pairs(0, 4, 20, 0))
    assert res.method == "exact" and res.p_value == pytest.approx(_binom_two_sided(4, 24))
    assert res.p_value == pytest.approx(2 * (1 + 24 + 276 + 2024 + 10626) / 2**24)
    assert st.mcnemar_test(*_pairs(5, 0, 0, 5)).p_value == 1.0


def test_mcnemar_chi_square_for_many_discordant_entries():
    # n01 = 30, n10 = 10: X^2 = (20 - 1)^2 / 40 = 9.025; chi2(1) survival = erfc(sqrt(X^2 / 2))
    res = st.mcnemar_test(*_pairs(50, 30, 10, 10))
    assert res.method == "chi2" and res.statistic == pytest.approx(9.025)
    assert res.p_value == pytest.approx(math.erfc(math.sqrt(9.025 / 2)))
    # 25 discordant entries switches to chi-square; forced exact still available
    res = st.mcnemar_test(*_pairs(0, 5, 20, 0))
    assert res.method == "chi2" and res.statistic == pytest.approx(14**2 / 25)
    exact = st.mcnemar_test(*_pairs(0, 5, 20, 0), method="exact")
    assert exact.p_value == pytest.approx(_binom_two_sided(5, 25))
    # n01 == n10: the continuity correction is clamped -> X^2 = 0, p = 1
    assert st.mcnemar_test(*_pairs(0, 20, 20, 0)).p_value == pytest.approx(1.0)
    assert st.mcnemar_test([True, False], [False, True], method="chi2").statistic == 0.0


def test_mcnemar_input_errors():
    with pytest.raises(ValueError, match="0/1"):
        st.mcnemar_test([1, 2], [1, 0])
    with pytest.raises(ValueError, match="same entries"):
        st.mcnemar_test([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match="auto, exact or chi2"):
        st.mcnemar_test([1], [0], method="z")
    with pytest.raises(ValueError, match="at least one entry"):
        st.bootstrap_ci([])
