"""The base adapter validates requests (typed errors naming the entry and field) and times every call."""

import numpy as np
import pytest

from evqa.baselines.base import BaselineModel, Request, Response
from evqa.errors import InputError


class Echo(BaselineModel):
    name = "echo"

    def generate_inner(self, request):
        return Response(
            text=f"{len(request.frames)} frames: {request.prompt}", usage={"completion_tokens": 3}
        )


FRAMES = np.zeros((2, 8, 8, 3), dtype=np.uint8)


def test_generate_validates_and_times():
    response = Echo().generate(Request("e1", "Which?", FRAMES, np.array([0.0, 1.0])))
    assert response.text == "2 frames: Which?" and response.meta["latency_s"] >= 0
    batch = Echo().generate_batch([Request("e1", "a", FRAMES, np.array([0.0, 1.0]))] * 3)
    assert [r.meta["batch_size"] for r in batch] == [3, 3, 3]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (Request("e7", "  ", FRAMES, np.array([0.0, 1.0])), "entry e7: field 'prompt': the prompt is empty"),
        (Request("e7", "q"), "entry e7: field 'frames': this model needs sampled frames"),
        (Request("e7", "q", FRAMES.astype(np.float32), np.array([0.0, 1.0])), "frames must be uint8"),
        (Request("e7", "q", FRAMES, np.array([0.0])), "field 'timestamps': every frame needs a timestamp"),
        (Request("e7", "q", FRAMES, np.array([1.0, 0.5])), "timestamps must not decrease"),
        (
            Request("e7", "q", FRAMES, np.array([0.0, 1.0]), frame_texts=("a",)),
            "field 'frame_texts': 1 frame texts for 2 frames",
        ),  # fmt: skip
    ],
)
def test_bad_requests_are_typed_errors(request_, message):
    with pytest.raises(InputError, match=message):
        Echo().generate(request_)


def test_video_models_need_the_file():
    class VideoOnly(Echo):
        needs_frames, needs_video = False, True

    with pytest.raises(InputError, match="field 'video_path': this model needs the video file"):
        VideoOnly().generate(Request("e1", "q"))


def test_token_budget_is_the_largest_asked_else_the_adapter_default():
    frames, times = FRAMES, np.array([0.0, 1.0])
    asked = [
        Request("a", "q", frames, times, max_new_tokens=16),
        Request("b", "q", frames, times, max_new_tokens=64),
    ]
    assert Echo().budget(asked) == 64
    assert Echo().budget([Request("a", "q", frames, times)]) == 1024

    from evqa.baselines.ours import EvqaModel

    assert EvqaModel.default_max_new_tokens == 96


def test_frame_texts_follow_their_frames_in_the_local_chat():
    from evqa.baselines.hf_frames import frame_messages

    request = Request("e1", "Which?", FRAMES, np.array([0.0, 1.5]), frame_texts=("hello", ""))
    messages, images = frame_messages(request)
    parts = [p.get("text", "<image>") for p in messages[0]["content"]]
    assert parts[1:] == [
        "Frame at 0.0 s:",
        "<image>",
        "Subtitle: hello",
        "Frame at 1.5 s:",
        "<image>",
        "Which?",
    ]
    assert len(images) == 2
