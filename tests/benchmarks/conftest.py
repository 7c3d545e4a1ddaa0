"""Fixtures of the benchmark tests: a fake OpenAI server whose judge replies are scripted per correct
answer (model requests get the cooperative fake model's replies), and API keys in the environment."""

from __future__ import annotations

import json
import re

import pytest
from baselines import fake_api
from baselines.fake_api import FakeGemini, FakeOpenAI

API_KEY = "sk-test-judge-DO-NOT-LEAK-91c2"
_FIELD = re.compile(r"^(Correct Answer|Predicted Answer): (.*)$", re.MULTILINE)


class ScriptedJudgeOpenAI(FakeOpenAI):
    """`script[correct answer]` is the list of replies the judge gives to that item, one per request (the
    last one repeats). Judge requests are recognised by their system message; `judge_calls` lists the
    (answer, prediction) of each one that was answered."""

    def __init__(self, script: dict[str, list[str]] | None = None, **kw):
        super().__init__(**kw)
        self.script = script or {}
        self.seen: dict[str, int] = {}
        self.judge_calls: list[tuple[str, str]] = []

    def answer(self, handler, raw: bytes):
        body = json.loads(raw)
        if body["messages"][0]["role"] != "system":
            return super().answer(handler, raw)
        fields = dict(_FIELD.findall(body["messages"][-1]["content"]))
        answer, prediction = fields["Correct Answer"], fields["Predicted Answer"]
        with self.lock:
            replies = self.script.get(answer, ["{'pred': 'no', 'score': 0}"])
            k = self.seen.get(answer, 0)
            self.seen[answer] = k + 1
            self.judge_calls.append((answer, prediction))
        text = replies[min(k, len(replies) - 1)]
        out = fake_api.chat_completion(body["model"], text, prompt_tokens=50, completion_tokens=9,
                                       completion_id="chatcmpl-judge")  # fmt: skip
        self.send(handler, 200, json.dumps(out))


@pytest.fixture
def api_env(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)

    def start(server):
        monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
        return server

    return start


class VerdictGemini(FakeGemini):
    """Fake Gemini: a request with a system instruction (a judge call) gets `verdict`; `bodies` keeps the
    judge requests' JSON."""

    verdict = "{'pred': 'yes', 'score': 4}"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.bodies: list[dict] = []

    def answer(self, handler, raw: bytes):
        body = json.loads(raw) if raw else {}
        if "systemInstruction" not in body:
            return super().answer(handler, raw)
        self.bodies.append(body)
        out = {"candidates": [{"content": {"role": "model", "parts": [{"text": self.verdict}]}, "finishReason": "STOP"}],
               "usageMetadata": {"promptTokenCount": 80, "candidatesTokenCount": 9, "totalTokenCount": 89}}  # fmt: skip
        self.send(handler, 200, json.dumps(out))


class LogprobOpenAI(FakeOpenAI):
    """Fake OpenAI server for `logprobs` requests: the first reply token's `top_logprobs` are `script` (a
    list of (token, log p)), or `script_of(body)` when given (e.g. from the request's first frame). Other
    requests get the cooperative fake's replies; `logprob_bodies` keeps the logprobs requests' JSON."""

    def __init__(self, script=None, script_of=None, **kw):
        super().__init__(**kw)
        self.script, self.script_of = script or [], script_of
        self.logprob_bodies: list[dict] = []

    def answer(self, handler, raw: bytes):
        body = json.loads(raw)
        if not body.get("logprobs"):
            return super().answer(handler, raw)
        with self.lock:
            self.logprob_bodies.append(body)
        top = self.script_of(body) if self.script_of else self.script
        content = [{"token": top[0][0], "logprob": top[0][1], "bytes": None,
                    "top_logprobs": [{"token": t, "logprob": lp, "bytes": None} for t, lp in top]}]  # fmt: skip
        out = {
            "id": "chatcmpl-logprobs",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": top[0][0]},
                    "logprobs": {"content": content},
                    "finish_reason": "length",
                }
            ],  # fmt: skip
            "usage": {"prompt_tokens": 120, "completion_tokens": 1, "total_tokens": 121},
        }
        self.send(handler, 200, json.dumps(out))
