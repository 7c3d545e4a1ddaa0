"""Analytic forward FLOPs per query of a local Qwen2.5/3-VL, InternVL, SmolVLM or VideoLLaMA3 model (TFLOPs).

Counted: every matrix multiplication, at 2*m*n*k FLOPs (one multiply and one add per term) — the linear
layers, the patch-embedding convolution (a matmul over each patch's C*T*P*P pixels), the attention scores
Q K^T and the attention-weighted values A V, and the LM head. Not counted (O(tokens * width), small):
biases, norms, activations, softmax, rotary embeddings, residual and DeepStack additions, the learned
position-embedding interpolation of Qwen3-VL. Attention is counted over the whole score matrix, causal
or not (what eager and SDPA compute), i.e. 4 * heads * head_dim * q_len * kv_len per layer.

Vision tower, P = sum over images/videos of t*h*w patches (`grid_thw`, in patch units), width D,
MLP width I, m = spatial_merge_size:
- patch embedding 2*P*D*(C*T*p*p); per block qkv 2*P*D*3D, output 2*P*D*D, attention 4*D*sum(L^2) over its
  attention segments; MLP 6*P*D*I (Qwen2.5-VL, gated) or 4*P*D*I (Qwen3-VL);
- segments: every frame (h*w patches) in full-attention blocks; Qwen2.5-VL's other blocks attend inside
  windows of `window_size / patch_size` patches a side (the last window of a row/column is smaller);
- patch merger on P / m^2 tokens: 2*(P/m^2)*(D m^2)^2 + 2*(P/m^2)*(D m^2)*out; Qwen3-VL has one more such
  merger per DeepStack layer.
Tiled families (InternVL's InternViT; SmolVLM / Idefics3's SigLIP), per image tile of `image_size` pixels:
n = (image_size / patch_size)^2 patches, plus one class token in InternViT, P positions, width D, MLP width I:
patch embedding 2*n*D*(C*p*p); per layer q, k, v and output 2*P*D*4D, attention 4*D*P^2 (full, per tile),
MLP 4*P*D*I; the projector on the n*r^2 pixel-shuffled tokens of width D/r^2 (r = InternVL's
downsample_ratio, 1 / SmolVLM's scale_factor): 2*(n r^2)*(D/r^2)*H, and InternVL's second layer
2*(n r^2)*H*H. Tiles per query = its image tokens / (n r^2) (SmolVLM's padding images are skipped, as the
model skips them).
VideoLLaMA3 (SigLIP NaViT), images (t, h, w) in patches with merge size m each, P = sum t*h*w: patch
embedding 2*P*D*(C*p*p); per layer 2*P*D*4D, attention 4*D*sum t*(h*w)^2 (inside each frame), MLP 4*P*D*I;
the bilinear downsampling to N = sum t*h*w/m^2 tokens is not a matmul; projector 2*N*D*H + 2*N*H*H. Its
forward has no `logits_to_keep`: the LM head runs on every prompt position and every token fed back.
Language model (hidden H, heads n_q, n_kv, head_dim d, MLP width I, per layer), prompt S tokens (text
tokens + P / m^2 visual tokens), G generated tokens:
- per token: q and o 2*H*n_q*d each, k and v 2*H*n_kv*d each, MLP 6*H*I;
- prefill: S tokens, attention over S x S; decoding with a KV cache: generating G tokens feeds G - 1 of
  them back (the first comes from the prefill), token j attending to S + j positions;
- LM head 2*H*V per position whose logits are computed: one per generated token (generation computes the
  last position's logits only), or one when G = 0 (a single scoring forward such as VQA²'s levels).
The SAM2 mask decoder of an EVQA model is not included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from evqa.errors import ConfigError


def _get(cfg, name: str, default=None):
    if isinstance(cfg, Mapping):
        return cfg.get(name, default)
    return getattr(cfg, name, default)


def _need(cfg, name: str, where: str) -> int:
    value = _get(cfg, name)
    if value is None:
        raise ConfigError(f"the {where} config has no '{name}'", field=name)
    return int(value)


# families whose vision tower sees fixed-size image tiles: vision model type -> (class token, projector layers)
TILED = {"internvl_vision": (True, 2), "smolvlm_vision": (False, 1), "idefics3_vision": (False, 1)}
TILED_MODELS = {"internvl": "internvl_vision", "smolvlm": "smolvlm_vision", "idefics3": "idefics3_vision"}


def _vision_kind(config) -> str:
    vision = _get(config, "vision_config")
    return str(_get(vision, "model_type", "")) if vision is not None else ""


def tiled_family(config) -> str | None:
    """The vision model type of a tiled-image VLM config (InternVL, SmolVLM, Idefics3), else None."""
    kind = _vision_kind(config)
    return kind if kind in TILED else TILED_MODELS.get(str(_get(config, "model_type", "")))


def _vit_flops(vision, *, patches: int, positions: int, attention: int, pixels_per_patch: int) -> int:
    """Patch embedding of `patches` and the encoder layers of a plain ViT over `positions` (q, k, v and
    output projections, a 2-layer MLP; `attention` = the sum of squared attention-segment lengths)."""
    d, inter = _need(vision, "hidden_size", "vision"), _need(vision, "intermediate_size", "vision")
    layers = _need(vision, "num_hidden_layers", "vision")
    per_layer = 2 * positions * d * 4 * d + 4 * d * attention + 4 * positions * d * inter
    return 2 * patches * d * pixels_per_patch + layers * per_layer


def _side(value, name: str) -> tuple[int, int]:
    if value is None:
        raise ConfigError(f"the vision config has no '{name}'", field=name)
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _tile_dims(config) -> tuple[int, float, int, int]:
    """(patches per tile, shuffle ratio r, patch height, patch width): InternVL's `downsample_ratio`, or
    1 / `scale_factor` for SmolVLM / Idefics3."""
    vision = _get(config, "vision_config")
    height, width = _side(_get(vision, "image_size"), "image_size")
    ph, pw = _side(_get(vision, "patch_size"), "patch_size")
    if tiled_family(config) == "internvl_vision":
        ratio = float(_get(config, "downsample_ratio", 0.5))
    else:
        ratio = 1.0 / _need(config, "scale_factor", "model")
    return (height // ph) * (width // pw), ratio, ph, pw


def tile_tokens(config) -> int:
    """LLM tokens of one image tile of a tiled family: its patches after the pixel shuffle, n * r^2."""
    n, ratio, _, _ = _tile_dims(config)
    return int(round(n * ratio * ratio))


def tiled_vision_flops(config, tiles: int) -> int:
    """Matmul FLOPs of a tiled family's vision tower and projector on `tiles` image tiles (module doc)."""
    vision, text = _get(config, "vision_config"), _get(config, "text_config")
    class_token, projector_layers = TILED[tiled_family(config)]
    n, ratio, ph, pw = _tile_dims(config)
    d, hidden = _need(vision, "hidden_size", "vision"), _need(text, "hidden_size", "text")
    p = n + int(class_token)
    pixels = int(_get(vision, "num_channels", 3)) * ph * pw
    per_tile = _vit_flops(vision, patches=n, positions=p, attention=p * p, pixels_per_patch=pixels)
    merged, wide = tile_tokens(config), int(round(d / (ratio * ratio)))
    per_tile += 2 * merged * wide * hidden + (projector_layers - 1) * 2 * merged * hidden * hidden
    return int(tiles) * per_tile


def is_navit(config) -> bool:
    """True for VideoLLaMA3 (a SigLIP NaViT tower with a merge size per image)."""
    return (
        _vision_kind(config) == "video_llama_3_vision"
        or str(_get(config, "model_type", "")) == "video_llama_3"
    )


def _navit_grids(grid_thw) -> list[tuple[int, int, int, int]]:
    """(t, h, w, merge size) of each image; a 3-long row has merge size 1."""
    grids = []
    for item in grid_thw:
        t, h, w, m = (*(int(x) for x in item), 1)[:4]
        if min(t, h, w, m) < 1 or h % m or w % m:
            raise ValueError(
                f"grid (t, h, w, merge) = {(t, h, w, m)} must be positive with h, w divisible by {m}"
            )
        grids.append((t, h, w, m))
    return grids


def navit_tokens(grid_thw) -> int:
    """LLM tokens of VideoLLaMA3's images: sum of t*h*w / merge size^2."""
    return sum(t * h * w // (m * m) for t, h, w, m in _navit_grids(grid_thw))


def navit_vision_flops(config, grid_thw) -> int:
    """Matmul FLOPs of VideoLLaMA3's vision tower and projector (module doc)."""
    vision, text = _get(config, "vision_config"), _get(config, "text_config")
    grids = _navit_grids(grid_thw)
    d, hidden = _need(vision, "hidden_size", "vision"), _need(text, "hidden_size", "text")
    patch = _need(vision, "patch_size", "vision")
    p = sum(t * h * w for t, h, w, _ in grids)
    frames = sum(t * (h * w) ** 2 for t, h, w, _ in grids)  # attention inside each frame
    pixels = int(_get(vision, "num_channels", 3)) * patch * patch
    flops = _vit_flops(vision, patches=p, positions=p, attention=frames, pixels_per_patch=pixels)
    merged = navit_tokens(grid_thw)
    return flops + 2 * merged * d * hidden + 2 * merged * hidden * hidden


def _family(vision_cfg) -> str:
    """'qwen2_5_vl' (window attention, gated MLP) or 'qwen3_vl' (DeepStack, plain MLP)."""
    model_type = str(_get(vision_cfg, "model_type", ""))
    if model_type.startswith("qwen2_5_vl") or _get(vision_cfg, "fullatt_block_indexes") is not None:
        return "qwen2_5_vl"
    if model_type.startswith("qwen3_vl") or _get(vision_cfg, "deepstack_visual_indexes") is not None:
        return "qwen3_vl"
    raise ConfigError(
        f"FLOPs are known for Qwen2.5-VL and Qwen3-VL vision towers, not {model_type or 'this'}"
    )


def _grids(grid_thw, merge: int) -> list[tuple[int, int, int]]:
    grids = []
    for item in grid_thw:
        t, h, w = (int(x) for x in item)
        if t < 1 or h < 1 or w < 1 or h % merge or w % merge:
            raise ValueError(f"grid (t, h, w) = {(t, h, w)} must be positive with h, w divisible by {merge}")
        grids.append((t, h, w))
    return grids


def visual_tokens(vision_config, grid_thw: Sequence[Sequence[int]]) -> int:
    """LLM tokens the vision tower produces: sum of t*h*w / spatial_merge_size^2."""
    merge = _need(vision_config, "spatial_merge_size", "vision")
    return sum(t * h * w for t, h, w in _grids(grid_thw, merge)) // (merge * merge)


def _window_sizes(n: int, size: int) -> list[int]:
    """Lengths of consecutive windows of `size` over n positions (the last one shorter)."""
    return [min(size, n - start) for start in range(0, n, size)]


def _attention_square_sums(vision_config, grids) -> tuple[int, int]:
    """(sum L^2 over full-attention segments, sum L^2 over windowed segments) in patches."""
    full = sum(t * (h * w) ** 2 for t, h, w in grids)
    if _family(vision_config) != "qwen2_5_vl":
        return full, full
    merge = _need(vision_config, "spatial_merge_size", "vision")
    side = (
        _need(vision_config, "window_size", "vision") // merge // _need(vision_config, "patch_size", "vision")
    )
    if side < 1:
        raise ConfigError("window_size is smaller than one merged patch", field="window_size")
    windowed = 0
    for t, h, w in grids:
        rows = sum(r * r for r in _window_sizes(h // merge, side))
        cols = sum(c * c for c in _window_sizes(w // merge, side))
        windowed += t * rows * cols * merge**4  # window (r, c) holds r*c merged tokens of m^2 patches
    return full, windowed


def vision_flops(vision_config, grid_thw: Sequence[Sequence[int]]) -> int:
    """Matmul FLOPs of the vision tower on the given images/videos (`grid_thw`: (t, h, w) in patches)."""
    family = _family(vision_config)

    def need(name: str) -> int:
        return _need(vision_config, name, "vision")

    merge = need("spatial_merge_size")
    grids = _grids(grid_thw, merge)
    if not grids:
        return 0
    d, inter, depth, out = (
        need("hidden_size"),
        need("intermediate_size"),
        need("depth"),
        need("out_hidden_size"),
    )
    pixels_per_patch = (
        int(_get(vision_config, "in_channels", 3)) * need("temporal_patch_size") * need("patch_size") ** 2
    )
    p = sum(t * h * w for t, h, w in grids)
    full, windowed = _attention_square_sums(vision_config, grids)
    if family == "qwen2_5_vl":
        full_blocks = set(_get(vision_config, "fullatt_block_indexes", None) or [])
        mlp, mergers = 6 * p * d * inter, 1  # gated MLP: gate, up, down
    else:
        full_blocks = set(range(depth))
        mlp, mergers = 4 * p * d * inter, 1 + len(_get(vision_config, "deepstack_visual_indexes", None) or [])
    flops = 2 * p * d * pixels_per_patch
    for block in range(depth):
        attention = 4 * d * (full if block in full_blocks else windowed)
        flops += 2 * p * d * 3 * d + 2 * p * d * d + attention + mlp
    merged, wide = p // (merge * merge), d * merge * merge
    return flops + mergers * (2 * merged * wide * wide + 2 * merged * wide * out)


def _text_dims(text_config) -> dict[str, int]:
    if _get(text_config, "num_experts") or _get(text_config, "num_local_experts"):
        raise ConfigError("mixture-of-experts language models are not covered by the FLOP formula")
    hidden = _need(text_config, "hidden_size", "text")
    heads = _need(text_config, "num_attention_heads", "text")
    model_type = str(_get(text_config, "model_type", ""))
    # Qwen2.5-VL derives the head size from the width; Qwen3-VL reads `head_dim`
    head_dim = _get(text_config, "head_dim") if model_type.startswith("qwen3") else None
    return {
        "hidden": hidden,
        "heads": heads,
        "kv_heads": int(_get(text_config, "num_key_value_heads", None) or heads),
        "head_dim": int(head_dim or hidden // heads),
        "inter": _need(text_config, "intermediate_size", "text"),
        "layers": _need(text_config, "num_hidden_layers", "text"),
        "vocab": _need(text_config, "vocab_size", "text"),
    }


def text_flops(
    text_config, prompt_tokens: int, generated_tokens: int = 0, lm_head_tokens: int | None = None
) -> tuple[int, int, int]:
    """(prefill, decode, lm_head) matmul FLOPs of the language model for one query (module doc)."""
    if prompt_tokens < 1 or generated_tokens < 0:
        raise ValueError(
            f"need prompt_tokens >= 1 and generated_tokens >= 0, got {prompt_tokens}, {generated_tokens}"
        )
    k = _text_dims(text_config)
    hidden, qd, kvd = k["hidden"], k["heads"] * k["head_dim"], k["kv_heads"] * k["head_dim"]
    per_token = 2 * hidden * (2 * qd + 2 * kvd) + 6 * hidden * k["inter"]
    s, fed = prompt_tokens, max(generated_tokens - 1, 0)
    prefill = k["layers"] * (s * per_token + 4 * qd * s * s)
    # decode steps j = 1..fed: one token attending to s + j cached positions
    attended = fed * s + fed * (fed + 1) // 2
    decode = k["layers"] * (fed * per_token + 4 * qd * attended)
    positions = max(generated_tokens, 1) if lm_head_tokens is None else int(lm_head_tokens)
    return prefill, decode, 2 * hidden * k["vocab"] * positions


@dataclass(frozen=True)
class QueryFlops:
    """Matmul FLOPs of one query, by part; `total` and `tflops` (total / 1e12) for reports."""

    vision: int
    prefill: int
    decode: int
    lm_head: int
    prompt_tokens: int
    visual_tokens: int
    generated_tokens: int

    @property
    def total(self) -> int:
        return self.vision + self.prefill + self.decode + self.lm_head

    @property
    def tflops(self) -> float:
        return self.total / 1e12

    def as_dict(self) -> dict:
        return {**asdict(self), "total": self.total, "tflops": self.tflops}


def query_flops(
    config,
    *,
    text_tokens: int,
    grid_thw: Sequence[Sequence[int]] = (),
    generated_tokens: int = 0,
    lm_head_tokens: int | None = None,
    tiles: int = 0,
) -> QueryFlops:
    """FLOPs of one query of a Qwen2.5-VL / Qwen3-VL / InternVL / SmolVLM / VideoLLaMA3 model (config object
    or config.json dict).

    Args:
        text_tokens: prompt tokens that are not visual (chat template, question, vision start/end marks).
        grid_thw: (t, h, w) in patches of each image / video the model sees (the processor's grid_thw;
            VideoLLaMA3: (t, h, w, merge size)).
        generated_tokens: tokens generated with a KV cache (0: a single forward, e.g. quality scoring).
        lm_head_tokens: positions whose logits are computed (default: module doc).
        tiles: tiled families (InternVL, SmolVLM, Idefics3) only: the image tiles the query holds (instead of
            `grid_thw`).
    """
    vision_config, text_config = _get(config, "vision_config"), _get(config, "text_config")
    if vision_config is None or text_config is None:
        raise ConfigError("a VLM config needs vision_config and text_config")
    navit = is_navit(config)
    if tiled_family(config):
        n_visual, vision = int(tiles) * tile_tokens(config), tiled_vision_flops(config, tiles)
    elif navit:
        n_visual, vision = navit_tokens(grid_thw), navit_vision_flops(config, grid_thw)
    else:
        n_visual, vision = visual_tokens(vision_config, grid_thw), vision_flops(vision_config, grid_thw)
    prompt = int(text_tokens) + n_visual
    if navit:  # VideoLLaMA3 has no logits_to_keep: every position fed gets its logits
        lm_head_tokens = prompt + max(int(generated_tokens) - 1, 0)
    prefill, decode, head = text_flops(text_config, prompt, generated_tokens, lm_head_tokens)
    return QueryFlops(
        vision=vision,
        prefill=prefill,
        decode=decode,
        lm_head=head,
        prompt_tokens=prompt,
        visual_tokens=n_visual,
        generated_tokens=int(generated_tokens),
    )


# --- per query, from a local model's inputs -----------------------------------------------------------


def _visual_token_ids(config) -> set[int]:
    """The placeholder token ids a VLM expands into visual tokens (image / video tokens of its config)."""
    ids = set()
    for name in ("image_token_id", "image_token_index", "video_token_id", "video_token_index"):
        value = _get(config, name)
        if isinstance(value, int) and value >= 0:
            ids.add(value)
    return ids


def flops_supported(config) -> bool:
    """True when `query_flops` knows the model family (Qwen2.5-VL, Qwen3-VL, InternVL, SmolVLM / Idefics3,
    VideoLLaMA3)."""
    vision = _get(config, "vision_config")
    if vision is None or _get(config, "text_config") is None:
        return False
    if tiled_family(config) or is_navit(config):
        return True
    try:
        _family(vision)
    except ConfigError:
        return False
    return True


def local_query_cost(
    config,
    input_ids: Sequence[int],
    *,
    grid_thw: Sequence[Sequence[int]] = (),
    generated_tokens: int = 0,
    lm_head_tokens: int | None = None,
    params: int | None = None,
) -> dict:
    """The cost record of one query of a local model: prompt and visual tokens (visual = the image / video
    placeholder tokens in its prompt), and for the families `query_flops` covers the analytic FLOPs by part
    and `tflops`; other families get `tflops: None` (not estimated, never guessed).

    Args:
        input_ids: the query's prompt token ids, padding removed.
        grid_thw: (t, h, w) in patches of each image the query holds (Qwen processors' `image_grid_thw`).
    """
    ids = [int(i) for i in input_ids]
    visual_ids = _visual_token_ids(config)
    n_visual = sum(1 for i in ids if i in visual_ids)
    out: dict = {
        "prompt_tokens": len(ids),
        "visual_tokens": n_visual,
        "generated_tokens": int(generated_tokens),
    }
    if params is not None:
        out["params"] = int(params)
    if not flops_supported(config):
        out["tflops"] = None
        return out
    tiles = 0
    if tiled_family(config):  # the tiles from the image tokens: each tile gives the same number
        per_tile = tile_tokens(config)
        tiles, rest = divmod(n_visual, per_tile)
        if rest:
            raise ValueError(f"{n_visual} image tokens are not whole tiles of {per_tile}")
    flops = query_flops(config, text_tokens=len(ids) - n_visual, grid_thw=grid_thw, tiles=tiles,
                        generated_tokens=generated_tokens, lm_head_tokens=lm_head_tokens)  # fmt: skip
    if flops.visual_tokens != n_visual:
        raise ValueError(f"the grids give {flops.visual_tokens} visual tokens, the prompt holds {n_visual}")
    return {**out, "tflops": flops.tflops, "flops": flops.as_dict()}


def batch_query_costs(
    config,
    inputs,
    images_per_query: Sequence[int],
    *,
    generated_tokens: Sequence[int] | None = None,
    lm_head_tokens: int | None = None,
    params: int | None = None,
) -> list[dict]:
    """`local_query_cost` of each query of a padded processor batch (`input_ids`, `attention_mask`, and
    `image_grid_thw` when the processor gives one: its rows are the batch's images in order; with
    `image_merge_sizes`, VideoLLaMA3's, each row gets its image's merge size as a fourth number)."""
    ids, mask = inputs["input_ids"].tolist(), inputs["attention_mask"].tolist()
    grids = inputs.get("image_grid_thw") if hasattr(inputs, "get") else None
    grids = [] if grids is None else grids.tolist()
    merges = inputs.get("image_merge_sizes") if hasattr(inputs, "get") else None
    if merges is not None:  # VideoLLaMA3: each image's merge size joins its grid row
        grids = [[*g, int(m)] for g, m in zip(grids, merges.tolist(), strict=True)]
    generated = list(generated_tokens) if generated_tokens is not None else [0] * len(ids)
    costs, start = [], 0
    for row, keep, n_images, gen in zip(ids, mask, images_per_query, generated, strict=True):
        mine = grids[start : start + n_images] if grids else []
        start += n_images
        tokens = [t for t, m in zip(row, keep, strict=True) if m]
        costs.append(local_query_cost(config, tokens, grid_thw=mine, generated_tokens=int(gen),
                                      lm_head_tokens=lm_head_tokens, params=params))  # fmt: skip
    return costs


# --- per run, from the prediction records -------------------------------------------------------------


def _mean(values: list[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


def cost_summary(metas: Sequence[Mapping], *, api: bool) -> dict:
    """The `cost` block of a summary from the records' `meta`: frames fed (median), and per query the mean
    visual tokens and analytic TFLOPs (local models whose records carry `cost`), the model's parameters, and
    API token usage (summed and per query) for API models. Keys without data are left out."""
    import statistics

    out: dict = {}
    frames = [len(m["frames"]) for m in metas if isinstance(m.get("frames"), list)]
    if frames:
        out["frames_fed"] = statistics.median(frames)
    costs = [m["cost"] for m in metas if isinstance(m.get("cost"), Mapping)]
    visual = [c["visual_tokens"] for c in costs if isinstance(c.get("visual_tokens"), int)]
    tflops = [c["tflops"] for c in costs if isinstance(c.get("tflops"), int | float)]
    params = {c["params"] for c in costs if isinstance(c.get("params"), int)}
    if visual:
        out["visual_tokens"] = _mean(visual)
    if tflops:
        out["tflops_per_query"] = _mean(tflops)
        if len(tflops) < len(costs):
            out["tflops_queries"] = len(tflops)
    elif costs:
        out["tflops_per_query"] = None  # a local model whose family the formula does not cover
    if len(params) == 1:
        out["params_m"] = params.pop() / 1e6
    usage = [m["usage"] for m in metas if isinstance(m.get("usage"), Mapping)]
    totals: dict[str, int] = {}
    for u in usage:
        for key, value in u.items():
            if isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
    if totals:
        out["api_tokens"] = totals
    if api and usage:
        for key in ("prompt_tokens", "completion_tokens"):
            if key in totals:
                out[f"api_{key}_per_query"] = totals[key] / len(usage)
    return out
