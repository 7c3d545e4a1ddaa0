"""GPT and Gemini through their real client libraries against local fake servers: gen + MCQ tasks, faults,
reasoning-model parameters, timestamps in the request, and the API key never written anywhere."""

import base64
import json
import logging

from evqa.cli.main import run_command
from evqa.data.st_evidence import load_gen_benchmark

from .conftest import API_KEY


def infer(*argv):
    return run_command("infer", [*argv, "--no-progress"])


def assert_no_key(tmp_path, caplog, capsys=None):
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert API_KEY not in path.read_text(errors="ignore"), path
    assert API_KEY not in caplog.text
    if capsys is not None:
        captured = capsys.readouterr()
        assert API_KEY not in captured.out + captured.err


def test_gpt_gen_single_turn_records_answers_and_sends_timestamped_frames(
    synth_env, openai_server, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "gpt.json"
    assert infer("--model", "gpt-4o", "--task", "gen", "--fps", "1", "--output", str(out)) == 0
    preds = json.loads(out.read_text())
    entries = load_gen_benchmark(synth_env.gen_csv)
    assert list(preds) == [e.entry_id for e in entries]
    first = preds[entries[0].entry_id]
    assert first["error"] is None
    assert first["parsed_response"] == {
        "answer": "A",
        "segments": [[0.0, 1.5]],
        "referring_expressions": ["the moving shape"],
    }
    assert first["meta"]["usage"] == {"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107}
    assert first["meta"]["frames"] == [0, 6, 12, 18, 24, 30][: len(first["meta"]["frames"])]
    bodies = [json.loads(r["raw"]) for r in openai_server.requests]
    assert all(b["max_tokens"] == 1024 and b["temperature"] == 0.0 for b in bodies)
    counts = []
    for body in bodies:
        parts = body["messages"][0]["content"]
        labels = [p["text"] for p in parts if p["type"] == "text" and p["text"].startswith("Frame at")]
        images = [p for p in parts if p["type"] == "image_url"]
        assert labels == [f"Frame at {t:.1f} s:" for t in range(len(images))]  # 1 fps from t = 0
        assert base64.b64decode(images[0]["image_url"]["url"].split(",", 1)[1])[:2] == b"\xff\xd8"  # JPEG
        counts.append(len(images))
    assert sorted(counts) == sorted(len(p["meta"]["frames"]) for p in preds.values())
    assert openai_server.requests[0]["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert_no_key(tmp_path, caplog)


def test_gpt_reasoning_model_multi_turn_uses_max_completion_tokens(synth_env, openai_server, tmp_path):
    out = tmp_path / "o3.json"
    assert infer("--model", "o3", "--mode", "multi-turn", "--limit", "2", "--output", str(out)) == 0
    bodies = [json.loads(r["raw"]) for r in openai_server.requests]
    assert len(bodies) == 6  # 2 entries x 3 turns
    assert all(
        "max_completion_tokens" in b and "temperature" not in b and "max_tokens" not in b for b in bodies
    )
    turns = sorted(len(b["messages"]) for b in bodies)
    assert turns == [1, 1, 3, 3, 5, 5]  # the history grows turn by turn
    third = next(b["messages"] for b in bodies if len(b["messages"]) == 5)
    assert [m["role"] for m in third] == ["user", "assistant", "user", "assistant", "user"]
    assert third[1]["content"] == "The answer is A."
    record = next(iter(json.loads(out.read_text()).values()))
    assert record["parsed_response"] == {
        "answer": "A",
        "segments": [[0.5, 2.0]],
        "referring_expressions": ["the moving shape", "the square"],
    }
    assert len(record["raw_response"]) == 3
    assert record["meta"]["usage"]["total_tokens"] == 3 * 107


def test_gpt_mcq_all_tasks_with_option_images(synth_env, openai_server, tmp_path):
    out = tmp_path / "mcq.json"
    assert infer("--model", "gpt-5-mini", "--task", "all", "--limit", "3", "--output", str(out)) == 0
    preds = json.loads(out.read_text())
    assert len(preds) == 3
    for record in preds.values():
        assert (record["answer"], record["evidence_t"], record["evidence_s"]) == ("A", "B", "C")
        assert set(record["raw_response"]) == {"qa", "time_evidence", "spatial_evidence"}
    spatial = [json.loads(r["raw"]) for r in openai_server.requests if b"Which image highlights" in r["raw"]]
    texts = [p["text"] for p in spatial[0]["messages"][0]["content"] if p["type"] == "text"]
    assert [t for t in texts if t.startswith("Image ")] == ["Image A:", "Image B:", "Image C:", "Image D:"]


def test_faults_still_yield_a_complete_file(synth_env, openai_server, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    entries = load_gen_benchmark(synth_env.gen_csv)
    # the fake server fails every request whose prompt holds the doomed entry's question: pick a question
    # no other entry shares (synthetic questions differ only by the shape they name)
    doomed = next(e for e in entries if [x.question for x in entries].count(e.question) == 1)
    openai_server.faults = ["429", "500", "timeout", "malformed", "429", "500"]
    openai_server.always_fail = lambda prompt: doomed.question in prompt
    openai_server.timeout_s = 1.5
    out = tmp_path / "faults.json"
    code = infer(
        "--model",
        "gpt-4o",
        "--output",
        str(out),
        "--concurrency",
        "4",
        "--max-retries",
        "8",
        "--request-timeout",
        "0.5",
    )
    assert code == 1  # one entry failed for good
    preds = json.loads(out.read_text())
    assert len(preds) == len(entries)
    failed = {k: v for k, v in preds.items() if v["error"]}
    assert list(failed) == [doomed.entry_id]
    assert "HTTP 500" in failed[doomed.entry_id]["error"]
    assert failed[doomed.entry_id]["parsed_response"] is None
    done = [v for v in preds.values() if v["error"] is None]
    assert all(v["parsed_response"]["answer"] == "A" for v in done)
    injected = [r["fault"] for r in openai_server.requests if r["fault"]]
    assert sorted(injected) == sorted(["429", "500", "timeout", "malformed", "429", "500"])
    assert "gave up after 9 attempts" in failed[doomed.entry_id]["error"]
    assert_no_key(tmp_path, caplog, capsys)

    # a re-run retries only the failed entry
    openai_server.always_fail = None
    before = len(openai_server.requests)
    assert infer("--model", "gpt-4o", "--output", str(out)) == 0
    assert len(openai_server.requests) - before == 1
    assert all(v["error"] is None for v in json.loads(out.read_text()).values())


def test_gemini_gen_sends_inline_video_with_fps_metadata(synth_env, gemini_server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "gemini.json"
    assert infer("--model", "gemini-2.5-flash", "--fps", "2", "--limit", "2", "--output", str(out)) == 0
    preds = json.loads(out.read_text())
    assert [v["parsed_response"]["answer"] for v in preds.values()] == ["A", "A"]
    body = json.loads(gemini_server.requests[0]["raw"])
    video = body["contents"][0]["parts"][0]
    assert video["videoMetadata"]["fps"] == 2.0
    entries = load_gen_benchmark(synth_env.gen_csv)
    videos = {(synth_env.video_dir / e.video_path).read_bytes() for e in entries[:2]}
    assert base64.urlsafe_b64decode(video["inlineData"]["data"]) in videos
    assert gemini_server.requests[0]["headers"]["x-goog-api-key"] == API_KEY
    assert next(iter(preds.values()))["meta"]["usage"]["total_tokens"] == 209
    assert_no_key(tmp_path, caplog)


def test_gemini_uploads_large_videos_and_survives_faults(synth_env, gemini_server, tmp_path):
    from evqa.baselines.registry import build_model

    model = build_model("gemini", "gemini-2.5-pro", upload_threshold_mb=0)
    video = str(next(synth_env.video_dir.glob("*.mp4")))
    part = model.video_part(video, 1.0)
    assert part.file_data.file_uri.endswith("/v1beta/files/fake1") and part.video_metadata.fps == 1.0

    gemini_server.faults = ["429", "500", "malformed"]
    out = tmp_path / "gemini_mcq.json"
    assert (
        infer(
            "--model",
            "gemini-2.5-pro",
            "--task",
            "mcq",
            "--mcq-task",
            "time_evidence",
            "--limit",
            "2",
            "--output",
            str(out),
        )
        == 0
    )
    assert [v["evidence_t"] for v in json.loads(out.read_text()).values()] == ["B", "B"]


def test_missing_key_is_a_config_error(synth_env, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert infer("--model", "gpt-4o", "--output", str(tmp_path / "x.json")) == 2
    assert "set the OPENAI_API_KEY environment variable" in capsys.readouterr().err


def test_dry_run_prints_prompts_and_frame_times_without_a_model(synth_env, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert infer("--model", "o3", "--dry-run", "--limit", "2", "--fps", "2") == 0
    plans = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(plans) == 2
    assert plans[0]["timestamps"][:3] == [0.0, 0.5, 1.0]
    assert "Reply with JSON only" in plans[0]["prompts"][0]


def test_gemini_multi_turn_keeps_the_video_in_the_first_turn_only(synth_env, gemini_server, tmp_path):
    out = tmp_path / "gemini_multi.json"
    assert (
        infer("--model", "gemini-2.5-flash", "--mode", "multi-turn", "--limit", "1", "--output", str(out))
        == 0
    )
    last = json.loads(gemini_server.requests[-1]["raw"])["contents"]
    assert [c["role"] for c in last] == ["user", "model", "user", "model", "user"]
    assert "inlineData" in last[0]["parts"][0] and all(
        "inlineData" not in p for c in last[1:] for p in c["parts"]
    )
    record = next(iter(json.loads(out.read_text()).values()))
    assert record["parsed_response"]["segments"] == [[0.5, 2.0]] and len(record["raw_response"]) == 3
