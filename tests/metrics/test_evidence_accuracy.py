"""Evidence-backed accuracy (Acc@GQA generalised), hand-computed."""

import math

import numpy as np
import pytest

from evqa.metrics.evidence import evidence_backed_accuracy

# entry:        0     1     2     3      4     5     6
CORRECT = [True, True, True, False, True, True, True]
IOP = [0.8, 0.5, 0.49, 0.9, None, 1.0, float("nan")]
J = [0.7, 0.2, 0.9, 0.9, 0.9, None, 0.9]


def test_temporal_only():
    # passes: 0 (0.8), 1 (0.5 inclusive), 5 (1.0); 2 is below, 3 is wrong, 4 and 6 have no IoP
    res = evidence_backed_accuracy(CORRECT, IOP)
    assert res.passed.tolist() == [True, True, False, False, False, True, False]
    assert res.accuracy == pytest.approx(3 / 7)
    assert (res.n, res.n_missing_iop, res.n_missing_j, res.j_threshold) == (7, 2, 0, None)
    # plain accuracy over the same entries is 6 / 7: evidence-backed is never above it
    assert res.accuracy <= sum(CORRECT) / 7


def test_with_masks():
    # of {0, 1, 5}: 1 fails J (0.2), 5 has no J -> only entry 0 passes
    res = evidence_backed_accuracy(CORRECT, IOP, J)
    assert res.passed.tolist() == [True, False, False, False, False, False, False]
    assert res.accuracy == pytest.approx(1 / 7)
    assert (res.n_missing_iop, res.n_missing_j) == (2, 1)
    summary = res.as_dict()
    assert summary["n_passed"] == 1 and summary["j_threshold"] == 0.5 and len(summary["passed"]) == 7


def test_thresholds_are_parameters():
    # tau_t = 0.3: entry 2 (0.49) now passes on time; tau_m = 0.1: entry 1's J 0.2 passes
    res = evidence_backed_accuracy(CORRECT, IOP, J, iop_threshold=0.3, j_threshold=0.1)
    assert res.passed.tolist() == [True, True, True, False, False, False, False]
    assert res.accuracy == pytest.approx(3 / 7)
    # tau = 0: any present evidence score passes, missing still fails
    res = evidence_backed_accuracy(CORRECT, IOP, iop_threshold=0.0)
    assert res.passed.tolist() == [True, True, True, False, False, True, False]


def test_inputs():
    res = evidence_backed_accuracy(np.array([1, 0]), np.array([0.6, 0.6]))
    assert res.passed.tolist() == [True, False]
    assert math.isnan(evidence_backed_accuracy([], []).accuracy)
    with pytest.raises(ValueError, match="iop has 1 values for 2 entries"):
        evidence_backed_accuracy([True, True], [0.5])
    with pytest.raises(ValueError, match="j has 3 values for 2 entries"):
        evidence_backed_accuracy([True, True], [0.5, 0.5], [1, 1, 1])
