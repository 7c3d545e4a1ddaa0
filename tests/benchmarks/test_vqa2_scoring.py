"""VQA² scoring: the level-word score on fixed logits by hand, the token rule on a real tokenizer, the
synthetic data's known MOS, correlation metrics against hand-computed values, and synth -> score_levels on a
tiny transformers checkpoint -> per-dataset correlations."""

import json
import math

import numpy as np
import pytest

from evqa.baselines.level_scoring import level_response, level_token_ids
from evqa.benchmarks.registry import get_benchmark
from evqa.benchmarks.vqa2_scoring import QualityItem, score_quality
from evqa.benchmarks.vqa2_synth import DEGRADATIONS, clean_clip, degrade
from evqa.errors import ConfigError, DataError


def test_level_score_on_fixed_logits_by_hand():
    tokens = {
        "ids": [5, 1, 7, 3, 9],
        "words": ["high", "good", "fair", "poor", "low"],
        "rule": ["single"] * 5,
    }
    vocab = np.full(10, -50.0)
    vocab[[5, 1, 7, 3, 9]] = np.log([4.0, 2.0, 1.0, 1.0, 2.0])  # p = [.4, .2, .1, .1, .2]
    reply = level_response(vocab, tokens, {})
    # 0.4*1.0 + 0.2*0.8 + 0.1*0.6 + 0.1*0.4 + 0.2*0.2 = 0.70
    assert reply.meta["quality_score"] == pytest.approx(0.70, abs=1e-12)
    assert reply.meta["level_probs"] == [0.4, 0.2, 0.1, 0.1, 0.2] and reply.text == "high"


class _Tok:
    def __init__(self, table):
        self.table = table

    def encode(self, text, add_special_tokens=False):
        return self.table.get(text, [99, 98])


def test_token_rule_single_then_first_token_recorded():
    table = {
        " high": [1, 2],
        " excellent": [3],
        " good": [4],
        " fair": [5],
        " poor": [6],
        " low": [7, 8],
        " bad": [7, 9],
    }
    got = level_token_ids(_Tok(table))
    assert got == {
        "ids": [3, 4, 5, 6, 7],
        "words": ["excellent", "good", "fair", "poor", "low"],
        "rule": ["single", "single", "single", "single", "first_token"],
    }


def test_token_rule_reads_each_word_where_it_follows_the_answer_prefix():
    from evqa.model.tokenizer import build_tiny_tokenizer
    from evqa.prompts import QUALITY_ANSWER_PREFIX

    tok = build_tiny_tokenizer()
    got = level_token_ids(tok)
    head = len(tok.encode(QUALITY_ANSWER_PREFIX, add_special_tokens=False))
    after = {
        w: tok.encode(f"{QUALITY_ANSWER_PREFIX} {w}", add_special_tokens=False)[head]
        for w in ("good", "low", "bad")
    }
    # after the prefix "low" starts with the very token "good" starts with, so the last level reads "bad"
    assert after["low"] == after["good"] == got["ids"][1] and got["ids"][4] == after["bad"] != after["low"]
    assert got["words"] == ["high", "good", "fair", "poor", "bad"] and set(got["rule"]) == {"first_token"}
    for token, word in zip(got["ids"], got["words"], strict=True):
        assert tok.encode(f"{QUALITY_ANSWER_PREFIX} {word}", add_special_tokens=False)[head] == token


def test_degradations_are_graded_and_pristine_is_untouched():
    rng = np.random.default_rng(0)
    clip = clean_clip(rng)
    for kind in DEGRADATIONS:
        assert np.array_equal(degrade(clip, kind, 0, rng), clip)
        err = [
            np.abs(degrade(clip, kind, lv, np.random.default_rng(1)).astype(float) - clip).mean()
            for lv in range(5)
        ]
        assert all(a < b for a, b in zip(err, err[1:], strict=False)), (kind, err)


def test_correlations_per_dataset_by_hand():
    items = [QualityItem(f"d:{i}", "d", f"{i}.mp4", m) for i, m in enumerate([1.0, 2.0, 3.0, 4.0])]
    items.append(QualityItem("e:0", "e", "x.mp4", 1.0))
    preds = {
        "d:0": {"parsed_response": {"score": 0.2}},
        "d:1": {"parsed_response": {"score": 0.4}},
        "d:2": {"parsed_response": {"score": 0.3}},
        "d:3": {"parsed_response": {"score": 0.9}},
        "e:0": {"error": "boom"},
    }
    s = score_quality(items, preds)
    d = s.breakdowns["dataset"]["d"]
    # ranks pred [1, 3, 2, 4] vs [1, 2, 3, 4]: rho = 1 - 6*2/(4*15) = 0.8; tau = (5 - 1)/6
    assert d["SRCC"] == pytest.approx(0.8) and d["KRCC"] == pytest.approx(4 / 6)
    x, y = np.array([0.2, 0.4, 0.3, 0.9]), np.array([1.0, 2.0, 3.0, 4.0])
    r = ((x - x.mean()) * (y - y.mean())).sum() / math.sqrt(
        ((x - x.mean()) ** 2).sum() * ((y - y.mean()) ** 2).sum()
    )
    assert d["PLCC"] == pytest.approx(r) and s.counts["failed"] == 1 and s.counts["scored"] == 4
    assert s.metrics["SRCC"] == pytest.approx(0.8)


def test_loader_names_file_and_entry(tmp_path):
    (tmp_path / "konvid.json").write_text(json.dumps([{"video": "a.mp4", "mos": "x"}]))
    with pytest.raises(DataError, match="entry 0: mos 'x' is not a number"):
        get_benchmark("vqa2_scoring").load({"labels_dir": tmp_path})


def test_synth_to_score_levels_on_a_tiny_checkpoint(tmp_path):
    from evqa.baselines.frames import Sampling
    from evqa.baselines.registry import build_model
    from evqa.baselines.runner import run_items
    from evqa.benchmarks.task import AdapterCaller
    from evqa.training.hf_vlm.tiny import qwen2_5_vl

    bench = get_benchmark("vqa2_scoring")
    bench.synthesize(tmp_path / "data", seed=0, num_items=8)
    files = bench.locate(tmp_path / "data")
    items = bench.load(files)
    rows = json.loads((files["labels_dir"] / "synth_konvid.json").read_text())
    assert len(items) == 16 and [r["mos"] for r in rows] == [5.0] * 4 + [4.0] * 4
    assert [r["degradation"] for r in rows[:4]] == list(DEGRADATIONS)
    model = build_model("qwen2_5_vl", qwen2_5_vl(tmp_path / "ckpt"))
    task = bench.build_task(
        items, files, sampling=Sampling(fps=None, num_frames=2), options={}, adapter_cls=type(model)
    )
    task.bind(AdapterCaller(model, bench.ask_method))
    out = tmp_path / "pred.json"
    run_items(task.items(), task.process, out, progress=False, batch_size=4, process_batch=task.process_batch)
    preds = json.loads(out.read_text())
    first = preds["synth_konvid:0"]["parsed_response"]
    assert 0.2 <= first["score"] <= 1.0 and sum(first["level_probs"]) == pytest.approx(1.0, abs=1e-5)
    assert (
        first["level_tokens"]["rule"] and preds["synth_konvid:0"]["meta"]["usage"]["completion_tokens"] == 0
    )
    single = model.score_levels(task.request("x", task.prompt(items[0]), task.frames_of(items[0]), ""))
    assert single.meta["quality_score"] == pytest.approx(first["score"], abs=1e-5)  # batch == single
    scores, _ = bench.evaluate(files, out)
    assert (
        set(scores.breakdowns["dataset"]) == {"synth_konvid", "synth_lsvq"} and scores.counts["scored"] == 16
    )


def test_an_adapter_without_logits_is_unsupported():
    from evqa.baselines.base import BaselineModel
    from evqa.benchmarks.task import AdapterCaller

    class TextOnly(BaselineModel):
        name = "text-only"

    with pytest.raises(ConfigError, match="text-only adapter cannot be asked this benchmark"):
        AdapterCaller(TextOnly(), "score_levels")


def test_readme_commands_on_a_tiny_local_checkpoint(tmp_path):
    from evqa.cli.main import run_command
    from evqa.training.hf_vlm.tiny import qwen2_5_vl

    ckpt = qwen2_5_vl(tmp_path / "ckpt")
    assert (
        run_command(
            "synth", ["--benchmark", "vqa2_scoring", "--out", str(tmp_path / "d"), "--num-items", "5"]
        )
        == 0
    )
    pred = tmp_path / "q.json"
    assert run_command("infer", ["--benchmark", "vqa2_scoring", "--data-dir", str(tmp_path / "d"), "--adapter", "qwen2_5_vl",
                                 "--model", str(ckpt), "--output", str(pred), "--no-progress", "--num_frames", "2"]) == 0  # fmt: skip
    assert run_command("eval", ["--benchmark", "vqa2_scoring", "--data-dir", str(tmp_path / "d"), "--pred_file", str(pred)]) == 0  # fmt: skip
    summary = json.loads((tmp_path / "q.summary.json").read_text())
    assert summary["counts"]["scored"] == 10 and set(summary["breakdowns"]["dataset"]) == {
        "synth_konvid",
        "synth_lsvq",
    }
    assert summary["units"]["SRCC"] == "fraction" and -1.0 <= summary["metrics"]["SRCC"] <= 1.0
