"""Frame selectors: the pixel selectors against hand-computed scores, the CLIP selector against the dual
encoder's own forward pass, and VideoEspresso with `--frame-selector` (the record keeps which frames were
chosen; the model sees exactly those) and `--frames core` as the core-frame rule's spelling."""

import json

import numpy as np
import pytest
from baselines.fake_api import FakeOpenAI

from evqa.baselines.calling import ModelCaller
from evqa.baselines.frame_select import build_selector, list_selectors, top_k
from evqa.baselines.frames import Sampling
from evqa.baselines.runner import run_items
from evqa.benchmarks.registry import get_benchmark
from evqa.cli.main import run_command
from evqa.errors import ConfigError, InputError

from .test_videoespresso import EvidenceReader


def _grey_frames(values, size=(12, 20)):
    frames = np.zeros((len(values), *size, 3), np.uint8)
    frames[:] = np.asarray(values, np.uint8)[:, None, None, None]
    return frames


def test_registry_and_errors():
    assert {"scene_change", "uniqueness", "clip"} <= set(list_selectors())
    with pytest.raises(ConfigError, match="unknown frame selector 'nope'"):
        build_selector("nope")
    with pytest.raises(ConfigError, match="takes no checkpoint"):
        build_selector("scene_change:/some/ckpt")
    with pytest.raises(ConfigError, match="needs a checkpoint"):
        build_selector("clip")
    with pytest.raises(ConfigError, match="at least 1"):
        build_selector("scene_change").select(_grey_frames([0, 1]), None, 0)
    with pytest.raises(InputError, match="frames must be uint8"):
        build_selector("uniqueness").select(np.zeros((0, 4, 4, 3), np.uint8), None, 1)
    assert top_k(np.array([1.0, 3.0, 3.0, 0.0]), 2).tolist() == [1, 2]  # ties: the earlier frame


def test_scene_change_scores_by_hand():
    sel = build_selector("scene_change").select(_grey_frames([0, 0, 100, 100, 30]), None, 2)
    # |grey(i) - grey(i-1)| averaged over the thumbnail; the first frame takes the second's change
    assert sel.scores.tolist() == [0.0, 0.0, 100.0, 0.0, 70.0] and sel.kept.tolist() == [2, 4]
    assert build_selector("scene_change").select(_grey_frames([7]), None, 3).kept.tolist() == [0]


def test_uniqueness_farthest_point_by_hand():
    values = [0, 0, 200, 0, 100]
    sel = build_selector("uniqueness").select(_grey_frames(values), None, 2)
    x = np.array(values) / 255.0
    # first the frame farthest from the mean (200), then the farthest from it (the first 0)
    assert sel.kept.tolist() == [0, 2]
    mean = x.mean()
    expected = [abs(x[0] - mean), 0.0, abs(x[2] - mean), 0.0, min(abs(x[4] - mean), abs(x[4] - x[2]), x[4])]
    assert sel.scores == pytest.approx(expected, abs=1e-9)
    assert build_selector("uniqueness").select(_grey_frames(values), None, 3).kept.tolist() == [0, 2, 4]


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """A tiny random CLIP checkpoint with the project's tiny tokenizer."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPProcessor

    from evqa.model.tokenizer import build_tiny_tokenizer

    tok = build_tiny_tokenizer()
    text = dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                num_attention_heads=2, max_position_embeddings=64, pad_token_id=tok.pad_token_id,
                eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id)  # fmt: skip
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                  image_size=32, patch_size=8)  # fmt: skip
    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16))
    image = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    out = tmp_path_factory.mktemp("clip")
    model.save_pretrained(out)
    CLIPProcessor(image_processor=image, tokenizer=tok).save_pretrained(out)
    return str(out)


def test_clip_selector_scores_are_the_dual_encoders_cosines(tiny_clip):
    import torch
    from PIL import Image
    from transformers import CLIPModel, CLIPProcessor

    frames = np.random.default_rng(0).integers(0, 256, (5, 40, 50, 3), dtype=np.uint8)
    question = "What colour is the square?"
    sel = build_selector(f"clip:{tiny_clip}").select(frames, question, 2)
    model, proc = CLIPModel.from_pretrained(tiny_clip).eval(), CLIPProcessor.from_pretrained(tiny_clip)
    inputs = proc(
        text=[question], images=[Image.fromarray(f) for f in frames], return_tensors="pt", padding=True
    )
    with torch.inference_mode():
        out = model(**inputs)
        cosine = (out.logits_per_image[:, 0] / model.logit_scale.exp()).numpy()
    assert sel.scores == pytest.approx(cosine, abs=1e-5)
    assert sel.kept.tolist() == sorted(np.argsort(-cosine)[:2].tolist())
    assert len(set(np.round(sel.scores, 6))) == 5  # real, frame-dependent scores
    with pytest.raises(ConfigError, match="needs the question"):
        build_selector(f"clip:{tiny_clip}").select(frames, "", 2)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    bench = get_benchmark("videoespresso")
    root = tmp_path_factory.mktemp("ve-select")
    bench.synthesize(root, seed=3, num_items=4)
    files = bench.locate(root)
    return bench, files, bench.load(files)


def test_videoespresso_feeds_the_selected_frames_and_records_them(synth, tmp_path):
    bench, files, items = synth
    model = EvidenceReader()
    options = {
        "with_evidence": True,
        "frame_rule": "upstream",
        "frame_selector": "scene_change",
        "select_frames": 3,
    }
    task = bench.build_task(
        items, files, sampling=Sampling(fps=1.0), options=options, adapter_cls=EvidenceReader
    )
    task.bind(ModelCaller(model))
    out = tmp_path / "pred.json"
    run_items(task.items(), task.process, out, progress=False)
    assert set(model.seen) == {3}
    record = json.loads(out.read_text())[items[0].entry_id]
    selection = record["frame_selection"]
    candidates = task._rule_frames(items[0])
    expected = build_selector("scene_change").select(candidates.frames, items[0].question, 3)
    assert selection["selector"] == "scene_change" and selection["k"] == 3
    assert selection["candidates"] == candidates.indices.tolist() and len(selection["candidates"]) == 18
    assert selection["chosen"] == candidates.indices[expected.kept].tolist() == record["meta"]["frames"]
    assert selection["scores"] == pytest.approx(expected.scores.tolist(), abs=1e-6)
    plan = task.plan(items[1])
    assert len(plan["timestamps"]) == 3 and len(plan["frame_selection"]["chosen"]) == 3
    scores, _ = bench.evaluate(files, out)
    assert scores.metrics["accuracy"] == 100.0


def test_selector_refuses_a_video_file_model(synth):
    bench, files, items = synth

    class FileModel(EvidenceReader):
        needs_frames = False

    with pytest.raises(ConfigError, match="reads the video file itself"):
        bench.build_task(items, files, sampling=Sampling(fps=1.0), adapter_cls=FileModel,
                         options={"frame_rule": "evqa", "frame_selector": "uniqueness"})  # fmt: skip


def test_cli_frames_core_and_frame_selector(synth, tmp_path, api_env):
    bench, files, items = synth
    data = files["test_file"].parent.parent
    outs = {name: tmp_path / f"{name}.json" for name in ("core", "rule", "picked")}
    flags = {"core": ["--frames", "core"], "rule": ["--frame-rule", "core"],
             "picked": ["--frames", "upstream", "--frame-selector", "uniqueness", "--select-frames", "2"]}  # fmt: skip
    with FakeOpenAI() as server:
        api_env(server)
        for name, extra in flags.items():
            assert run_command("infer", ["--benchmark", "videoespresso", "--data-dir", str(data), "--model", "gpt-4o",
                                         "--output", str(outs[name]), "--no-progress", *extra]) == 0  # fmt: skip
    core, rule, picked = (
        json.loads(outs[n].read_text())[items[0].entry_id] for n in ("core", "rule", "picked")
    )
    assert core["frame_rule"] == rule["frame_rule"] == "core" and len(core["meta"]["frames"]) == 2
    assert picked["frame_selection"]["selector"] == "uniqueness" and len(picked["meta"]["frames"]) == 2
    assert picked["frame_selection"]["chosen"] == picked["meta"]["frames"]
    assert set(picked["meta"]["frames"]) < set(picked["frame_selection"]["candidates"])
    code = run_command("infer", ["--benchmark", "videoespresso", "--data-dir", str(data), "--model", "gpt-4o",
                                 "--output", str(tmp_path / "x.json"), "--frame-selector", "bogus"])  # fmt: skip
    assert code == 2
