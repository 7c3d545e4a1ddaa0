"""Q-Bench-Video-style MCQ: loader, synthetic yes/no, A-D and two-video items, both protocols by hand, and
synth -> runner -> score with a model that reads the frames it is given."""

import json

import numpy as np
import pytest

from evqa.baselines.base import BaselineModel, Response
from evqa.baselines.calling import ModelCaller
from evqa.baselines.frames import Sampling
from evqa.baselines.runner import run_items
from evqa.benchmarks.qbench_video import QBenchItem, score_qbench
from evqa.benchmarks.registry import get_benchmark, list_benchmarks
from evqa.errors import DataError
from evqa.prompts import qbench_prompt


def test_prompt_exact():
    assert qbench_prompt("Is it blurry?", ["Yes", "No"]) == (
        "Is it blurry?\nA. Yes\nB. No\nAnswer with the option's letter from the given choices directly."
    )


def test_protocols_by_hand():
    items = [
        QBenchItem("1", ("a.mp4",), "q", ("Yes", "No"), "A", "yes-no"),
        QBenchItem("2", ("a.mp4", "b.mp4"), "q", ("x", "y"), "B", "what-how"),
        QBenchItem("3", ("a.mp4",), "q", ("x", "y", "z", "w"), "C", "what-how"),
    ]
    preds = {
        "1": {"raw_response": "A", "parsed_response": {"answer": "A"}},
        "2": {"raw_response": "The answer is B", "parsed_response": {"answer": "B"}},
        "3": {"raw_response": "hmm", "parsed_response": {"answer": None}},
    }
    evqa = score_qbench(items, preds, "evqa")
    assert evqa.metrics["accuracy"] == pytest.approx(200 / 3) and evqa.counts["unparsable"] == 1
    assert evqa.breakdowns["pairing"] == {
        "single": {"accuracy": 50.0, "n": 2},
        "pair": {"accuracy": 100.0, "n": 1},
    }
    up = score_qbench(items, preds, "upstream")  # "The answer is B"[0] == "T"
    assert up.metrics["accuracy"] == pytest.approx(100 / 3)


def test_loader_error(tmp_path):
    p = tmp_path / "q.json"
    p.write_text(
        json.dumps(
            [{"video_path": "a", "question": "q", "candidates": ["Yes", "No"], "correct_ans": "Maybe"}]
        )
    )
    with pytest.raises(DataError, match="item 0: correct_ans is not one of the candidates"):
        get_benchmark("qbench_video").load({"qa_file": p})


class SharpnessJudge(BaselineModel):
    """Answers from pixels: blur = low mean gradient; compares the two videos of a pair by sharpness+noise."""

    name = "sharpness-judge"

    def generate_inner(self, request):
        def rough(frames):
            f = np.asarray(frames, dtype=float).mean(-1)
            return np.abs(np.diff(f, axis=-1)).mean()

        if request.images:
            second = np.stack([img for _, img in request.images])
            first_sharp = abs(rough(request.frames) - 11) < abs(rough(second) - 11)
            return Response(text="A" if first_sharp else "B")
        if "blurry" in request.prompt:
            return Response(text="A" if rough(request.frames) < 6 else "B")
        return Response(text="no idea")


def test_synth_end_to_end(tmp_path):
    bench = get_benchmark("qbench_video")
    assert "qbench_video" in list_benchmarks()
    bench.synthesize(tmp_path, seed=1, num_items=6)
    files = bench.locate(tmp_path)
    items = bench.load(files)
    assert [i.pairing for i in items] == ["single", "single", "pair"] * 2
    assert {i.question_type for i in items} == {"yes-no", "what-how"}
    task = bench.build_task(
        items, files, sampling=Sampling(fps=None, num_frames=3), options={}, adapter_cls=SharpnessJudge
    )
    task.bind(ModelCaller(SharpnessJudge()))
    out = tmp_path / "pred.json"
    run_items(task.items(), task.process, out, progress=False)
    preds = json.loads(out.read_text())
    assert preds["qb_002"]["meta"]["videos"] == list(items[2].videos)
    scores, _ = bench.evaluate(files, out)
    assert scores.breakdowns["question_type"]["yes-no"]["accuracy"] == 100.0
    assert scores.breakdowns["pairing"]["pair"]["accuracy"] == 100.0
    assert scores.counts["unparsable"] == 2  # the what/how distortion items get "no idea"
