"""Additions to the results JSON on the bundled sample: evidence-backed accuracy and bootstrap CIs, by hand."""

import json
from pathlib import Path

import numpy as np
import pytest

from evqa.cli.main import main
from evqa.eval.results_extras import add_gen_extras
from evqa.eval.st_evidence import evaluate_gen

SAMPLE = Path(__file__).resolve().parents[2] / "benchmark" / "st_evidence_gen" / "sample"
CSV, PRED = SAMPLE / "st_evidence_gen.csv", SAMPLE / "predictions.json"


def _run(protocol, **kw):
    res = evaluate_gen(CSV, PRED, protocol=protocol, eval_masks=True, gt_mask_dir=SAMPLE / "gt_masks",
                       progress=False)  # fmt: skip
    return add_gen_extras(res, CSV, PRED, **kw)


def test_evidence_backed_accuracy_hand_computed_evqa():
    # correct: s1 (IoP 1, J .766), s2 (IoP 1, J .907), s4 (IoP .6, no GT masks), s7 (no GT segments, no masks)
    res = _run("evqa")
    eb = res["evidence_backed"]
    assert (eb["correct"], eb["total"], eb["correct_masks"]) == (4, 7, 4)
    assert eb["accuracy"] == pytest.approx(100 * 4 / 7, abs=1e-4)
    # tau_t = 0.7 drops s4 (IoP 0.6); tau_m = 0.8 drops s1 (J 0.766)
    strict = _run("evqa", iop_threshold=0.7, j_threshold=0.8)["evidence_backed"]
    assert (strict["correct"], strict["correct_masks"]) == (3, 2)
    assert strict["accuracy_masks"] == pytest.approx(100 * 2 / 7, abs=1e-4)
    assert (strict["iop_threshold"], strict["j_threshold"]) == (0.7, 0.8)


def test_evidence_backed_accuracy_upstream_leaves_upstream_numbers_alone():
    expected = json.loads((SAMPLE / "expected_results_upstream.json").read_text())
    res = _run("upstream")
    assert res["qa_metrics"] == expected["qa_metrics"]
    assert res["temporal_metrics"] == expected["temporal_metrics"]
    # upstream: only s1 (IoP 1, J .766) and s7 (no GT segments) are correct; both keep their evidence
    assert res["evidence_backed"]["correct"] == 2 and res["evidence_backed"]["correct_masks"] == 2
    assert res["units"]["per_sample_scores"] == "fraction" and res["units"]["qa_metrics"] == "percent"


def test_bootstrap_ci_of_accuracy_hand_checked():
    res = _run("evqa")
    # 4 of 7 correct; 1,000 resamples of the 7 entries from default_rng(0): 2.5 % / 97.5 % quantiles 1/7, 6/7
    assert res["ci"]["accuracy"] == [pytest.approx(100 / 7, abs=1e-4), pytest.approx(600 / 7, abs=1e-4)]
    correct = np.array([1, 1, 0, 1, 0, 0, 1], dtype=float)  # s1..s7
    idx = np.random.default_rng(0).integers(0, 7, size=(1000, 7))
    lo, hi = np.quantile(correct[idx].mean(axis=1), [0.025, 0.975])
    assert res["ci"]["accuracy"] == [round(100 * lo, 4), round(100 * hi, 4)]
    assert res["ci_settings"] == {"confidence": 0.95, "n_resamples": 1000, "seed": 0, "method": "percentile",
                                  "resampled": "GT entries"}  # fmt: skip
    for key in ("mIoU", "mIoP", "t_mean", "TIoP@0.5", "J", "F", "J&F", "evidence_backed"):
        lo, hi = res["ci"][key]
        assert 0.0 <= lo <= hi <= 100.0, key
    # the upstream mask mean runs over entries the per-sample scores do not all hold: no J CI, never a wrong one
    assert "J" not in _run("upstream")["ci"]


def test_eval_cli_writes_the_additions(tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = ["eval", "--gt_file", str(CSV), "--pred_file", str(PRED), "--output_file", str(out),
            "--iop_threshold", "0.7", "--no_progress"]  # fmt: skip
    assert main(argv) == 0
    res = json.loads(out.read_text())
    assert res["evidence_backed"]["correct"] == 3 and "accuracy_masks" not in res["evidence_backed"]
    assert res["qa_metrics"]["correct"] == 4 and "accuracy" in res["ci"]
