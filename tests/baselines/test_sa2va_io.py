"""Sa2VA is remote code: its prompt/IO layer is tested against a stand-in exposing the published
`predict_forward(video=[PIL], text=..., tokenizer=...)` interface, through the runner's gen task."""

import numpy as np
import pytest

from evqa.baselines.base import Request
from evqa.baselines.calling import ModelCaller
from evqa.baselines.frames import Sampling
from evqa.baselines.sa2va import Sa2VAModel, sa2va_inputs, sa2va_response
from evqa.baselines.tasks import GenTask
from evqa.data.masks import read_rle_json
from evqa.data.st_evidence import load_gen_benchmark
from evqa.errors import InputError, ModelError


class RemoteSa2VAStandIn:
    """Answers like Sa2VA: a '[SEG]' per object and one [T, H, W] mask per '[SEG]'."""

    def __init__(self):
        self.calls = []

    def predict_forward(self, video, text, tokenizer):
        self.calls.append((video, text, tokenizer))
        height, width = video[0].size[1], video[0].size[0]
        first = np.zeros((len(video), height, width), dtype=bool)
        first[:, :10, :10] = True
        second = np.zeros_like(first)
        second[:, -5:, -5:] = True
        return {
            "prediction": "Answer: B. Objects: the square [SEG] and the circle [SEG].",
            "prediction_masks": [first, second],
        }


def request(frames=3):
    data = np.zeros((frames, 24, 32, 3), dtype=np.uint8)
    return Request("e1", "Which one?", data, np.arange(frames) * 0.5, frame_indices=np.arange(frames) * 3)


def test_inputs_state_the_frame_times_and_use_the_image_token():
    inputs = sa2va_inputs(request())
    assert inputs["text"].startswith("<image>")
    assert "The frames are at 0.0, 0.5, 1.0 seconds.\nWhich one?" in inputs["text"]
    assert [im.size for im in inputs["video"]] == [(32, 24)] * 3
    with pytest.raises(InputError, match="one turn"):
        sa2va_inputs(Request("e1", "q", request().frames, request().timestamps, history=(("a", "b"),)))


def test_masks_are_unioned_over_seg_tokens_on_the_sampled_frames():
    req = request()
    response = sa2va_response(RemoteSa2VAStandIn().predict_forward(sa2va_inputs(req)["video"], "", None), req)
    assert response.text == "Answer: B. Objects: the square  and the circle ."
    assert response.meta == {"seg_tokens": 2}
    assert response.masks.shape == (3, 24, 32) and response.masks.sum() == 3 * (100 + 25)
    np.testing.assert_array_equal(response.mask_frames, [0, 3, 6])
    with pytest.raises(ModelError, match="expected \\(3, 24, 32\\)"):
        sa2va_response({"prediction": "[SEG]", "prediction_masks": [np.zeros((2, 24, 32))]}, req)
    assert sa2va_response({"prediction": "B"}, req).masks is None


def test_gen_task_records_sa2va_masks_as_rle(synth, tmp_path):
    model = Sa2VAModel.__new__(Sa2VAModel)  # the remote weights are not available: wire the stand-in
    model.model_id, model.options, model.model, model.tokenizer = (
        "ByteDance/Sa2VA-4B",
        {},
        RemoteSa2VAStandIn(),
        "tok",
    )
    entries = load_gen_benchmark(synth.gen_csv)[:1]
    task = GenTask(
        entries, video_dir=synth.video_dir, sampling=Sampling(fps=2.0), mask_dir=tmp_path / "concat"
    )
    task.bind(ModelCaller(model))
    record = task.process(entries[0])
    assert record["error"] is None and record["parsed_response"]["answer"] == "B"
    stored = read_rle_json(record["parsed_response"]["mask_path"])
    assert sorted(stored.frames) == record["meta"]["frames"] == list(range(0, len(stored.frames) * 3, 3))
    assert stored.decode(0)[:10, :10].all() and stored.decode(0).sum() == 125
