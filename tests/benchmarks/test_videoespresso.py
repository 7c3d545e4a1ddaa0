"""VideoEspresso entry: loader, synthetic set (all 14 tasks), the original prompt with and without oracle
evidence, the three frame rules, both scoring protocols and the evidence gap, end to end through the runner."""

import json
import re

import pytest

from evqa.baselines.base import BaselineModel, Response
from evqa.baselines.calling import ModelCaller
from evqa.baselines.frames import Sampling
from evqa.baselines.runner import run_items
from evqa.benchmarks.registry import get_benchmark, list_benchmarks
from evqa.benchmarks.videoespresso import (
    TASKS,
    EspressoItem,
    score_espresso,
    upstream_frame_count,
    upstream_letter,
)
from evqa.errors import DataError
from evqa.prompts import videoespresso_prompt


class EvidenceReader(BaselineModel):
    """Answers from the prompt text alone: the letter of the colour the evidence names, else "unsure"."""

    name = "evidence-reader"

    def generate_inner(self, request):
        self.seen = getattr(self, "seen", []) + [len(request.frames)]
        ev = re.search(r"background is (\w+)", request.prompt)
        opt = ev and re.search(rf"\(([A-D])\): {ev.group(1)}\b", request.prompt)
        return Response(text=f"Answer: ({opt.group(1)})" if opt else "unsure", usage={"completion_tokens": 2})


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    bench = get_benchmark("videoespresso")
    root = tmp_path_factory.mktemp("ve")
    bench.synthesize(root, seed=3)
    files = bench.locate(root)
    return bench, files, bench.load(files)


def test_registered_and_synthetic_has_all_tasks(synth):
    bench, files, items = synth
    assert "videoespresso" in list_benchmarks()
    assert len(items) == 28 and sorted({i.task for i in items}) == sorted(TASKS) and len(TASKS) == 14
    raw = json.loads(files["test_file"].read_text())[0]
    assert set(raw) >= {
        "video_path",
        "question",
        "options",
        "correct_answer",
        "evidence",
        "task",
        "core_frames_paths",
        "core_frames_captions",
    }
    assert raw["options"][0].startswith("(A): ") and re.fullmatch(r"\([A-D]\)", raw["correct_answer"])
    assert "<obj_start>square<obj_end><box_start>[" in raw["evidence"]


def test_prompt_with_and_without_evidence_exactly():
    opts = ["(A): red", "(B): blue"]
    plain = videoespresso_prompt("Causal Analysis", "Why", opts)
    assert plain == (
        "Please finish the Causal Analysis task. Question: Why. You have the following options: "
        "(A): red (B): blue. Select the answer and only give the option letters."
    )
    assert videoespresso_prompt("Causal Analysis", "Why", opts, "it rains") == plain.replace(
        "(B): blue.", "(B): blue. Your inference evidence is it rains."
    )


def test_upstream_rules():
    assert [upstream_frame_count(d) for d in (0.0, 1.0, 2.5, 10.0)] == [1, 25, 61, 128]
    assert upstream_letter("Answer: (C)") == "A"  # the original's quirk
    assert upstream_letter("the answer is c") is None and upstream_letter("(D)") == "D"


def _items():
    base = dict(
        video_path="v.mp4", question="q", options=("(A): x", "(B): y"), option_texts=("x", "y"), evidence="e"
    )
    return [
        EspressoItem("1", answer="A", task="T1", **base),
        EspressoItem("2", answer="B", task="T1", **base),
        EspressoItem("3", answer="B", task="T2", **base),
        EspressoItem("4", answer="A", task="T2", **base),
    ]


def test_scoring_protocols_hand_computed():
    preds = {
        "1": {"raw_response": "Answer: (A)", "parsed_response": {"answer": "A"}},
        "2": {"raw_response": "Answer: (B)", "parsed_response": {"answer": "B"}},
        "3": {"raw_response": "I think so", "parsed_response": {"answer": None}},
        "4": {"raw_response": None, "error": "timeout"},
    }
    evqa = score_espresso(_items(), preds, "evqa")
    assert evqa.metrics == {"accuracy": 50.0, "task_average": 50.0}
    assert evqa.breakdowns["task"] == {"T1": {"accuracy": 100.0, "n": 2}, "T2": {"accuracy": 0.0, "n": 2}}
    assert evqa.counts["unparsable"] == 1 and evqa.counts["failed"] == 1 and evqa.counts["scored"] == 2
    up = score_espresso(_items(), preds, "upstream")  # "Answer: (B)" reads as A
    assert up.metrics["accuracy"] == 25.0 and up.per_item["2"]["pred"] == "A"


def test_loader_errors_name_item_and_field(tmp_path):
    bad = tmp_path / "t.json"
    bad.write_text(
        json.dumps(
            [
                {
                    "video_path": "v",
                    "question": "q",
                    "options": ["(A): x", "(B): y"],
                    "correct_answer": "(E)",
                    "evidence": "",
                    "task": "t",
                }
            ]
        )
    )
    with pytest.raises(DataError, match=r"item 0: correct_answer '\(E\)'"):
        get_benchmark("videoespresso").load({"test_file": bad})


@pytest.mark.parametrize(("rule", "frames"), [("evqa", 3), ("upstream", 18), ("core", 2)])
def test_frame_rules_and_evidence_gap_end_to_end(synth, tmp_path, rule, frames):
    bench, files, items = synth
    model = EvidenceReader()
    outs = {}
    for ev in (True, False):
        task = bench.build_task(
            items,
            files,
            sampling=Sampling(fps=1.0),
            options={"with_evidence": ev, "frame_rule": rule},
            adapter_cls=EvidenceReader,
        )
        task.bind(ModelCaller(model))
        outs[ev] = tmp_path / f"pred_{ev}.json"
        run_items(task.items(), task.process, outs[ev], progress=False)
    assert set(model.seen) == {frames}
    record = json.loads(outs[True].read_text())[items[0].entry_id]
    assert (
        record["with_evidence"] is True
        and record["frame_rule"] == rule
        and len(record["meta"]["frames"]) == frames
    )
    scores, _ = bench.evaluate(files, outs[True], options={"no_evidence_pred": str(outs[False])})
    assert scores.metrics["accuracy"] == 100.0 and scores.metrics["accuracy_no_evidence"] == 0.0
    assert scores.metrics["evidence_gap"] == 100.0 and scores.counts["unparsable"] == 0
    without, _ = bench.evaluate(files, outs[False])
    assert without.counts["unparsable"] == 28
