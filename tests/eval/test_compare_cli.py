"""`evqa compare`: the paired test on two fixed results files, against hand-computed p-values."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from evqa.cli.compare import compare_files
from evqa.cli.main import main

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "report"
A, B = str(FIX / "a_paired.json"), str(FIX / "b_paired.json")


def test_mcnemar_exact_p_value_by_hand():
    res = compare_files(A, B)
    # discordant: e1..e6 A right / B wrong, e7 A wrong / B right -> two-sided binomial, 7 trials, 6 successes:
    # p = 2 * (C(7,6) + C(7,7)) / 2^7 = 16 / 128
    assert res["test"]["n01"] == 6 and res["test"]["n10"] == 1 and res["test"]["method"] == "exact"
    assert res["p_value"] == pytest.approx(0.125, abs=1e-12)
    assert res["p_value"] == pytest.approx(stats.binomtest(6, 7, 0.5).pvalue)
    assert [d["entry_id"] for d in res["differ"]] == [f"e{i}" for i in range(1, 8)]
    assert res["value_a"] == pytest.approx(75.0) and res["value_b"] == pytest.approx(100 / 3)


def test_paired_bootstrap_on_a_score_by_hand():
    res = compare_files(A, B, metric="temporal_iop", test="bootstrap", n_resamples=200, seed=3)
    a = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 1.0, 0.0, 0.5])
    b = np.full(12, 0.5)
    idx = np.random.default_rng(3).integers(0, 12, size=(200, 12))
    deltas = a[idx].mean(axis=1) - b[idx].mean(axis=1)
    delta = a.mean() - b.mean()
    extreme = np.count_nonzero(np.abs(deltas - delta) >= abs(delta) - 1e-12)
    assert res["delta"] == pytest.approx(100 * delta)
    assert res["p_value"] == pytest.approx((1 + extreme) / 201)
    assert len(res["differ"]) == 10  # e5 and e12 have IoP 0.5 in both


def test_cli_prints_the_differing_entries_and_writes_json(tmp_path, capsys):
    out = tmp_path / "cmp.json"
    assert main(["compare", A, B, "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "McNemar (exact): p = 0.125" in text and "e7: A 0  B 1" in text
    assert json.loads(out.read_text())["p_value"] == pytest.approx(0.125)


def test_user_errors(tmp_path, capsys):
    assert main(["compare", A, B, "--metric", "temporal_iop", "--test", "mcnemar"]) == 2
    assert "McNemar needs 0/1 values" in capsys.readouterr().err
    assert main(["compare", A, str(tmp_path / "none.json")]) == 2
    assert "file not found" in capsys.readouterr().err
    bare = tmp_path / "bare.json"
    bare.write_text('{"qa_metrics": {}}')
    assert main(["compare", A, str(bare)]) == 2
    assert "no per-entry scores" in capsys.readouterr().err
