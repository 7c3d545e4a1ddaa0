"""Analytic FLOPs per query against hand arithmetic and against torch's FlopCounterMode on tiny random
Qwen2.5-VL, Qwen3-VL, InternVL and SmolVLM models built from configs (vision tower, language model, and both
together).

The counter and the formula agree exactly (tolerance 0) with eager attention: the counter sees matmuls
(mm/addmm/bmm) and convolutions only — the same ops the formula counts — and the rotary embeddings of
these models use broadcast multiplies, not matmuls. (With SDPA on CPU the counter would miss attention:
its CPU flash kernel has no FLOP formula registered; hence eager here.)
"""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from evqa.errors import ConfigError
from evqa.eval.cost import query_flops, text_flops, vision_flops, visual_tokens

TEXT = dict(
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=300,
    max_position_embeddings=4096,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=0,
)
SPECIAL = dict(image_token_id=290, video_token_id=291, vision_start_token_id=292, vision_end_token_id=293)


def _qwen2_5_vl_config():
    from transformers import Qwen2_5_VLConfig

    return Qwen2_5_VLConfig(
        text_config={**TEXT, "rope_scaling": {"type": "mrope", "mrope_section": [2, 2, 4]}},
        vision_config=dict(
            depth=3,
            hidden_size=32,
            intermediate_size=48,
            num_heads=2,
            out_hidden_size=64,
            fullatt_block_indexes=[1],
            window_size=56,  # 56 / 2 / 14 = windows of 2 x 2 merged tokens
            patch_size=14,
        ),
        **SPECIAL,
    )


def _qwen3_vl_config():
    from transformers import Qwen3VLConfig

    return Qwen3VLConfig(
        text_config={
            **TEXT,
            "head_dim": 8,  # != 64 / 4: Qwen3 reads head_dim
            "rope_scaling": {"rope_type": "default", "mrope_section": [1, 1, 2], "mrope_interleaved": True},
        },
        vision_config=dict(
            depth=3,
            hidden_size=32,
            intermediate_size=48,
            num_heads=2,
            out_hidden_size=64,
            patch_size=16,
            num_position_embeddings=64,
            deepstack_visual_indexes=[0, 2],
        ),
        **SPECIAL,
    )


def _eager(config):
    for c in (config, config.text_config, config.vision_config):
        c._attn_implementation = "eager"
    return config


@pytest.fixture(scope="module")
def models():
    from transformers import Qwen2_5_VLForConditionalGeneration, Qwen3VLForConditionalGeneration

    torch.manual_seed(0)
    return {
        "qwen2_5_vl": Qwen2_5_VLForConditionalGeneration(_eager(_qwen2_5_vl_config())).eval(),
        "qwen3_vl": Qwen3VLForConditionalGeneration(_eager(_qwen3_vl_config())).eval(),
    }


def _counted(fn) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def _pixels(vision_config, grid):
    patches = sum(t * h * w for t, h, w in grid)
    return torch.randn(patches, 3 * vision_config.temporal_patch_size * vision_config.patch_size**2)


def test_qwen2_5_vision_formula_by_hand():
    vc = _qwen2_5_vl_config().vision_config
    grid = [(1, 6, 4)]  # 24 patches; merged 3 x 2 tokens
    p, d, i = 24, 32, 48
    embed = 2 * p * d * (3 * 2 * 14 * 14)
    linear = 2 * p * d * 3 * d + 2 * p * d * d + 6 * p * d * i
    full = 4 * d * 24**2  # one frame, one segment of 24 patches
    # windows of 2 x 2 merged tokens over 3 x 2: rows [2, 1] x cols [2] -> 4*4 and 2*4 = 16 and 8 patches
    windowed = 4 * d * (16**2 + 8**2)
    merger = 2 * 6 * 128 * 128 + 2 * 6 * 128 * 64
    expected = embed + 3 * linear + full + 2 * windowed + merger
    assert vision_flops(vc, grid) == expected
    assert visual_tokens(vc, grid) == 6


def test_text_formula_by_hand():
    tc = _qwen3_vl_config().text_config
    # per token: q, o 2*64*32 each, k, v 2*64*16 each, MLP 6*64*96 -> 12288 + 36864 = 49152
    per_token = 2 * 64 * 32 * 2 + 2 * 64 * 16 * 2 + 6 * 64 * 96
    s, g = 10, 3
    prefill = 2 * (s * per_token + 4 * 32 * s * s)
    decode = 2 * (2 * per_token + 4 * 32 * (11 + 12))  # 2 tokens fed back, attending 11 and 12 positions
    assert text_flops(tc, s, g) == (prefill, decode, 2 * 64 * 300 * 3)
    assert text_flops(tc, s, 0) == (prefill, 0, 2 * 64 * 300)  # one scoring forward: one logit row
    assert text_flops(tc, s, 1)[1] == 0  # the first token comes from the prefill


@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen3_vl"])
@pytest.mark.parametrize("grid", [[(1, 4, 4)], [(2, 6, 10), (1, 4, 4)], [(3, 8, 2)]])
def test_vision_tower_matches_flop_counter(models, family, grid):
    model = models[family]
    vc = model.config.vision_config
    pixels = _pixels(vc, grid)
    counted = _counted(lambda: model.model.visual(pixels, grid_thw=torch.tensor(grid)))
    assert counted == vision_flops(vc, grid)


@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen3_vl"])
def test_language_model_matches_flop_counter(models, family):
    model = models[family]
    ids = torch.randint(3, 280, (1, 23), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    # generation with a KV cache: prefill + 4 decode steps, logits of the last position only
    out = {}

    def generate():
        out["ids"] = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=5, min_new_tokens=5,
                                    do_sample=False, eos_token_id=None)  # fmt: skip

    counted = _counted(generate)
    assert out["ids"].shape == (1, 28)
    assert counted == sum(text_flops(model.config.text_config, 23, 5))
    # a single forward with logits at the last position (quality scoring)
    counted = _counted(lambda: model(input_ids=ids, attention_mask=mask, logits_to_keep=1))
    assert counted == sum(text_flops(model.config.text_config, 23, 0))
    # a plain forward computes logits at every position
    counted = _counted(lambda: model(input_ids=ids, attention_mask=mask))
    assert counted == sum(text_flops(model.config.text_config, 23, 0, lm_head_tokens=23))


@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen3_vl"])
def test_whole_query_with_an_image_matches_flop_counter(models, family):
    model = models[family]
    vc = model.config.vision_config
    grid = [(1, 4, 6)]  # 24 patches -> 6 visual tokens
    ids = torch.tensor([[5, 6, 7, 292] + [290] * 6 + [293, 8, 9, 10, 11]])
    kwargs = dict(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        pixel_values=_pixels(vc, grid),
        image_grid_thw=torch.tensor(grid),
        mm_token_type_ids=(ids == 290).long(),
    )
    counted = _counted(
        lambda: model.generate(
            **kwargs, max_new_tokens=4, min_new_tokens=4, do_sample=False, eos_token_id=None
        )
    )
    q = query_flops(model.config, text_tokens=9, grid_thw=grid, generated_tokens=4)
    assert (q.visual_tokens, q.prompt_tokens) == (6, 15)
    assert counted == q.total
    assert q.as_dict()["tflops"] == pytest.approx(q.total / 1e12)
    # a config.json dict gives the same numbers as the config object
    assert query_flops(model.config.to_dict(), text_tokens=9, grid_thw=grid, generated_tokens=4) == q


def test_released_size_sanity():
    # Qwen2.5-VL-7B's language model: per prompt token the projections and MLP cost 2 x their weights
    text = dict(model_type="qwen2_5_vl_text", hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                num_attention_heads=28, num_key_value_heads=4, vocab_size=152064)  # fmt: skip
    weights = 28 * (3584 * 3584 * 2 + 3584 * 512 * 2 + 3 * 3584 * 18944)  # q, o, k, v, gate/up/down
    prefill, _, _ = text_flops(text, 1)
    assert prefill == 2 * weights + 28 * 4 * 3584  # plus one 1 x 1 attention per layer
    assert 13e9 < prefill < 13.2e9  # ~6.5 B non-embedding weights -> ~13 GFLOPs a token


def test_errors():
    config = _qwen3_vl_config()
    with pytest.raises(ValueError, match="divisible by 2"):
        vision_flops(config.vision_config, [(1, 3, 4)])
    with pytest.raises(ConfigError, match="mixture-of-experts"):
        text_flops({**TEXT, "num_experts": 8}, 10)
    with pytest.raises(ConfigError, match="Qwen2.5-VL and Qwen3-VL"):
        vision_flops({"model_type": "siglip_vision_model", "spatial_merge_size": 2}, [(1, 2, 2)])
    with pytest.raises(ConfigError, match="vision_config and text_config"):
        query_flops({"text_config": TEXT}, text_tokens=3)
    with pytest.raises(ValueError, match="prompt_tokens >= 1"):
        text_flops(TEXT, 0)


# --- InternVL (InternViT tower, pixel-shuffle projector) ----------------------------------------------


# the vision tower of the InternVL, SmolVLM and VideoLLaMA3 tests (each adds its image and patch sizes)
VISION = dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=2)


def _internvl_config():
    from transformers import InternVLConfig

    return InternVLConfig(
        vision_config=dict(VISION, image_size=[56, 56], patch_size=[14, 14]),  # 16 patches a tile -> 4 tokens
        text_config={"model_type": "qwen2", **TEXT},
        image_token_id=290,
        image_seq_length=4,
    )  # fmt: skip


@pytest.fixture(scope="module")
def internvl():
    from transformers import InternVLForConditionalGeneration

    torch.manual_seed(0)
    return InternVLForConditionalGeneration(_eager(_internvl_config())).eval()


def test_internvl_vision_formula_by_hand():
    from evqa.eval.cost import tile_tokens, tiled_vision_flops

    config = _internvl_config()
    n, p, d, i, h = 16, 17, 32, 48, 64  # patches, + class token, widths
    per_tile = 2 * n * d * 3 * 14 * 14 + 2 * (2 * p * d * 4 * d + 4 * d * p * p + 4 * p * d * i)
    projector = 2 * 4 * 128 * h + 2 * 4 * h * h  # 4 shuffled tokens of 4 x 32
    assert tile_tokens(config) == 4
    assert tiled_vision_flops(config, 3) == 3 * (per_tile + projector)


@pytest.mark.parametrize("tiles", [1, 3])
def test_internvl_vision_and_whole_query_match_flop_counter(internvl, tiles):
    from evqa.eval.cost import local_query_cost, tiled_vision_flops

    pixels = torch.randn(tiles, 3, 56, 56)
    counted = _counted(lambda: internvl.model.get_image_features(pixel_values=pixels))
    assert counted == tiled_vision_flops(internvl.config, tiles)
    ids = torch.tensor([[5, 6, 7] + [290] * (4 * tiles) + [8, 9, 10]])
    kwargs = dict(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=pixels)
    counted = _counted(
        lambda: internvl.generate(
            **kwargs, max_new_tokens=4, min_new_tokens=4, do_sample=False, eos_token_id=None
        )
    )
    q = query_flops(internvl.config, text_tokens=6, tiles=tiles, generated_tokens=4)
    assert (q.visual_tokens, q.prompt_tokens) == (4 * tiles, 6 + 4 * tiles) and counted == q.total
    # what an adapter records from the prompt alone: the tiles come from the image tokens
    cost = local_query_cost(internvl.config, ids[0].tolist(), generated_tokens=4)
    assert cost["visual_tokens"] == 4 * tiles and cost["flops"]["total"] == counted
    with pytest.raises(ValueError, match="not whole tiles of 4"):
        local_query_cost(internvl.config, [5, 290, 290, 6], generated_tokens=1)


def _smolvlm_config():
    from transformers import SmolVLMConfig

    return SmolVLMConfig(
        vision_config=dict(VISION, image_size=32, patch_size=8),  # 16 patches a tile, scale 2 -> 4 tokens
        text_config={"model_type": "llama", **TEXT},
        scale_factor=2,
        image_token_id=290,
    )  # fmt: skip


def test_smolvlm_vision_formula_by_hand():
    from evqa.eval.cost import tile_tokens, tiled_vision_flops

    config = _smolvlm_config()
    n, d, i, h = 16, 32, 48, 64  # no class token; one bias-free projection of 4 x 32 -> 64
    per_tile = (
        2 * n * d * 3 * 8 * 8 + 2 * (2 * n * d * 4 * d + 4 * d * n * n + 4 * n * d * i) + 2 * 4 * 128 * h
    )
    assert tile_tokens(config) == 4 and tiled_vision_flops(config, 2) == 2 * per_tile


def test_smolvlm_whole_query_matches_flop_counter():
    from transformers import SmolVLMForConditionalGeneration

    from evqa.eval.cost import local_query_cost

    torch.manual_seed(0)
    model = SmolVLMForConditionalGeneration(_eager(_smolvlm_config())).eval()
    ids = torch.tensor([[5, 6] + [290] * 4 + [7] + [290] * 4 + [8, 9]])  # two images
    pixels = torch.randn(1, 2, 3, 32, 32)
    kwargs = dict(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=pixels)
    counted = _counted(
        lambda: model.generate(
            **kwargs, max_new_tokens=3, min_new_tokens=3, do_sample=False, eos_token_id=None
        )
    )
    q = query_flops(model.config, text_tokens=5, tiles=2, generated_tokens=3)
    assert counted == q.total and q.visual_tokens == 8
    assert local_query_cost(model.config, ids[0].tolist(), generated_tokens=3)["flops"]["total"] == counted


def _videollama3_config():
    from transformers import VideoLlama3Config

    return VideoLlama3Config(
        vision_config=dict(VISION, patch_size=14),
        text_config={"model_type": "qwen2", **TEXT},
        image_token_id=290,
        video_token_id=291,
    )  # fmt: skip


def test_videollama3_vision_formula_by_hand():
    from evqa.eval.cost import navit_vision_flops

    config = _videollama3_config()
    grid = [(1, 4, 6, 2), (2, 2, 2)]  # 24 patches merged 2 x 2 -> 6 tokens; a 2-frame video unmerged -> 8
    p, d, i, h = 32, 32, 48, 64
    attention = 4 * d * (24**2 + 2 * 4**2)
    layer = 2 * p * d * 4 * d + attention + 4 * p * d * i
    expected = 2 * p * d * 3 * 14 * 14 + 2 * layer + 2 * 14 * d * h + 2 * 14 * h * h
    assert navit_vision_flops(config, grid) == expected
    assert query_flops(config, text_tokens=3, grid_thw=grid).visual_tokens == 14


@pytest.mark.parametrize("grids", [[(1, 4, 6, 1)], [(1, 4, 4, 2), (1, 2, 6, 1)]])
def test_videollama3_vision_and_whole_query_match_flop_counter(grids):
    from transformers import VideoLlama3ForConditionalGeneration

    from evqa.eval.cost import batch_query_costs, navit_vision_flops

    torch.manual_seed(0)
    model = VideoLlama3ForConditionalGeneration(_eager(_videollama3_config())).eval()
    grid = torch.tensor([g[:3] for g in grids])
    merges = torch.tensor([g[3] for g in grids])
    pixels = torch.randn(int(grid.prod(dim=1).sum()), 3 * 14 * 14)
    counted = _counted(
        lambda: model.model.get_image_features(pixels, image_grid_thw=grid, image_merge_sizes=merges)
    )
    assert counted == navit_vision_flops(model.config, grids)
    tokens = sum(t * h * w // (m * m) for t, h, w, m in grids)
    ids = torch.tensor([[5, 6] + [290] * tokens + [7, 8]])
    inputs = dict(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=pixels, image_grid_thw=grid,
                  image_merge_sizes=merges)  # fmt: skip
    counted = _counted(
        lambda: model.generate(
            **inputs, max_new_tokens=3, min_new_tokens=3, do_sample=False, eos_token_id=None
        )
    )
    (cost,) = batch_query_costs(model.config, inputs, [len(grids)], generated_tokens=[3])
    assert cost["visual_tokens"] == tokens and cost["flops"]["total"] == counted
