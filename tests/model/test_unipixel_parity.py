"""A UniPixel checkpoint converted by `convert_unipixel` reproduces UniPixel's own outputs.

The golden fixture (tests/fixtures/unipixel_tiny, or the folder in $EVQA_UNIPIXEL_GOLDEN) was made by running
UniPixel's unmodified code on a tiny checkpoint: weights, exact inputs, and its outputs and intermediate
values (README.md there). Sizes, token ids and frame counts are read from the fixture, never written here.
Tolerances are the fixture README's: integers and booleans equal; LM / seg arrays abs 1e-4; SAM2 floats abs
1e-4 below 10 and relative 1e-5 above; losses relative 1e-4.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from evqa.model.convert_unipixel import convert_unipixel, sam2_config_from_unipixel
from evqa.model.loading import load_model
from evqa.model.sam2_tracking import encode_frames

FIXTURE = Path(
    os.environ.get("EVQA_UNIPIXEL_GOLDEN") or Path(__file__).parents[1] / "fixtures" / "unipixel_tiny"
)
VIDEO = 2  # Qwen2.5-VL mm_token_type_ids value of video tokens


def close_lm(got, want, name):
    got = got.detach().float().cpu().numpy() if torch.is_tensor(got) else np.asarray(got)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    err = np.abs(got - want).max()
    assert err <= 1e-4, f"{name}: max abs error {err}"


def close_sam(got, want, name):
    """abs 1e-4 where |value| < 10, relative 1e-5 above (the fixture's -1024 entries must be exact)."""
    got = got.detach().float().cpu().numpy() if torch.is_tensor(got) else np.asarray(got)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    small = np.abs(want) < 10
    err_abs = np.abs(got - want)[small].max(initial=0.0)
    err_rel = (np.abs(got - want) / np.maximum(np.abs(want), 1e-12))[~small].max(initial=0.0)
    assert err_abs <= 1e-4 and err_rel <= 1e-5, f"{name}: abs {err_abs}, rel {err_rel}"


@pytest.fixture(scope="module")
def golden():
    if not (FIXTURE / "outputs.npz").is_file():
        pytest.fail(f"no golden fixture at {FIXTURE}")
    meta = json.loads((FIXTURE / "fixture_meta.json").read_text())
    return {
        "meta": meta,
        "inputs": dict(np.load(FIXTURE / "inputs.npz")),
        "out": dict(np.load(FIXTURE / "outputs.npz")),
    }


@pytest.fixture(scope="module")
def converted(golden, tmp_path_factory):
    torch.set_num_threads(1)
    dst = tmp_path_factory.mktemp("unipixel") / "evqa"
    sam2 = sam2_config_from_unipixel(golden["meta"]["sam2_config_resolved"])
    report = convert_unipixel(FIXTURE, dst, sam2_config=sam2)
    model, processor = load_model(dst)
    return model, processor, report


def llm_inputs(model, inputs, ids_key="input_ids", mask_key="attention_mask"):
    ids = torch.from_numpy(inputs[ids_key])
    types = torch.where(ids == model.config.video_token_id, VIDEO, 0)
    return dict(
        input_ids=ids,
        attention_mask=torch.from_numpy(inputs[mask_key]),
        mm_token_type_ids=types,
        pixel_values_videos=torch.from_numpy(inputs["pixel_values_videos"]),
        video_grid_thw=torch.from_numpy(inputs["video_grid_thw"]),
        second_per_grid_ts=torch.from_numpy(inputs["second_per_grid_ts"]),
    )


@pytest.fixture(scope="module")
def teacher_forced(golden, converted):
    model, _, _ = converted
    with torch.no_grad():
        return model(**llm_inputs(model, golden["inputs"]))


def track(model, golden, prompt_hidden):
    """UniPixel's inference decoding of one `<|seg|>`: fresh features, frame 0, forward, traced."""
    frames = torch.from_numpy(golden["inputs"]["sam2_frames"])
    with torch.no_grad():
        feats = encode_frames(model.sam2, frames)
        trace = {}
        out = model.segment(
            prompt_hidden, feats.__getitem__, len(feats), 0, keep_candidates=True, trace=trace
        )
    return feats, out, trace


def check_object(model, golden, prefix, prompt_hidden):
    """Every `{prefix}*` SAM2 array of one decoded object."""
    want = golden["out"]
    num_frames = golden["inputs"]["sam2_frames"].shape[0]
    frame_size = tuple(int(v) for v in golden["inputs"]["frame_size"])
    _, out, trace = track(model, golden, prompt_hidden)
    per_frame = lambda key: torch.stack([trace[key][t] for t in range(num_frames)])  # noqa: E731
    close_lm(
        model.seg_prompts(prompt_hidden), want[prefix + "sam_prompt_hidden"], prefix + "sam_prompt_hidden"
    )
    close_lm(
        trace["sparse_prompt"][0], want[prefix + "sparse_prompt_frame0"], prefix + "sparse_prompt_frame0"
    )
    for t in range(1, num_frames):
        close_lm(
            trace["sparse_prompt"][t], want[prefix + "sparse_prompt_other_frames"], f"{prefix}sparse t={t}"
        )
    no_mask = model.sam2.prompt_encoder.no_mask_embed.weight.reshape(-1, 1, 1)
    close_lm(
        no_mask.expand_as(torch.from_numpy(want[prefix + "dense_prompt"])),
        want[prefix + "dense_prompt"],
        "dense",
    )
    close_sam(
        per_frame("pix_feat_with_mem"), want[prefix + "pix_feat_with_mem"], prefix + "pix_feat_with_mem"
    )
    close_sam(per_frame("raw_logits"), want[prefix + "decoder_multimask_logits_raw"], prefix + "raw")
    close_sam(
        out.candidate_logits, want[prefix + "low_res_multimask_logits"], prefix + "low_res_multimask_logits"
    )
    close_sam(out.candidate_ious, want[prefix + "iou_predictions"], prefix + "iou_predictions")
    assert out.best_index.tolist() == want[prefix + "best_mask_index"].tolist()
    close_sam(out.mask_logits, want[prefix + "low_res_best_logits"], prefix + "low_res_best_logits")
    close_sam(out.object_score_logits, want[prefix + "object_score_logits"], prefix + "object_score_logits")
    close_sam(per_frame("obj_ptr"), want[prefix + "obj_ptr"], prefix + "obj_ptr")
    side = want[prefix + "maskmem_features"].shape[-1]
    memory = per_frame("maskmem_features").permute(0, 2, 3, 1).reshape(num_frames, -1, side, side)
    close_sam(memory, want[prefix + "maskmem_features"], prefix + "maskmem_features")
    for t in range(num_frames):  # the same spatial encoding on every frame: [C, h, w]
        pos = trace["maskmem_pos_enc"][t][:, 0].T.reshape(-1, side, side)
        close_sam(pos, want[prefix + "maskmem_pos_enc"], f"{prefix}maskmem_pos_enc t={t}")
    video = F.interpolate(out.mask_logits[:, None], size=frame_size, mode="bilinear", align_corners=False)[
        :, 0
    ]
    close_sam(video, want[prefix + "video_res_logits"], prefix + "video_res_logits")
    return (video > 0).numpy()


def test_converts_every_tensor(golden, converted):
    _, _, report = converted
    total = golden["meta"]["load_check"]["load_state_dict_strict"]["num_tensors_file"]
    assert report.dropped == [] and report.initialised == []
    assert sum(report.converted.values()) == total


def test_teacher_forced_lm(golden, converted, teacher_forced):
    model, _, _ = converted
    want, inputs = golden["out"], golden["inputs"]
    close_lm(teacher_forced.logits[0], want["lm_logits"][0], "lm_logits")
    close_lm(teacher_forced.prenorm_hidden[0], want["lm_prenorm_hidden"], "lm_prenorm_hidden")
    args = llm_inputs(model, inputs)
    positions, deltas = model.model.get_rope_index(
        args["input_ids"], args["mm_token_type_ids"], None, args["video_grid_thw"], args["second_per_grid_ts"],
        args["attention_mask"],
    )  # fmt: skip
    assert np.array_equal(positions.numpy(), want["lm_position_ids"])
    assert np.array_equal(deltas.numpy(), want["lm_rope_deltas"])
    with torch.no_grad():
        video = model.model.get_video_features(
            args["pixel_values_videos"], args["video_grid_thw"]
        ).pooler_output
    close_lm(torch.cat(video), want["lm_video_embeds"], "lm_video_embeds")
    close_lm(
        model._merger_input, want["lm_merger_mlp_input_window_order"], "lm_merger_mlp_input_window_order"
    )


def test_seg_hidden_and_prompts(golden, converted, teacher_forced):
    model, _, _ = converted
    want = golden["out"]
    positions = model.seg_positions(torch.from_numpy(golden["inputs"]["input_ids"]), None, 0, every=True)
    assert positions == want["seg_hidden_positions"].tolist()
    assert [p + 1 for p in positions] == want["seg_token_positions"].tolist()
    hidden = teacher_forced.prenorm_hidden[0, positions]
    close_lm(hidden, want["seg_hidden"], "seg_hidden")
    close_lm(model.seg_prompts(hidden), want["seg_prompt_embeddings"], "seg_prompt_embeddings")
    last_is_seg = int(teacher_forced.logits[0, -1].argmax()) == model.config.seg_token_id
    assert last_is_seg == bool(want["seg_case2_last_argmax_is_seg"])


def test_sam2_backbone(golden, converted):
    model, _, _ = converted
    feats, _, _ = track(model, golden, torch.from_numpy(golden["out"]["seg_hidden"][0]))
    for level in range(3):
        got = torch.cat([f[0][level] for f in feats])
        close_sam(got, golden["out"][f"sam_backbone_fpn{level}"], f"sam_backbone_fpn{level}")
    close_sam(feats[0][1][0], golden["out"]["sam_backbone_pos_enc2"], "sam_backbone_pos_enc2")


def test_every_seg_token_decodes_like_unipixel(golden, converted, teacher_forced):
    """Each `<|seg|>` of the input: its own fresh SAM2 run, every frame, binary masks identical."""
    model, _, _ = converted
    positions = golden["out"]["seg_hidden_positions"].tolist()
    masks = []
    for k, position in enumerate(positions):
        masks.append(check_object(model, golden, f"sam_obj{k}_", teacher_forced.prenorm_hidden[0, position]))
    assert np.array_equal(np.stack(masks), golden["out"]["sam_masks"])


def test_greedy_generation_and_generated_seg(golden, converted):
    model, _, _ = converted
    want = golden["out"]
    steps = len(want["gen_output_ids"])
    args = llm_inputs(model, golden["inputs"], "gen_input_ids", "gen_attention_mask")
    model._final_norm_trace = []
    try:
        with torch.no_grad():
            out = model.generate(**args, max_new_tokens=steps, do_sample=False,
                                 output_logits=True, return_dict_in_generate=True)  # fmt: skip
        trace = model._final_norm_trace
    finally:
        model._final_norm_trace = None
    new = out.sequences[0, args["input_ids"].shape[1] :]
    assert new.tolist() == want["gen_output_ids"].tolist()
    close_lm(torch.cat(out.logits), want["gen_step_logits"], "gen_step_logits")
    seg_steps = [i for i, tok in enumerate(new.tolist()) if tok == model.config.seg_token_id]
    assert seg_steps == want["gen_seg_decode_steps"].tolist()
    states = torch.cat(trace, dim=1)[0]  # final-norm inputs of the prompt and of every step's input
    start = args["input_ids"].shape[1]
    masks = [check_object(model, golden, "gen_sam_obj0_", states[start + step - 1]) for step in seg_steps]
    assert np.array_equal(np.stack(masks), want["gen_sam_masks"])


def test_one_training_step(golden, converted):
    model, _, _ = converted
    want, inputs = golden["out"], golden["inputs"]
    model.train()
    for module in model.modules():  # the fixture's training step ran without dropout
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        if hasattr(module, "dropout_p"):  # SAM2's RoPE attention applies its dropout functionally
            module.dropout_p = 0.0
    try:
        args = llm_inputs(model, inputs)
        out = model(
            **args,
            labels=torch.from_numpy(inputs["labels"]),
            sam2_pixel_values=[torch.from_numpy(inputs["sam2_frames"])],
            mask_targets=[torch.from_numpy(inputs["label_mask"])],
        )
        out.loss.backward()
    finally:
        model.eval()
    rel = lambda got, key: abs(float(got.detach()) - float(want[key])) / abs(float(want[key]))  # noqa: E731
    assert rel(out.lm_loss, "train_loss_lm") <= 1e-4
    assert rel(out.mask_loss, "train_loss_seg") <= 1e-4
    assert rel(out.loss, "train_loss_total") <= 1e-4
    names = {"focal": "mask", "dice": "dice", "iou": "iou", "object_score": "class"}
    for ours, theirs in names.items():
        assert rel(out.mask_loss_terms[ours], f"train_seg_loss_{theirs}") <= 1e-4, ours
    close_lm(out.logits[0], want["train_logits"][0], "train_logits")
    best = out.pred_masks[0]  # [O, T, S, S] chosen logits upsampled; compare the low-res through the terms
    assert best.shape[:2] == want["train_low_res_best_logits"].shape[1::-1]
    grads = {k[len("train_grad.") :]: v for k, v in want.items() if k.startswith("train_grad.")}
    ours = {"seg_head.0.weight": model.seg_head.norm.weight, "seg_head.1.weight": model.seg_head.mlp[0].weight,
            "seg_head.1.bias": model.seg_head.mlp[0].bias, "seg_head.3.weight": model.seg_head.mlp[2].weight,
            "seg_head.3.bias": model.seg_head.mlp[2].bias}  # fmt: skip
    for name, value in grads.items():
        got = ours[name].grad.numpy()
        ok = np.abs(got - value) <= np.maximum(1e-8, 1e-3 * np.abs(value))
        assert ok.all(), f"grad {name}: max abs error {np.abs(got - value).max()}"
    model.zero_grad(set_to_none=True)
