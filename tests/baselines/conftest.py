"""Fixtures of the baseline tests: a small synthetic benchmark (6 entries) and the fake API servers."""

import pytest

from .fake_api import FakeGemini, FakeOpenAI

API_KEY = "sk-test-DO-NOT-LEAK-7f3a9c"


@pytest.fixture(scope="session")
def synth(tmp_path_factory):
    """SynthPaths of a 6-entry synthetic benchmark (generated once per test session)."""
    from evqa.data.synth import generate

    root = tmp_path_factory.mktemp("synth") / "synth"
    generate(root, seed=0, num_train=1, num_test=6, score=False, progress=False)
    from evqa.data.synth import SynthPaths

    return SynthPaths(root)


@pytest.fixture
def synth_env(synth, monkeypatch):
    """Make the synthetic benchmark the default data of `evqa infer`."""
    monkeypatch.setenv("EVQA_SYNTH_ROOT", str(synth.root))
    return synth


@pytest.fixture
def openai_server(monkeypatch):
    with FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
        yield server


@pytest.fixture
def gemini_server(monkeypatch):
    with FakeGemini() as server:
        monkeypatch.setenv("GEMINI_API_KEY", API_KEY)
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        monkeypatch.setenv("GEMINI_BASE_URL", server.url)
        yield server
