"""The README's command lines for VideoEspresso and Q-Bench-Video: synth -> infer (gpt-4o on the fake
OpenAI server) -> eval, with and without oracle evidence; the summary carries the gap."""

import json

from baselines.fake_api import FakeOpenAI

from evqa.cli.main import run_command


def _prompt(request) -> str:
    """Every text part of the last user turn of a recorded chat-completions request, joined."""
    last = json.loads(request["raw"])["messages"][-1]["content"]
    return last if isinstance(last, str) else "\n".join(p["text"] for p in last if p.get("type") == "text")


def test_videoespresso_synth_infer_eval_with_evidence_gap(tmp_path, api_env):
    data = tmp_path / "ve"
    assert run_command("synth", ["--benchmark", "videoespresso", "--out", str(data)]) == 0
    with_ev, without = tmp_path / "with.json", tmp_path / "without.json"
    with FakeOpenAI() as server:
        api_env(server)
        for out, extra in ((with_ev, ["--with-evidence"]), (without, [])):
            code = run_command("infer", ["--benchmark", "videoespresso", "--data-dir", str(data), "--model", "gpt-4o",
                                         "--output", str(out), "--no-progress", "--frame-rule", "core", *extra])  # fmt: skip
            assert code == 0
        prompts = [_prompt(r) for r in server.requests if r["path"].endswith("/chat/completions")]
    assert sum("Your inference evidence is The <obj_start>square" in p for p in prompts) == 28
    assert sum("Your inference evidence is" not in p for p in prompts) == 28
    record = next(iter(json.loads(with_ev.read_text()).values()))
    assert record["with_evidence"] is True and len(record["meta"]["frames"]) == 2
    code = run_command("eval", ["--benchmark", "videoespresso", "--data-dir", str(data), "--pred_file", str(with_ev),
                                "--no-evidence-pred", str(without)])  # fmt: skip
    assert code == 0
    summary = json.loads((tmp_path / "with.summary.json").read_text())
    items = json.loads((data / "videoespresso" / "test.json").read_text())
    share_a = 100.0 * sum(i["correct_answer"] == "(A)" for i in items) / len(items)  # the fake always says A
    assert summary["metrics"]["accuracy"] == share_a and summary["metrics"]["evidence_gap"] == 0.0
    assert len(summary["breakdowns"]["task"]) == 14 and summary["counts"]["scored"] == 28


def test_qbench_synth_infer_eval(tmp_path, api_env):
    data = tmp_path / "qb"
    assert run_command("synth", ["--benchmark", "qbench_video", "--out", str(data), "--num-items", "6"]) == 0
    pred = tmp_path / "qb.json"
    with FakeOpenAI() as server:
        api_env(server)
        assert run_command("infer", ["--benchmark", "qbench_video", "--data-dir", str(data), "--model", "gpt-4o",
                                     "--output", str(pred), "--no-progress", "--num_frames", "2"]) == 0  # fmt: skip
        pair = [r for r in server.requests if "The first video's frames" in _prompt(r)]
    assert len(pair) == 2
    assert run_command("eval", ["--benchmark", "qbench_video", "--data-dir", str(data), "--pred_file", str(pred),
                                "--protocol", "upstream"]) == 0  # fmt: skip
    summary = json.loads((tmp_path / "qb.summary.json").read_text())
    assert (
        summary["protocol"] == "upstream" and summary["metrics"]["accuracy"] == 0.0
    )  # "The answer..."[0] == "T"
