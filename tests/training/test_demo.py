"""Acceptance 1: the demo's trained tiny model against the trivial baselines (the same run as `make demo`)."""

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


@pytest.fixture(scope="module")
def short_demo(tmp_path_factory):
    from evqa.training.demo import run_demo

    out = tmp_path_factory.mktemp("demo")
    # the demo config with three quarters of its steps (`make demo` runs 875): Acc 100, mIoU 55.6, J&F 77.4 here
    results = run_demo(out / "demo", data_root=str(out / "synth"), overrides=["training.max_steps=650"])
    return out / "demo", results


@pytest.mark.slow
def test_short_demo_beats_every_trivial_baseline_on_every_metric(short_demo):
    out, results = short_demo
    saved = json.loads((out / "demo_results.json").read_text())
    assert set(saved) == {"model", "baselines"} and len(saved["baselines"]) >= 2
    assert saved["model"]["qa_metrics"]["accuracy"] == results["model"]["qa_metrics"]["accuracy"]
    assert losing_metrics(results["model"], results["baselines"]) == []
    # the answers are read from the video, not one letter for every question (that would score ~20)
    assert metric(results["model"], "Acc") >= 60
    predictions = json.loads((out / "predictions.json").read_text())
    assert len({p["parsed_response"]["answer"] for p in predictions.values()}) == 5
