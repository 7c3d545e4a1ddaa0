"""UniPixel -> EVQA conversion.

Part 1, Meta SAM2 -> transformers Sam2VideoModel: converted tiny Meta modules give the same outputs.
Part 2, a whole tiny UniPixel-style checkpoint (legacy Qwen2.5-VL keys + Meta `sam2.*` + heads, sharded
safetensors) converts into an EVQA checkpoint that the strict loader accepts.

The tiny Meta SAM2 is built from `sam2.modeling.*` classes directly (no hydra, no torchvision) with the
hyper-parameters of a tiny transformers `Sam2VideoConfig`, and every parameter is randomised (many SAM2
parameters start at zero, which would hide mapping mistakes).
"""

import json

import pytest
import torch
from safetensors.torch import save_file
from sam2.modeling.backbones.hieradet import Hiera
from sam2.modeling.backbones.image_encoder import FpnNeck, ImageEncoder
from sam2.modeling.memory_attention import MemoryAttention, MemoryAttentionLayer
from sam2.modeling.memory_encoder import CXBlock, Fuser, MaskDownSampler, MemoryEncoder
from sam2.modeling.position_encoding import PositionEmbeddingSine
from sam2.modeling.sam.mask_decoder import MaskDecoder
from sam2.modeling.sam.transformer import RoPEAttention, TwoWayTransformer
from sam2.modeling.sam2_base import SAM2Base
from torch import nn
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Sam2VideoConfig, Sam2VideoModel
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLRMSNorm

from evqa.cli.main import run_command
from evqa.errors import InputError, ModelError
from evqa.model.convert_sam2 import meta_sam2_to_hf
from evqa.model.convert_unipixel import convert_unipixel, qwen_key, sam2_name
from evqa.model.loading import load_model
from evqa.model.tokenizer import build_tiny_tokenizer, special_token_ids

SIDE = 64  # SAM2 input side (pixels)


def tiny_sam2_config(side: int = SIDE) -> Sam2VideoConfig:
    """A Hiera with 4 stages (8..64 channels), 64-wide neck/decoder/memory; Meta can build all of it."""
    embed = [8, 16, 32, 64]
    sizes = [[side // 4] * 2, [side // 8] * 2, [side // 16] * 2]
    hiera = dict(model_type="sam2_hiera_det_model", hidden_size=8, num_attention_heads=1, image_size=[side, side],
                 blocks_per_stage=[1, 1, 2, 1], embed_dim_per_stage=embed, num_attention_heads_per_stage=[1, 2, 4, 8],
                 global_attention_blocks=[3], window_size_per_stage=[8, 4, 4, 4],
                 window_positional_embedding_background_size=[7, 7])  # fmt: skip
    vision = dict(model_type="sam2_vision_model", backbone_config=hiera, backbone_channel_list=embed[::-1],
                  backbone_feature_sizes=sizes, fpn_hidden_size=64)  # fmt: skip
    return Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config=dict(hidden_size=64, image_size=side, patch_size=16),
        mask_decoder_config=dict(hidden_size=64, mlp_dim=64, num_attention_heads=2, iou_head_hidden_dim=64),
        image_size=side,
        memory_attention_hidden_size=64,
        memory_attention_num_layers=2,
        memory_attention_feed_forward_hidden_size=64,
        memory_attention_rope_feat_sizes=sizes[-1],
        memory_encoder_hidden_size=64,
        mask_downsampler_embed_dim=64,
        memory_fuser_embed_dim=64,
        memory_fuser_intermediate_dim=256,
        memory_fuser_num_layers=2,
    )


def _rope(config: Sam2VideoConfig, **extra) -> RoPEAttention:
    return RoPEAttention(rope_theta=10000.0, feat_sizes=list(config.memory_attention_rope_feat_sizes),
                         embedding_dim=config.memory_attention_hidden_size, num_heads=1, downsample_rate=1,
                         dropout=0.1, **extra)  # fmt: skip


def build_meta_sam2(config: Sam2VideoConfig) -> SAM2Base:
    """Meta's SAM2.1 (the released YAML's switches) with `config`'s sizes, all parameters ~N(0, 0.2)."""
    hiera, vision, width = (
        config.vision_config.backbone_config,
        config.vision_config,
        config.vision_config.fpn_hidden_size,
    )
    trunk = Hiera(embed_dim=hiera.hidden_size, num_heads=hiera.num_attention_heads, stages=hiera.blocks_per_stage,
                  global_att_blocks=hiera.global_attention_blocks, window_spec=hiera.window_size_per_stage,
                  window_pos_embed_bkg_spatial_size=hiera.window_positional_embedding_background_size)  # fmt: skip
    neck = FpnNeck(PositionEmbeddingSine(num_pos_feats=width, normalize=True), d_model=width,
                   backbone_channel_list=vision.backbone_channel_list, fpn_top_down_levels=vision.fpn_top_down_levels,
                   fpn_interp_model="nearest")  # fmt: skip
    mem = config.memory_encoder_output_channels
    layer = MemoryAttentionLayer(activation="relu", cross_attention=_rope(config, rope_k_repeat=True, kv_in_dim=mem),
                                 d_model=width, dim_feedforward=config.memory_attention_feed_forward_hidden_size,
                                 dropout=0.1, pos_enc_at_attn=False, pos_enc_at_cross_attn_keys=True,
                                 pos_enc_at_cross_attn_queries=False, self_attention=_rope(config))  # fmt: skip
    fuser = Fuser(CXBlock(dim=width, kernel_size=7, padding=3, layer_scale_init_value=1e-6, use_dwconv=True),
                  num_layers=config.memory_fuser_num_layers)  # fmt: skip
    memory_encoder = MemoryEncoder(out_dim=mem, mask_downsampler=MaskDownSampler(embed_dim=width, kernel_size=3,
                                   stride=2, padding=1, total_stride=16), fuser=fuser,
                                   position_encoding=PositionEmbeddingSine(num_pos_feats=mem, normalize=True),
                                   in_dim=width)  # fmt: skip
    model = SAM2Base(
        ImageEncoder(trunk, neck, scalp=1),
        MemoryAttention(d_model=width, pos_enc_at_input=True, layer=layer,
                        num_layers=config.memory_attention_num_layers),  # fmt: skip
        memory_encoder,
        image_size=config.image_size, sigmoid_scale_for_mem_enc=20.0, sigmoid_bias_for_mem_enc=-10.0,
        use_mask_input_as_output_without_sam=True, directly_add_no_mem_embed=True, no_obj_embed_spatial=True,
        use_high_res_features_in_sam=True, multimask_output_in_sam=True, iou_prediction_use_sigmoid=True,
        use_obj_ptrs_in_encoder=True, add_tpos_enc_to_obj_ptrs=True, proj_tpos_enc_in_obj_ptrs=True,
        use_signed_tpos_enc_to_obj_ptrs=True, only_obj_ptrs_in_the_past_for_eval=True, pred_obj_scores=True,
        pred_obj_scores_mlp=True, fixed_no_obj_ptr=True, multimask_output_for_tracking=True,
        use_multimask_token_for_obj_ptr=True, multimask_min_pt_num=0, multimask_max_pt_num=1,
        use_mlp_for_obj_ptr_proj=True,
    )  # fmt: skip
    # SAM2Base fixes the decoder MLP width and head count of the released models; use the config's.
    decoder = config.mask_decoder_config
    model.sam_mask_decoder = MaskDecoder(
        num_multimask_outputs=3, transformer=TwoWayTransformer(depth=2, embedding_dim=width, mlp_dim=decoder.mlp_dim,
        num_heads=decoder.num_attention_heads), transformer_dim=width, iou_head_depth=3,
        iou_head_hidden_dim=decoder.iou_head_hidden_dim, use_high_res_features=True, iou_prediction_use_sigmoid=True,
        pred_obj_scores=True, pred_obj_scores_mlp=True, use_multimask_token_for_obj_ptr=True,
    )  # fmt: skip
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0.0, 0.2)
    return model.eval()


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(0)
    config = tiny_sam2_config()
    meta = build_meta_sam2(config)
    ours = Sam2VideoModel(config).eval()
    ours.load_state_dict(meta_sam2_to_hf(meta.state_dict()), strict=True)  # every key, every shape
    return meta, ours


def _meta_features(meta, pixels):
    out = meta.forward_image(pixels)
    _, feats, pos, sizes = meta._prepare_backbone_features(out)
    return out, feats, pos, sizes


def test_image_encoder_outputs_equal(pair):
    meta, ours = pair
    pixels = torch.randn(2, 3, SIDE, SIDE)
    with torch.no_grad():
        out = meta.forward_image(pixels)
        hf = ours.get_image_features(pixels)
    assert len(hf.fpn_hidden_states) == 3
    for level, (a, b) in enumerate(zip(out["backbone_fpn"], hf.fpn_hidden_states, strict=True)):
        assert b.shape == (a.shape[2] * a.shape[3], 2, a.shape[1]), level
        torch.testing.assert_close(a.flatten(2).permute(2, 0, 1), b, atol=1e-5, rtol=0)
    for a, b in zip(out["vision_pos_enc"], hf.fpn_position_encoding, strict=True):
        torch.testing.assert_close(a.flatten(2).permute(2, 0, 1), b, atol=1e-5, rtol=0)
    assert out["backbone_fpn"][-1].abs().max() > 0.1  # a real signal was compared


def test_point_prompted_mask_decoder_outputs_equal(pair):
    meta, ours = pair
    pixels = torch.randn(1, 3, SIDE, SIDE)
    points, labels = torch.tensor([[[10.0, 20.0], [40.0, 33.0]]]), torch.tensor([[1, 0]], dtype=torch.int32)
    with torch.no_grad():
        _, feats, _, sizes = _meta_features(meta, pixels)
        top = (feats[-1] + meta.no_mem_embed).permute(1, 2, 0).view(1, -1, *sizes[-1])
        high = [f.permute(1, 2, 0).view(1, -1, *s) for f, s in zip(feats[:-1], sizes[:-1], strict=True)]
        expected = meta._forward_sam_heads(
            top, point_inputs={"point_coords": points, "point_labels": labels}, high_res_features=high,
            multimask_output=True,
        )  # fmt: skip
        got = ours._single_frame_forward(
            pixel_values=pixels, input_points=points[:, None], input_labels=labels[:, None]
        )
    _, _, ious, low_res, _, pointer, object_score = expected
    torch.testing.assert_close(got.iou_scores[:, 0], ious, atol=1e-5, rtol=0)
    torch.testing.assert_close(got.pred_masks, low_res, atol=1e-5, rtol=0)
    torch.testing.assert_close(got.object_pointer[:, 0], pointer, atol=1e-5, rtol=0)
    torch.testing.assert_close(got.object_score_logits[:, 0], object_score, atol=1e-5, rtol=0)
    assert low_res.abs().max() > 0.1


def test_sparse_embedding_mask_decoder_outputs_equal(pair):
    """The path EVQA uses: `<|seg|>` -> sparse prompt embeddings -> mask decoder (batch of 2)."""
    meta, ours = pair
    pixels, sparse = torch.randn(2, 3, SIDE, SIDE), torch.randn(2, 2, 64)
    with torch.no_grad():
        _, feats, _, sizes = _meta_features(meta, pixels)
        top = feats[-1].permute(1, 2, 0).view(2, -1, *sizes[-1])
        high = [f.permute(1, 2, 0).view(2, -1, *s) for f, s in zip(feats[:-1], sizes[:-1], strict=True)]
        dense = meta.sam_prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(2, -1, *sizes[-1])
        expected = meta.sam_mask_decoder(
            image_embeddings=top, image_pe=meta.sam_prompt_encoder.get_dense_pe(), sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense, multimask_output=True, repeat_image=False, high_res_features=high,
        )  # fmt: skip
        got = ours.mask_decoder(
            image_embeddings=top, image_positional_embeddings=ours.get_image_wide_positional_embeddings().repeat(2, 1, 1, 1),
            sparse_prompt_embeddings=sparse[:, None], dense_prompt_embeddings=dense, multimask_output=True,
            high_resolution_features=high,
        )  # fmt: skip
    for a, b in zip(expected, got, strict=True):
        torch.testing.assert_close(b[:, 0], a, atol=1e-5, rtol=0)


def test_memory_encoder_outputs_equal(pair):
    meta, ours = pair
    features, masks = torch.randn(1, 64, SIDE // 16, SIDE // 16), torch.randn(1, 1, SIDE, SIDE)
    with torch.no_grad():
        expected = meta.memory_encoder(features, masks, skip_mask_sigmoid=True)
        got, got_pos = ours.memory_encoder(features, masks)
    torch.testing.assert_close(got, expected["vision_features"], atol=1e-5, rtol=0)
    torch.testing.assert_close(got_pos, expected["vision_pos_enc"][0], atol=1e-5, rtol=0)


def test_unknown_or_colliding_keys_raise():
    with pytest.raises(ModelError, match="unknown Meta SAM2 parameter 'sam_mask_decoder_v2.weight'"):
        meta_sam2_to_hf({"sam_mask_decoder_v2.weight": torch.zeros(1)})
    with pytest.raises(ModelError, match="two Meta SAM2 parameters map to"):
        meta_sam2_to_hf({"memory_encoder.fuser.layers.0.gamma": torch.zeros(1),
                         "memory_encoder.fuser.layers.0.weight": torch.zeros(1)})  # fmt: skip


def test_unipixel_gamma_spelling_and_identity_projection():
    """UniPixel saves CXBlock's `gamma` as `weight`; a missing Meta output projection becomes identity."""
    state = {
        "memory_encoder.fuser.layers.0.weight": torch.ones(4),
        "memory_encoder.pix_feat_proj.weight": torch.ones(4, 4, 1, 1),
    }
    out = meta_sam2_to_hf(state)
    assert torch.equal(out["memory_encoder.memory_fuser.layers.0.scale"], torch.ones(4))
    assert torch.equal(out["memory_encoder.projection.weight"][:, :, 0, 0], torch.eye(4))


# ---- part 2: a whole UniPixel checkpoint --------------------------------------------------------------
HIDDEN = 32
C = 64  # SAM2 width of tiny_sam2_config; the vision merger is 16 x 2^2 = 64 wide
HEADS = {  # UniPixel's `<|ref|>` and `<|mem|>` modules (shapes as UniPixel builds them)
    **{f"ref_encoder.point_embeddings.{i}.weight": (1, C) for i in range(4)},
    "ref_encoder.not_a_point_embed.weight": (1, C), "ref_encoder.no_mask_embed.weight": (1, C),
    "ref_encoder.pe_layer.positional_encoding_gaussian_matrix": (2, C // 2),
    "ref_encoder.mask_downscaling.0.weight": (4, 1, 2, 2), "ref_encoder.mask_downscaling.0.bias": (4,),
    "ref_encoder.mask_downscaling.1.weight": (4,), "ref_encoder.mask_downscaling.1.bias": (4,),
    "ref_encoder.mask_downscaling.3.weight": (16, 4, 2, 2), "ref_encoder.mask_downscaling.3.bias": (16,),
    "ref_encoder.mask_downscaling.4.weight": (16,), "ref_encoder.mask_downscaling.4.bias": (16,),
    "ref_encoder.mask_downscaling.6.weight": (C, 16, 1, 1), "ref_encoder.mask_downscaling.6.bias": (C,),
    "ref_proj_single.weight": (3 * C, 2 * C), "ref_proj_single.bias": (3 * C,),
    "ref_proj_double.weight": (3 * C, 3 * C), "ref_proj_double.bias": (3 * C,),
    "ref_proj.1.weight": (HIDDEN, 6 * C), "ref_proj.1.bias": (HIDDEN,),
    "tem_pe.positional_encoding_gaussian_matrix": (1, C // 2), "tem_emb.weight": (1, C),
    "tem_proj.weight": (3 * C, C), "tem_proj.bias": (3 * C,),
    "msk_proj.0.weight": (64, 64), "msk_proj.0.bias": (64,), "msk_proj.2.weight": (HIDDEN, 64),
    "msk_proj.2.bias": (HIDDEN,),
}  # fmt: skip


def _tiny_qwen_config(tokenizer) -> Qwen2_5_VLConfig:
    ids = special_token_ids(tokenizer)
    return Qwen2_5_VLConfig(
        text_config=dict(hidden_size=HIDDEN, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                         num_key_value_heads=1, vocab_size=len(tokenizer),
                         rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [4, 2, 2]}),
        vision_config=dict(depth=1, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=HIDDEN,
                           fullatt_block_indexes=[0]),
        image_token_id=ids["image_pad"], video_token_id=ids["video_pad"],
        vision_start_token_id=ids["vision_start"], vision_end_token_id=ids["vision_end"], tie_word_embeddings=False,
    )  # fmt: skip


def _legacy(key: str) -> str:
    """Current Qwen2.5-VL key -> the pre-5.x layout released checkpoints use."""
    if key.startswith("model.visual."):
        return key[len("model.") :]
    return key.replace("model.language_model.", "model.", 1)


@pytest.fixture(scope="module")
def unipixel(tmp_path_factory):
    """A tiny UniPixel checkpoint folder and the modules it was made from."""
    torch.manual_seed(1)
    src = tmp_path_factory.mktemp("unipixel")
    tokenizer = build_tiny_tokenizer()
    qwen_config = _tiny_qwen_config(tokenizer)
    qwen = Qwen2_5_VLForConditionalGeneration(qwen_config).eval()
    with torch.no_grad():
        qwen.model.language_model.norm.weight.uniform_(0.5, 1.5)
    seg_head = nn.Sequential(
        Qwen2_5_VLRMSNorm(HIDDEN), nn.Linear(HIDDEN, HIDDEN), nn.GELU(), nn.Linear(HIDDEN, 2 * 64)
    )
    with torch.no_grad():
        seg_head[0].weight.uniform_(-2.0, 2.0)
    meta = build_meta_sam2(tiny_sam2_config())
    state = {_legacy(k): v for k, v in qwen.state_dict().items()}
    state.update({f"sam2.{k}": v for k, v in meta.state_dict().items()})
    state.update({f"seg_head.{k}": v for k, v in seg_head.state_dict().items()})
    heads = {k: torch.randn(shape) for k, shape in HEADS.items()}
    state.update(heads)
    keys = sorted(state)
    shards = {"model-00001-of-00002.safetensors": keys[::2], "model-00002-of-00002.safetensors": keys[1::2]}
    for name, part in shards.items():
        save_file({k: state[k].contiguous() for k in part}, str(src / name))
    weight_map = {k: name for name, part in shards.items() for k in part}
    (src / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    config = qwen_config.to_dict()
    config.update(
        model_type="pixel_qwen2_5_vl",
        sam2_config="sam2.1_hiera_t",
        sam2_image_size=SIDE,
        sam2_hidden_tokens=2,
    )
    (src / "config.json").write_text(json.dumps(config))
    tokenizer.save_pretrained(src)
    return {
        "src": src,
        "qwen": qwen,
        "meta": meta,
        "seg_head": seg_head.eval(),
        "tokenizer": tokenizer,
        "heads": heads,
    }


@pytest.fixture(scope="module")
def converted(unipixel, tmp_path_factory):
    dst = tmp_path_factory.mktemp("evqa")
    report = convert_unipixel(unipixel["src"], dst, sam2_config=tiny_sam2_config(), dtype=torch.float32)
    model, processor = load_model(dst)  # strict: every weight present, nothing unexpected
    return report, model, processor


def test_qwen_weights_copied(unipixel, converted):
    _, model, _ = converted
    ours = model.state_dict()
    for key, value in unipixel["qwen"].state_dict().items():
        assert torch.equal(ours[key], value), key


def test_sam2_outputs_equal_meta(unipixel, converted):
    _, model, _ = converted
    pixels = torch.randn(1, 3, SIDE, SIDE)
    with torch.no_grad():
        expected = unipixel["meta"].forward_image(pixels)["backbone_fpn"]
        got = model.sam2.get_image_features(pixels).fpn_hidden_states
    for a, b in zip(expected, got, strict=True):
        torch.testing.assert_close(a.flatten(2).permute(2, 0, 1), b, atol=1e-5, rtol=0)


def test_seg_head_reads_the_final_norm_input(unipixel, converted):
    """UniPixel's seg head on the final norm's input; ours is the same module with the same weights."""
    _, model, _ = converted
    hidden = torch.randn(3, HIDDEN) * 4
    with torch.no_grad():
        expected = unipixel["seg_head"](hidden).reshape(3, 2, 64)
        got = model.seg_prompts(hidden)
        out = model(input_ids=torch.tensor([[5, 6, 7, 8]]))
        captured = {}
        hook = model.model.language_model.norm.register_forward_pre_hook(lambda m, a: captured.update(x=a[0]))
        model(input_ids=torch.tensor([[5, 6, 7, 8]]))
        hook.remove()
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert expected.abs().max() > 0.1
    assert torch.equal(out.prenorm_hidden, captured["x"])


def test_ref_and_mem_tensors_convert(unipixel, converted):
    _, model, _ = converted
    heads = unipixel["heads"]
    state = model.state_dict()
    assert torch.equal(state["ref_encoder.time_pe"], heads["tem_pe.positional_encoding_gaussian_matrix"])
    assert torch.equal(state["ref_encoder.box_proj.weight"], heads["ref_proj_double.weight"])
    assert torch.equal(state["ref_encoder.proj.1.weight"], heads["ref_proj.1.weight"])
    assert torch.equal(state["mem_proj.mlp.2.weight"], heads["msk_proj.2.weight"])
    points = torch.cat([heads[f"ref_encoder.point_embeddings.{i}.weight"] for i in range(4)])
    assert torch.equal(state["ref_encoder.prompt.point_embed.weight"], points)
    assert torch.equal(
        state["ref_encoder.prompt.shared_embedding.positional_embedding"],
        heads["ref_encoder.pe_layer.positional_encoding_gaussian_matrix"],
    )


def test_report_and_processor(unipixel, converted):
    report, _, processor = converted
    assert report.dropped == [] and report.initialised == []
    assert report.converted["sam2"] == len(unipixel["meta"].state_dict())
    assert report.converted["seg_head"] == 5
    assert report.converted["ref"] + report.converted["mem"] == len(HEADS)
    assert processor.timestamp_hint is False
    assert processor.sam2_image_size == SIDE
    assert processor.token_ids == special_token_ids(unipixel["tokenizer"])


def test_qwen_key_layouts():
    assert qwen_key("visual.blocks.0.attn.qkv.weight") == "model.visual.blocks.0.attn.qkv.weight"
    assert qwen_key("model.layers.0.mlp.up_proj.weight") == "model.language_model.layers.0.mlp.up_proj.weight"
    assert qwen_key("model.language_model.norm.weight") == "model.language_model.norm.weight"
    assert qwen_key("lm_head.weight") == "lm_head.weight"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sam2.1_hiera_b+", "base"),
        ("configs/sam2.1/sam2.1_hiera_t.yaml", "tiny"),
        ("sam2.1_hiera_l", "large"),
    ],
)
def test_sam2_size_from_unipixel_config(value, expected):
    assert sam2_name({"sam2_config": value}, None) == expected
    assert sam2_name({"sam2_config": value}, "large") == "large"  # --sam2 wins


def test_sam2_size_unknown_asks_for_flag():
    with pytest.raises(ModelError, match="pass --sam2"):
        sam2_name({"sam2_config": None}, None)


def _copy_checkpoint(src, dst, extra: dict[str, torch.Tensor] | None = None):
    dst.mkdir()
    for path in src.iterdir():
        (dst / path.name).write_bytes(path.read_bytes())
    if extra:
        save_file(extra, str(dst / "model-00002-of-00002.safetensors"))
        index = json.loads((dst / "model.safetensors.index.json").read_text())
        index["weight_map"] = {
            k: v for k, v in index["weight_map"].items() if not v.startswith("model-00002")
        }
        index["weight_map"].update(dict.fromkeys(extra, "model-00002-of-00002.safetensors"))
        (dst / "model.safetensors.index.json").write_text(json.dumps(index))


def test_conversion_errors(unipixel, tmp_path):
    with pytest.raises(InputError, match="no config.json"):
        convert_unipixel(tmp_path, tmp_path / "out")
    bad = tmp_path / "bad"
    _copy_checkpoint(unipixel["src"], bad, {"mystery_head.weight": torch.zeros(2)})
    with pytest.raises(ModelError, match="unknown UniPixel parameter 'mystery_head.weight'"):
        convert_unipixel(bad, tmp_path / "out", sam2_config=tiny_sam2_config())
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "config.json").write_text("{}")
    (adapter / "adapter_config.json").write_text("{}")
    with pytest.raises(ModelError, match="LoRA adapter"):
        convert_unipixel(adapter, tmp_path / "out")
    with pytest.raises(ModelError, match="--base-preset 7b expects LLM width 3584"):
        convert_unipixel(unipixel["src"], tmp_path / "out", sam2_config=tiny_sam2_config(), base_preset="7b")


def test_cli_converts_and_reports_errors(unipixel, tmp_path, monkeypatch, capsys):
    import evqa.model.presets as presets

    monkeypatch.setattr(presets, "sam2_config", lambda name, size: tiny_sam2_config(size))
    dst = tmp_path / "cli"
    assert run_command("convert-unipixel", [str(unipixel["src"]), str(dst), "--dtype", "float32"]) == 0
    out = capsys.readouterr().out
    assert "SAM2 tiny, 64 px" in out and "dropped: 0" in out
    assert json.loads((dst / "conversion_report.json").read_text())["sam2"] == "tiny"
    assert run_command("convert-unipixel", [str(tmp_path / "missing"), str(dst)]) == 2
    assert (
        capsys.readouterr().err == f"error: {tmp_path / 'missing'}: no config.json: not a checkpoint folder\n"
    )
