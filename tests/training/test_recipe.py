"""The mechanics behind upstream's recipe: segment frame sampling, prompt families, gen_mask clipping, gen_qa
with ViCaS evidence masks, length filters, pixel rules, LoRA targets and trainable parts, the SAM2 side of a
base checkpoint, and LoRA checkpoints that keep every trainable weight."""

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from evqa.data.masks import rle_decode
from evqa.errors import ConfigError
from evqa.model import build_model, save_model
from evqa.prompts import (
    SEG_RESPONSES,
    SEG_SENTENCE_PROMPTS,
    SEG_VIDEO_QUERY_PROMPTS,
    ST_EVIDENCE_PROMPTS,
    upstream_st_evidence_prompt,
)
from evqa.training.arguments import ModelArguments, TrainingArguments
from evqa.training.collator import EvqaTrainCollator, upstream_pixels
from evqa.training.mixture import build_mixture
from evqa.training.recipe import apply_recipe, load_base_checkpoint
from evqa.training.sources import build_source, load_example
from evqa.training.sources.base import choose_frames, rate_frame_indices, segment_indices
from evqa.training.trainer import TRAINABLE_FILE, EvqaTrainer

FIX = Path(__file__).parents[1] / "fixtures" / "training"
ST = FIX / "st_evidence"


def test_segment_sampling_draws_one_frame_per_equal_segment():
    # 20 frames, 8 segments: edges round(k * 19 / 8) = 0 2 5 7 10 12 14 17 19 (numpy rounds 9.5 to 10)
    segments = [(0, 2), (2, 5), (5, 7), (7, 10), (10, 12), (12, 14), (14, 17), (17, 19)]
    seen = [set() for _ in segments]
    for seed in range(200):
        picks = segment_indices(20, 8, random.Random(seed))
        assert len(picks) == 8
        for k, (pick, (start, end)) in enumerate(zip(picks, segments, strict=True)):
            assert start <= pick < end
            seen[k].add(pick)
    assert seen == [set(range(s, e)) for s, e in segments]  # every frame of a segment can be drawn
    assert segment_indices(5, 8, random.Random(0)) == [0, 1, 2, 3, 4]
    # annotated frames are the pool (upstream's frame list of a segmentation sample)
    pool = [3, 8, 9, 15, 21, 30, 31, 40, 41, 50]
    picks = choose_frames(60, 4, random.Random(1), preferred=pool, sample_type="segments")
    assert set(picks) <= set(pool) and picks == sorted(picks) and len(picks) == 4
    with pytest.raises(ValueError, match="sample_type"):
        choose_frames(10, 4, random.Random(0), sample_type="uniform")


def _gen_mask(**extra):
    g = ST / "gen_mask"
    return build_source({"type": "st_evidence_mask", "csv": str(g / "st_evidence.csv"), "video_dir": str(g),
                         "mask_dir": str(g / "masks"), "frames_dir": str(g / "video_frames_6fps"), **extra})  # fmt: skip


def test_upstream_st_evidence_wording():
    item = _gen_mask()[1]
    prompts, targets = set(), set()
    for seed in range(60):
        ex = load_example(item, 2, random.Random(seed), prompt_style="upstream")
        prompts.add(ex.prompt)
        targets.add(ex.target)
    body = "Where is the backpack?\nOptions:\n(A) On the floor\n(B) On the bed"
    assert prompts == {t.format(body) for t in ST_EVIDENCE_PROMPTS}
    assert targets == {"Answer: B. Temporal Evidence: [[0.0, 0.5], [1.0, 1.5]]. Spatial Evidence: <|seg|>."}
    # what upstream's evaluation asks such a model (its create_st_evidence_prompt)
    assert upstream_st_evidence_prompt("Where is the backpack?", ["On the floor", "On the bed"]) == (
        f"{body} Answer the question and provide evidence in the form of temporal ([[start1, end1], "
        "[start2, end2], ...]) and spatial evidence (masks)."
    )
    evqa = load_example(item, 2, random.Random(0))
    assert (evqa.prompt, evqa.target) == (item.prompt, item.target)


def test_upstream_segmentation_wording():
    mevis = build_source({"type": "mevis", "root": str(FIX / "mevis")})
    seen = {load_example(mevis[0], 2, random.Random(s), prompt_style="upstream").prompt for s in range(80)}
    assert seen == {t.format("cat on the left") for t in SEG_VIDEO_QUERY_PROMPTS}  # article dropped
    vicas = build_source({"type": "vicas", "root": str(FIX / "vicas")})
    ex = load_example(vicas[0], 2, random.Random(0), prompt_style="upstream")
    assert ex.prompt in {t.format("the man walking") for t in SEG_SENTENCE_PROMPTS}
    assert ex.target in SEG_RESPONSES


def test_gen_mask_clipped_to_the_last_annotated_frame():
    # E1_1: masks on 6-fps frames 3 and 6 of a 9-frame folder
    free, clipped = _gen_mask()[0], _gen_mask(clip_to_annotated=True)[0]
    reach = {int(round(t * 6)) for s in range(30) for t in load_example(free, 4, random.Random(s)).timestamps}
    assert max(reach) == 8
    for seed in range(30):
        ex = load_example(clipped, 4, random.Random(seed), sample_type="segments")
        frames = np.round(ex.timestamps * 6).astype(int)
        assert frames.max() <= 6 and len(frames) == 4


def test_gen_qa_with_vicas_evidence_masks():
    q = ST / "gen_qa_vicas"
    source = build_source({"type": "st_evidence_vicas", "csv": str(q / "st_evidence_vicas.csv"),
                           "anno_dir": str(q / "annotations" / "v1.0"), "frames_dir": str(q / "video_frames")})  # fmt: skip
    # 777_1 is a val row; 777_2 lists no evidence track; 999_0 has no ViCaS annotation
    assert [it.sample_id for it in source.items] == ["777_0"] and source.skipped == 2
    item = source[0]
    assert item.data_type == "mask"
    assert item.target == "Answer: B. Temporal Evidence: [[0.0, 0.3]]. Spatial Evidence: <|seg|>."
    ex = load_example(item, 8, random.Random(0))
    assert ex.mask_valid.all() and ex.frames.shape[0] == 3
    # the evidence is track 2 (the dog): on frames 0 and 1, absent (empty, still annotated) on frame 2
    annotation = json.loads((q / "annotations" / "v1.0" / "000777.json").read_text())
    for frame, seg in enumerate(annotation["segmentations"]):
        expected = np.zeros(ex.mask_targets.shape[1:], dtype=bool)
        if 2 in seg["track_ids"]:
            expected = rle_decode(seg["mask_rles"][seg["track_ids"].index(2)])
        np.testing.assert_array_equal(ex.mask_targets[frame], expected)
    assert ex.mask_targets[:2].any(axis=(1, 2)).all() and not ex.mask_targets[2].any()


def test_conversation_length_filters():
    root = str(FIX / "llava_instruct")
    assert len(build_source({"type": "llava_instruct", "root": root})) == 1
    short = build_source({"type": "llava_instruct", "root": root, "max_num_words": 7})
    assert len(short) == 0 and short.filtered == 1  # 'The bus in the image is white and red.' = 9 words
    assert len(build_source({"type": "llava_instruct", "root": root, "max_num_words": 9})) == 1


def test_upstream_pixel_rules():
    gen_mask = load_example(_gen_mask()[0], 8, random.Random(0))
    llava = build_mixture([{"type": "llava_instruct", "root": str(FIX / "llava_instruct")}])[0]
    assert upstream_pixels(llava) == (128 * 784, 2048 * 784)
    assert upstream_pixels(gen_mask) == (128 * 784, 256 * 784)  # 8 frames: factor 1
    short = load_example(_gen_mask()[0], 3, random.Random(0))
    assert upstream_pixels(short) == (128 * 784, 256 * 784 * 2)  # 8 // 3
    _, processor = build_model("tiny", seed=0)
    bounds = (processor.min_pixels, processor.max_pixels)
    wide = EvqaTrainCollator(processor, "upstream").encode(short)
    assert (processor.min_pixels, processor.max_pixels) == bounds  # the processor's own bounds come back
    narrow = EvqaTrainCollator(processor).encode(short)
    assert wide["pixel_values_videos"].shape[0] > narrow["pixel_values_videos"].shape[0]
    with pytest.raises(ConfigError, match="resolution"):
        EvqaTrainCollator(processor, "native")


@pytest.fixture(scope="module")
def base_checkpoint(tmp_path_factory):
    model, processor = build_model("tiny", seed=0)
    folder = tmp_path_factory.mktemp("base")
    save_model(model, processor, folder)
    return folder, model.state_dict()


def _args(folder, **kw):
    values = dict(preset="tiny", sam2="micro", base_model=str(folder), lora_r=4, lora_alpha=8)
    return ModelArguments(**{**values, **kw})


def test_unipixel_lora_targets_and_trainable_parts(base_checkpoint):
    folder, _ = base_checkpoint
    model, _ = load_base_checkpoint(_args(folder), None)
    model = apply_recipe(
        model, _args(folder, lora_targets="unipixel", train_embeddings=True, sam2_trainable="all")
    )
    trainable = {n.removeprefix("base_model.model.") for n, p in model.named_parameters() if p.requires_grad}
    adapted = {n.split(".lora_")[0] for n in trainable if ".lora_" in n}
    assert adapted and all(
        n.endswith(("q_proj", "k_proj", "v_proj", "o_proj", "attn.qkv", "attn.proj")) for n in adapted
    )
    assert any("language_model" in n for n in adapted) and any("visual" in n for n in adapted)
    assert not any("mlp" in n for n in adapted)
    assert {"model.language_model.embed_tokens.weight", "lm_head.weight"} <= trainable
    sam2 = [n for n, _ in model.named_parameters() if ".sam2." in f".{n.removeprefix('base_model.model.')}"]
    assert all(n.removeprefix("base_model.model.") in trainable for n in sam2)  # the image encoder too
    assert not any(n.startswith("model.visual.") and ".lora_" not in n for n in trainable)
    decoder, _ = load_base_checkpoint(_args(folder), None)
    decoder = apply_recipe(decoder, _args(folder, lora_targets="unipixel"))
    names = {n.removeprefix("base_model.model.") for n, p in decoder.named_parameters() if p.requires_grad}
    assert not any(n.startswith("sam2.vision_encoder.") for n in names) and "lm_head.weight" not in names
    assert any(n.startswith("sam2.mask_decoder.") for n in names)


def test_base_checkpoint_at_another_sam2_side(base_checkpoint):
    folder, weights = base_checkpoint
    model, processor = load_base_checkpoint(_args(folder, sam2_image_size=96), None)
    assert model.config.sam2_image_size == 96 == processor.sam2_image_size
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    ex = load_example(_gen_mask()[0], 2, random.Random(0))
    batch = processor.collate([EvqaTrainCollator(processor).encode(ex)])
    assert batch["mask_targets"][0].shape[-2:] == (96, 96)
    out = model.train()(**batch)
    assert torch.isfinite(out.mask_loss)
    with pytest.raises(ConfigError, match="sam2_pretrained"):
        load_base_checkpoint(_args(folder, sam2="large"), None)
    with pytest.raises(ConfigError, match="evqa convert-unipixel .*nowhere-3b --base-preset 3b"):
        load_base_checkpoint(_args(folder.parent / "nowhere-3b"), None)


def test_lora_checkpoints_keep_the_trainable_weights(base_checkpoint, tmp_path):
    folder, _ = base_checkpoint
    recipe = _args(folder, lora_targets="unipixel", train_embeddings=True, sam2_trainable="all")
    model = apply_recipe(load_base_checkpoint(recipe, None)[0], recipe)
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", disable_tqdm=True)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.requires_grad and "lora_" not in name:
                param.add_(0.5)
    trainer = EvqaTrainer(model=model, args=args)
    trainer.save_model(str(tmp_path / "ckpt"))
    assert (tmp_path / "ckpt" / TRAINABLE_FILE).is_file()
    fresh = apply_recipe(load_base_checkpoint(recipe, None)[0], recipe)
    EvqaTrainer(model=fresh, args=args)._load_from_checkpoint(str(tmp_path / "ckpt"))
    trained = dict(model.named_parameters())
    for name, param in fresh.named_parameters():
        if param.requires_grad and "lora_" not in name:
            assert torch.equal(param, trained[name]), name


def test_videogpt_plus_frames_at_two_per_second():
    # qwen-vl-utils: duration x 2 frames, 4 to max_frames, even, at round(linspace(0, total - 1, n))
    assert rate_frame_indices(300, 30.0, 2.0, 8) == [0, 43, 85, 128, 171, 214, 256, 299]
    assert rate_frame_indices(45, 30.0, 2.0, 8) == [0, 15, 29, 44]  # 1.5 s: 3 frames, at least 4
    assert rate_frame_indices(90, 30.0, 2.0, 8) == [0, 18, 36, 53, 71, 89]  # 3 s: 6 frames, 17.8 apart
    assert rate_frame_indices(5, 30.0, 2.0, 8) == [0, 1, 3, 4]


def test_revos_tao_videos_are_cropped_to_the_objects_span(tmp_path):
    src = FIX / "revos"
    meta = json.loads((src / "meta_expressions_train_.json").read_text())
    masks = json.loads((src / "mask_dict.json").read_text())
    rle = next(r for r in masks["0"] if r is not None)
    video = dict(meta["videos"]["vid_a"])
    video["expressions"] = {"0": {"exp": "the cat", "obj_id": [0], "anno_id": [7]},
                            "1": {"exp": "a blink", "obj_id": [1], "anno_id": [8]}}  # fmt: skip
    (tmp_path / "meta_expressions_train_.json").write_text(json.dumps({"videos": {"TAO/vid_a": video}}))
    (tmp_path / "mask_dict.json").write_text(
        json.dumps({"7": [None, rle, rle, None], "8": [None, None, rle, None]})
    )
    (tmp_path / "JPEGImages" / "TAO").mkdir(parents=True)
    shutil.copytree(src / "JPEGImages" / "vid_a", tmp_path / "JPEGImages" / "TAO" / "vid_a")
    source = build_source({"type": "revos", "root": str(tmp_path)})
    # expression 1 shows its object on one frame only: upstream drops it
    assert [it.sample_id for it in source.items] == ["TAO/vid_a/0"]
    ex = load_example(source[0], 8, random.Random(0))
    np.testing.assert_allclose(ex.timestamps, [1 / 6, 2 / 6])  # frames 1-2, on the video's own timeline
    assert ex.mask_targets.any(axis=(1, 2)).all()


def test_another_sam2_replaces_the_checkpoints(tmp_path):
    """`3b tiny` / `3b large` on a UniPixel (Hiera-B+) checkpoint: SAM2.1 of the asked size, from its
    folder, replaces the checkpoint's; everything else keeps the checkpoint's weights."""
    from transformers import Sam2VideoModel

    from evqa.model.presets import sam2_config

    model, processor = build_model("tiny", "tiny", seed=0)  # SAM2.1 Hiera-T (256-wide neck) at 128 px
    save_model(model, processor, tmp_path / "base")
    torch.manual_seed(1)
    other = Sam2VideoModel(sam2_config("base", 128))
    other.save_pretrained(tmp_path / "sam2-base")
    args = _args(tmp_path / "base", sam2="base", sam2_pretrained=str(tmp_path / "sam2-base"))
    swapped, _ = load_base_checkpoint(args, None)
    assert swapped.config.sam2_config.vision_config.backbone_config.hidden_size == 112  # Hiera-B+
    for name, value in other.state_dict().items():
        assert torch.equal(swapped.sam2.state_dict()[name], value), name
    kept = {k: v for k, v in model.state_dict().items() if not k.startswith("sam2.")}
    assert all(torch.equal(swapped.state_dict()[k], v) for k, v in kept.items())
    with pytest.raises(ConfigError, match="sam2_pretrained"):
        load_base_checkpoint(_args(tmp_path / "base", sam2="base"), None)


def test_upstream_recipe_run_resumes_with_every_trained_weight(tmp_path, base_checkpoint):
    """A LoRA run with every upstream knob on, killed after its first checkpoint and auto-resumed, logs the
    losses of an uninterrupted run: the heads, SAM2, embeddings and LM head come back with the adapters."""
    import yaml
    from transformers import TrainerCallback

    from evqa.training.main import main

    class Killed(RuntimeError):
        pass

    class KillAfterSave(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == 1:
                raise Killed

    def experiment(name):
        cfg = {
            "model": {"preset": "tiny", "sam2": "micro", "base_model": str(base_checkpoint[0]), "lora": True,
                      "lora_r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "lora_targets": "unipixel",
                      "train_embeddings": True, "sam2_trainable": "all"},
            "data": {"num_frames": 2, "sample_type": "segments", "prompt_style": "upstream", "resolution": "upstream",
                     "sources": [{"type": "mevis", "root": str(FIX / "mevis"), "repeat": 8}]},
            "training": {"output_dir": str(tmp_path / name), "max_steps": 3, "per_device_train_batch_size": 1,
                         "learning_rate": 2e-2, "head_lr": 2e-2, "sam2_lr": 2e-2, "warmup_steps": 0, "logging_steps": 1,
                         "save_steps": 1,
                         "dataloader_num_workers": 0, "seed": 0, "disable_tqdm": True},
        }  # fmt: skip
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return path

    def losses(name):
        history = json.loads((tmp_path / name / "trainer_state.json").read_text())["log_history"]
        return {h["step"]: h["loss"] for h in history if "loss" in h}

    main(["--config", str(experiment("full"))])
    with pytest.raises(Killed):
        main(["--config", str(experiment("killed"))], callbacks=[KillAfterSave()])
    assert (tmp_path / "killed" / "checkpoint-1" / TRAINABLE_FILE).is_file()
    main(["--config", str(experiment("killed"))])
    reference, resumed = losses("full"), losses("killed")
    assert sorted(resumed) == [1, 2, 3]
    for step in (2, 3):
        assert resumed[step] == pytest.approx(reference[step], rel=1e-4, abs=1e-4)
    assert reference[3] != pytest.approx(reference[1], rel=1e-3)
