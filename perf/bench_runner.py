"""Runner throughput against an API with 300 ms latency: sequential calls vs `run_items` with N in flight.

A local OpenAI-compatible server (127.0.0.1, every reply delayed by --latency seconds) answers 100
requests made through the real `gpt` adapter (openai client, 2 timestamped JPEG frames each). The reference
is the same requests made one after another; the target is a ratio of at least 8x.

    python perf/bench_runner.py [--items 100 --latency 0.3 --concurrency 16]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

REPLY = {
    "id": "bench",
    "object": "chat.completion",
    "created": 0,
    "model": "gpt-4o",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Answer: B"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
}


def start_server(latency: float) -> ThreadingHTTPServer:
    """An OpenAI-compatible chat endpoint that answers every request after `latency` seconds."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(latency)
            body = json.dumps(REPLY).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    from evqa.baselines.base import Request
    from evqa.baselines.calling import ModelCaller
    from evqa.baselines.registry import build_model
    from evqa.baselines.runner import run_items

    server = start_server(args.latency)
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench-local")
    model = build_model("gpt", "gpt-4o", base_url=f"http://127.0.0.1:{server.server_address[1]}/v1")
    call = ModelCaller(model)
    frames = np.random.default_rng(0).integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)
    requests = [
        Request(f"e{i}", "Which option? A or B.", frames, np.array([0.0, 1.0])) for i in range(args.items)
    ]

    def process(request: Request) -> dict:
        return {"raw_response": call(request).text, "error": None}

    start = time.perf_counter()
    sequential = [process(r) for r in requests]
    t_seq = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        summary = run_items(
            [(r.entry_id, r) for r in requests],
            process,
            os.path.join(tmp, "bench.json"),
            concurrency=args.concurrency,
            progress=False,
        )
        t_run = time.perf_counter() - start
    server.shutdown()
    assert len(sequential) == summary.done == args.items, (len(sequential), summary)

    print(f"{args.items} items, {args.latency * 1000:.0f} ms server latency")
    print(f"{'mode':<28}{'seconds':>10}{'items/s':>10}")
    print(f"{'sequential calls':<28}{t_seq:>10.2f}{args.items / t_seq:>10.1f}")
    print(f"{f'runner, {args.concurrency} in flight':<28}{t_run:>10.2f}{args.items / t_run:>10.1f}")
    print(f"speed-up: {t_seq / t_run:.1f}x (target >= 8x)")


if __name__ == "__main__":
    main()
