"""`evqa compare` on the other file kinds: ST-Evidence MCQ metrics files, registry benchmarks' results JSONs
and their summaries, each pair fixed in tests/fixtures/compare with p-values computed by hand."""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from evqa.cli.compare import compare_files
from evqa.cli.main import main
from evqa.errors import ConfigError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "compare"


def _f(name: str) -> str:
    return str(FIX / name)


def test_registry_mcq_benchmark_mcnemar_exact_by_hand():
    # tvqa, 30 entries: A right on 0..19, B right on 9..21 (0 unparsable in B) -> discordant 0..8 (A only)
    # and 20, 21 (B only): two-sided binomial, 11 trials, 9 successes:
    # p = 2 * (C(11,9) + C(11,10) + C(11,11)) / 2^11 = 2 * 67 / 2048
    res = compare_files(_f("tvqa_a_eval.json"), _f("tvqa_b_eval.json"))
    assert res["benchmark"] == "tvqa" and res["metric"] == "correct" and res["n"] == 30
    assert (res["test"]["n01"], res["test"]["n10"], res["test"]["method"]) == (9, 2, "exact")
    assert res["p_value"] == pytest.approx(134 / 2048, abs=1e-15) == pytest.approx(0.0654296875)
    # the values are the files' own accuracies (x100, the column's unit)
    assert res["value_a"] == pytest.approx(200 / 3) == pytest.approx(res["reported_a"])
    assert res["value_b"] == pytest.approx(130 / 3) == pytest.approx(res["reported_b"])
    assert [d["entry_id"] for d in res["differ"]] == [str(i) for i in (*range(9), 20, 21)]


def test_mcq_metrics_files_mcnemar_chi2_by_hand():
    # 40 qa entries; A: 28 right, B: 16 right; A right / B wrong 20, A wrong / B right 8 (>= 25 discordant:
    # chi-square with continuity correction, (|20 - 8| - 1)^2 / 28); m37..m39 failed in both (named by neither)
    res = compare_files(_f("mcq_a_metrics.json"), _f("mcq_b_metrics.json"))
    assert (
        res["kind"] == "st_evidence_mcq" and res["metric"] == "qa" and res["n"] == 40 and res["unnamed"] == 3
    )
    t = res["test"]
    assert (t["n01"], t["n10"], t["method"]) == (20, 8, "chi2")
    assert t["statistic"] == pytest.approx(121 / 28)
    assert res["p_value"] == pytest.approx(0.03763531378731436, rel=1e-9)
    assert res["p_value"] == pytest.approx(math.erfc(math.sqrt(121 / 28 / 2)))  # chi2(1) survival by hand
    assert (res["value_a"], res["value_b"]) == (pytest.approx(70.0), pytest.approx(40.0))
    # m19 failed in B (named in A's right list only) is wrong in B; m36 is wrong in both
    differ = {d["entry_id"]: (d["a"], d["b"]) for d in res["differ"]}
    assert (
        len(differ) == 28
        and differ["m19"] == (1.0, 0.0)
        and "m36" not in differ
        and differ["m28"] == (0.0, 1.0)
    )
    temporal = compare_files(_f("mcq_a_metrics.json"), _f("mcq_b_metrics.json"), metric="time_evidence")
    assert (temporal["test"]["n01"], temporal["test"]["n10"], temporal["p_value"]) == (2, 2, 1.0)


def test_judged_benchmark_accuracy_leaves_judge_errors_out():
    res = compare_files(_f("ego_a_eval.json"), _f("ego_b_eval.json"))
    # v5 is a judge error in A: left out; v6 failed in B counts as the judge's no (as the scorer does)
    assert res["metric"] == "accuracy" and res["n"] == 11 and res["left_out"] == 1
    assert (res["test"]["n01"], res["test"]["n10"]) == (4, 0)
    assert res["p_value"] == pytest.approx(2 / 16)  # exact binomial, 4 of 4
    assert res["scale"] == 1.0 and res["value_a"] == pytest.approx(8 / 11) == pytest.approx(res["reported_a"])


def test_judged_score_paired_bootstrap_by_hand():
    res = compare_files(_f("ego_a_eval.json"), _f("ego_b_eval.json"), metric="score", n_resamples=300, seed=7)
    a = np.array([5, 4, 4, 2, 5, 1, 3, 4, 0, 5, 4], dtype=float)  # v5 (no judge score in A) left out
    b = np.array([2, 3, 1, 2, 4, 0, 2, 5, 1, 2, 3], dtype=float)
    idx = np.random.default_rng(7).integers(0, 11, size=(300, 11))
    deltas = a[idx].mean(axis=1) - b[idx].mean(axis=1)
    delta = a.mean() - b.mean()
    extreme = np.count_nonzero(np.abs(deltas - delta) >= abs(delta) - 1e-12)
    assert res["test"]["test"] == "paired_bootstrap" and res["delta"] == pytest.approx(delta)
    assert res["p_value"] == pytest.approx((1 + extreme) / 301)
    assert (res["test"]["low"], res["test"]["high"]) == pytest.approx(
        tuple(np.quantile(deltas, [0.025, 0.975]))
    )
    assert len(res["differ"]) == 10  # v8: 4 in both


def test_summaries_read_the_results_beside_them(tmp_path, capsys):
    by_results = compare_files(_f("ego_a_eval.json"), _f("ego_b_eval.json"))
    by_summary = compare_files(_f("ego_a.summary.json"), _f("ego_b.summary.json"))
    assert by_summary["p_value"] == by_results["p_value"] and by_summary["differ"] == by_results["differ"]
    assert main(["compare", _f("ego_a.summary.json"), _f("ego_b.summary.json")]) == 0
    out = capsys.readouterr().out
    assert "McNemar (exact): p = 0.125" in out and "per-entry scores from" in out
    shutil.copy(FIX / "ego_a.summary.json", tmp_path / "lonely.summary.json")
    assert main(["compare", str(tmp_path / "lonely.summary.json"), _f("ego_b.summary.json")]) == 2
    assert "lonely_eval.json" in capsys.readouterr().err


def test_cli_output_and_user_errors(tmp_path, capsys):
    out = tmp_path / "cmp.json"
    assert main(["compare", _f("mcq_a_metrics.json"), _f("mcq_b_metrics.json"), "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert (
        "McNemar (chi2): p = 0.03764" in text and "named by neither file (failed or missing calls): 3" in text
    )
    assert json.loads(out.read_text())["test"]["n01"] == 20
    assert main(["compare", _f("tvqa_a_eval.json"), _f("ego_b_eval.json")]) == 2
    assert "compare runs of one benchmark" in capsys.readouterr().err
    assert main(["compare", _f("mcq_a_metrics.json"), _f("mcq_b_metrics.json"), "--metric", "spatial"]) == 2
    assert "not scored in this file: not scored (no GT file)" in capsys.readouterr().err
    assert main(["compare", _f("tvqa_a_eval.json"), _f("tvqa_b_eval.json"), "--metric", "score"]) == 2
    assert "per-entry numbers: correct" in capsys.readouterr().err
    other = json.loads((FIX / "mcq_b_metrics.json").read_text())
    other["qa"]["total"] = 41
    (tmp_path / "b.json").write_text(json.dumps(other))
    assert main(["compare", _f("mcq_a_metrics.json"), str(tmp_path / "b.json")]) == 2
    assert "score 40 and 41 qa entries" in capsys.readouterr().err
    assert stats.binomtest(9, 11).pvalue == pytest.approx(134 / 2048)  # the hand formula above is scipy's


def test_quality_scoring_correlation_paired_bootstrap_by_hand(tmp_path):
    """VQA²: SRCC averaged over datasets; the paired bootstrap resamples the entries both runs scored."""
    from evqa.benchmarks.registry import get_benchmark
    from evqa.benchmarks.run import results_json

    bench = get_benchmark("vqa2_scoring")
    bench.synthesize(tmp_path / "data")
    records = bench.load(bench.locate(tmp_path / "data"))
    rng = np.random.default_rng(5)
    paths = []
    for k, noise in enumerate((0.3, 1.5)):
        preds = {r.entry_id: {"parsed_response": {"score": float(r.mos + noise * rng.standard_normal())}, "error": None}
                 for r in records}  # fmt: skip
        preds[records[k].entry_id] = {
            "error": "CUDA out of memory",
            "parsed_response": None,
        }  # one failed each
        scores = bench.score(records, preds)
        paths.append(tmp_path / f"run{k}_eval.json")
        paths[-1].write_text(json.dumps(results_json(bench, scores, "evqa", f"run{k}.json")))
    res = compare_files(str(paths[0]), str(paths[1]), n_resamples=100, seed=11)
    stored = [json.loads(p.read_text()) for p in paths]
    assert (
        res["metric"] == "SRCC"
        and res["n"] == len(records) - 2
        and res["not_in_both"] == sorted([records[0].entry_id, records[1].entry_id])
    )
    # the point estimates are the eval's SRCC on the paired entries; by hand with scipy, per dataset
    items = [s["per_item"] for s in stored]
    ids = [r.entry_id for r in records if r.entry_id in items[0] and r.entry_id in items[1]]
    datasets = sorted({items[0][i]["dataset"] for i in ids})

    def srcc(run, chosen):
        by = [[i for i in chosen if items[run][i]["dataset"] == d] for d in datasets]
        return np.mean([stats.spearmanr([items[run][i]["score"] for i in g], [items[run][i]["mos"] for i in g])[0]
                        for g in by])  # fmt: skip

    assert res["value_a"] == pytest.approx(srcc(0, ids)) and res["value_b"] == pytest.approx(srcc(1, ids))
    idx = np.random.default_rng(11).integers(0, len(ids), size=(100, len(ids)))
    deltas = np.array([srcc(0, [ids[j] for j in row]) - srcc(1, [ids[j] for j in row]) for row in idx])
    delta = srcc(0, ids) - srcc(1, ids)
    kept = deltas[~np.isnan(deltas)]
    extreme = np.count_nonzero(np.abs(kept - delta) >= abs(delta) - 1e-12)
    assert res["delta"] == pytest.approx(delta) and res["p_value"] == pytest.approx(
        (1 + extreme) / (kept.size + 1)
    )
    assert res["test"]["n_nan"] == deltas.size - kept.size
    plcc = compare_files(str(paths[0]), str(paths[1]), metric="PLCC", n_resamples=20)
    assert plcc["value_a"] == pytest.approx(
        np.mean([stats.pearsonr([items[0][i]["score"] for i in ids if items[0][i]["dataset"] == d],
                                [items[0][i]["mos"] for i in ids if items[0][i]["dataset"] == d])[0] for d in datasets])
    )  # fmt: skip
    with pytest.raises(ConfigError, match="is a correlation"):
        compare_files(str(paths[0]), str(paths[1]), test="mcnemar")
