"""The bundled sample: both protocols reproduce their expected results JSON and the hand-computed values."""

import json
from pathlib import Path

import pytest

from evqa.eval.st_evidence import evaluate_gen

SAMPLE = Path(__file__).resolve().parents[2] / "benchmark" / "st_evidence_gen" / "sample"


def _run(protocol, **kw):
    return evaluate_gen(SAMPLE / "st_evidence_gen.csv", SAMPLE / "predictions.json", protocol=protocol,
                        eval_masks=True, gt_mask_dir=SAMPLE / "gt_masks", progress=False, **kw)  # fmt: skip


def _comparable(results):
    out = json.loads(json.dumps(results))
    out.pop("metadata")
    if "mask_metrics" in out:
        out["mask_metrics"].pop("pred_mask_dir")
    return out


@pytest.mark.parametrize("protocol", ["evqa", "upstream"])
def test_expected_results_file(protocol):
    expected = json.loads((SAMPLE / f"expected_results_{protocol}.json").read_text())
    assert _comparable(_run(protocol)) == expected


def test_evqa_hand_computed():
    res = _run("evqa", num_workers=2)
    assert res["qa_metrics"]["correct"] == 4 and res["qa_metrics"]["total"] == 7  # s1 s2 s4 s7
    # temporal over the 6 entries with GT segments: s1 .75/1, s2 1/1, s4 1.5/4 and 1.5/2.5
    assert res["temporal_metrics"]["num_samples"] == 6
    assert res["temporal_metrics"]["mIoU"] == pytest.approx(100 * (0.75 + 1 + 0.375) / 6, abs=1e-4)
    assert res["temporal_metrics"]["mIoP"] == pytest.approx(100 * (1 + 1 + 0.6) / 6, abs=1e-4)
    assert res["skipped"] == {"missing_predictions": 1, "failed_predictions": 1, "unparsable_answers": 0,
                              "no_gt_segments": 1, "extra_predictions": 1, "no_gt_masks": 2}  # fmt: skip
    assert res["format_errors"]["entries"] == {"failed": ["s3"], "malformed_segments": ["s5"]}
    assert list(res["mask_metrics"]["mask_errors"]) == ["s5"]
    assert res["per_sample_scores"]["s7"]["temporal_iou"] is None
    for sample in res["per_sample_scores"].values():
        for key in ("temporal_iou", "temporal_iop", "spatial_j", "spatial_f"):
            assert sample.get(key) is None or 0.0 <= sample[key] <= 1.0
    assert set(res["by_source"]) == {"star", "vicas"} and set(res["by_category"]) == {
        "action",
        "attribute",
        "object",
    }


def test_upstream_hand_computed():
    res = _run("upstream")
    assert res["qa_metrics"] == {"accuracy": 28.57, "correct": 2, "total": 7}  # only s1 and s7
    s2 = res["per_sample_scores"]["s2"]
    assert s2["temporal_iou"] == 2.5 and s2["temporal_iop"] == 1.0  # overlap quirk: I = 10, U = 4
    assert res["temporal_metrics"]["mIoU"] == round(100 * (0.75 + 2.5 + 0.375) / 7, 2)
    assert res["format_errors"] == {"total": 3, "none_responses": 1, "empty_segments": 1,
                                    "malformed_segments": 1, "parse_errors": 0}  # fmt: skip
    # s5's predicted mask is half the GT's size and both are non-empty: the original loses every mask metric
    assert "mask_metrics" not in res and "s5" in res["warnings"][0]
    # without s5: s1's predicted-only frame 18 meets an empty GT -> J = F = 0 for that frame
    from evqa.data.st_evidence import load_gen_benchmark

    entries = [e for e in load_gen_benchmark(SAMPLE / "st_evidence_gen.csv") if e.entry_id != "s5"]
    preds = json.loads((SAMPLE / "predictions.json").read_text())
    res = evaluate_gen(entries, preds, protocol="upstream", eval_masks=True, gt_mask_dir=SAMPLE / "gt_masks",
                       pred_mask_dir=SAMPLE / "predictions" / "concat", progress=False)  # fmt: skip
    s1_evqa = _run("evqa")["per_sample_scores"]["s1"]
    assert res["per_sample_scores"]["s1"]["spatial_j"] == pytest.approx(s1_evqa["spatial_j"] * 3 / 4)
    assert res["mask_metrics"]["num_entries"] == 4  # s1 s2 s3 s6; s4 and s7 have no GT masks: dropped
    assert "s6" not in res["per_sample_scores"]  # per-sample scores cover predicted entries only


def test_pred_mask_dir_default_follows_mask_mode():
    assert _run("evqa")["mask_metrics"]["pred_mask_dir"].endswith("predictions/concat")
    from evqa.errors import ConfigError

    # the sample has no seperate/ folder: a missing mask folder is an error naming it, never J = F = 0
    with pytest.raises(ConfigError, match="predictions/seperate"):
        _run("evqa", mask_mode="seperate")


def test_jsonl_predictions_score_like_json(tmp_path):
    records = json.loads((SAMPLE / "predictions.json").read_text())
    jsonl = tmp_path / "predictions.jsonl"
    jsonl.write_text("".join(json.dumps({"entry_id": k, **v}) + "\n" for k, v in records.items()))
    for protocol in ("evqa", "upstream"):
        from_jsonl = evaluate_gen(SAMPLE / "st_evidence_gen.csv", jsonl, protocol=protocol, progress=False)
        from_json = evaluate_gen(SAMPLE / "st_evidence_gen.csv", SAMPLE / "predictions.json", protocol=protocol,
                                 progress=False)  # fmt: skip
        for key in ("qa_metrics", "temporal_metrics", "format_errors", "skipped"):
            assert from_jsonl[key] == from_json[key]
