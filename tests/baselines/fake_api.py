"""Local fake OpenAI-compatible and Gemini servers (http.server on 127.0.0.1, one thread each).

Both answer like a cooperative model (the reply depends on what the last user turn asks) and can inject
faults: each request pops the next entry of `faults` ('401', '403', '429', '500', 'timeout', 'malformed') before
answering; `always_fail(text)` makes matching requests fail with 500 for good. Every request is recorded.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GEN_REPLY = {"answer": "A", "temporal_evidence": [[0.0, 1.5]], "referring_expressions": ["the moving shape"]}


def reply_for(prompt: str) -> str:
    """What the fake model says to a user turn of EVQA's prompts."""
    if "Reply with JSON only" in prompt:
        return "```json\n" + json.dumps(GEN_REPLY) + "\n```"
    if "time segments of the video (in seconds) show the evidence" in prompt:
        return "The evidence is at [[0.5, 2.0]]."
    if "referring expression" in prompt:
        return '["the moving shape", "the square"]'
    if "Which option lists the time segments" in prompt:
        return "Answer: B"
    if "Which image highlights" in prompt:
        return "(C)"
    return "The answer is A."


class FakeServer:
    """Base: a ThreadingHTTPServer on a free port; `url`, `requests`, `faults`, `latency`, `timeout_s`."""

    def __init__(self, latency: float = 0.0, faults=(), always_fail=None, timeout_s: float = 2.0):
        self.latency = latency
        self.faults = list(faults)
        self.always_fail = always_fail
        self.timeout_s = timeout_s
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                server.handle(self)

            def do_GET(self):  # noqa: N802
                server.handle(self)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def send(self, handler, status: int, body: str, headers: dict | None = None):
        data = body.encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout fault)
            handler.wfile.write(data)

    def handle(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        with self.lock:
            fault = self.faults.pop(0) if self.faults else None
            self.requests.append(
                {
                    "path": handler.path,
                    "headers": {k.lower(): v for k, v in handler.headers.items()},
                    "raw": raw,
                    "fault": fault,
                }
            )
        if self.latency:
            time.sleep(self.latency)
        if fault == "timeout":
            time.sleep(self.timeout_s)
        if fault in ("401", "403", "429", "500"):
            return self.send(handler, int(fault), self.error_body(int(fault)), {"Retry-After": "0.05"})
        if fault == "malformed":
            return self.send(handler, 200, '{"choices": [{"message": ')
        self.answer(handler, raw)

    def error_body(self, status: int) -> str:
        return json.dumps(
            {"error": {"message": f"injected {status}", "type": "server_error", "code": status}}
        )


class FakeOpenAI(FakeServer):
    """POST /v1/chat/completions like the OpenAI API."""

    def answer(self, handler, raw: bytes):
        body = json.loads(raw)
        last = body["messages"][-1]["content"]
        prompt = last if isinstance(last, str) else last[-1]["text"]
        if self.always_fail and self.always_fail(prompt):
            return self.send(handler, 500, self.error_body(500), {"Retry-After": "0.05"})
        self.send(handler, 200, json.dumps(chat_completion(body["model"], reply_for(prompt))))


def chat_completion(model: str, text: str, *, prompt_tokens: int = 100, completion_tokens: int = 7,
                    completion_id: str = "chatcmpl-fake") -> dict:  # fmt: skip
    """An OpenAI chat.completion body with one choice whose message is `text`."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },  # fmt: skip
    }


class FakeGemini(FakeServer):
    """POST /v1beta/models/<model>:generateContent and the resumable Files API upload, like Gemini."""

    def answer(self, handler, raw: bytes):
        path = handler.path
        if path.startswith("/upload/"):
            return self.send(handler, 200, "{}", {"X-Goog-Upload-URL": f"{self.url}/upload-session/1"})
        if path.startswith("/upload-session/"):
            file = {
                "name": "files/fake1",
                "uri": f"{self.url}/v1beta/files/fake1",
                "mimeType": "video/mp4",
                "state": "ACTIVE",
                "sizeBytes": str(len(raw)),
            }
            return self.send(handler, 200, json.dumps({"file": file}), {"X-Goog-Upload-Status": "final"})
        if not re.search(r"/models/[^/]+:generateContent", path):
            return self.send(handler, 404, self.error_body(404))
        body = json.loads(raw)
        prompt = body["contents"][-1]["parts"][-1]["text"]
        if self.always_fail and self.always_fail(prompt):
            return self.send(handler, 500, self.error_body(500), {"Retry-After": "0.05"})
        out = {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": reply_for(prompt)}]}, "finishReason": "STOP"}
            ],
            "usageMetadata": {"promptTokenCount": 200, "candidatesTokenCount": 9, "totalTokenCount": 209},
        }
        self.send(handler, 200, json.dumps(out))

    def error_body(self, status: int) -> str:
        names = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 404: "NOT_FOUND"}
        return json.dumps(
            {"error": {"code": status, "message": f"injected {status}", "status": names.get(status, "X")}}
        )
