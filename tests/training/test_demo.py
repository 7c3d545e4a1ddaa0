"""Acceptance 1: the demo's trained tiny model beats every trivial baseline (a shorter run than `make demo`)."""

import json

import pytest

from evqa.training.demo import HEADLINE, losing_metrics, metric


def _results(acc, miou, jf):
    return {"qa_metrics": {"accuracy": acc}, "temporal_metrics": {"mIoU": miou}, "mask_metrics": {"J&F": jf}}


def test_losing_metrics_compares_every_headline_metric_but_skips_the_oracle():
    baselines = {"oracle (GT)": _results(100, 100, 100), "random + whole": _results(18, 45.4, 4.0)}
    assert losing_metrics(_results(30, 50, 20), baselines) == []
    assert losing_metrics(_results(30, 45.4, 2), baselines) == [
        "mIoU vs random + whole",
        "J&F vs random + whole",
    ]
    assert metric({"qa_metrics": {"accuracy": 12.5}}, "Acc") == 12.5 and metric({}, "J&F") == 0.0
    assert set(HEADLINE) == {"Acc", "mIoU", "J&F"}


@pytest.mark.slow
def test_short_demo_beats_every_trivial_baseline(tmp_path):
    from evqa.training.demo import run_demo

    results = run_demo(
        tmp_path / "demo", data_root=str(tmp_path / "synth"), overrides=["training.max_steps=150"]
    )
    saved = json.loads((tmp_path / "demo" / "demo_results.json").read_text())
    assert set(saved) == {"model", "baselines"} and len(saved["baselines"]) >= 2
    assert losing_metrics(results["model"], results["baselines"]) == []
