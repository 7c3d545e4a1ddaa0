"""The three small bridges between the LLM and SAM2.

- `SegHead`: the hidden state that predicts `<|seg|>` -> N sparse prompt embeddings of SAM2's mask decoder.
- `RefEncoder`: a point or box prompt on a frame and that frame's index -> one LLM input embedding,
  placed at a `<|ref|>` token (UniPixel's design).
- `MemProjector`: region-pooled vision-merger features -> one LLM input embedding at a `<|mem|>` token
  (UniPixel's design).

`PatchConv3d` is not a bridge: the Qwen vision towers' patch embedding run as the matrix product it is.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers.models.qwen2.modeling_qwen2 import Qwen2RMSNorm


class SegHead(nn.Module):
    """UniPixel's seg head: RMSNorm, Linear, GELU, Linear. It reads the LLM's last-layer hidden state
    *before* the final norm (the final norm's input) [..., D] -> prompt embeddings [..., N, C]
    (D = LLM hidden, C = SAM2 hidden)."""

    def __init__(self, hidden_size: int, sam2_hidden_size: int, num_tokens: int, eps: float = 1e-6):
        super().__init__()
        self.num_tokens = num_tokens
        self.sam2_hidden_size = sam2_hidden_size
        self.norm = Qwen2RMSNorm(hidden_size, eps=eps)
        self.mlp = nn.Sequential(
            nn.Linear(hidden_size, hidden_size),
            nn.GELU(),
            nn.Linear(hidden_size, num_tokens * sam2_hidden_size),
        )

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        out = self.mlp(self.norm(hidden))
        return out.view(*hidden.shape[:-1], self.num_tokens, self.sam2_hidden_size)


class RefEncoder(nn.Module):
    """UniPixel's `<|ref|>` encoder: one object's point or box prompt on one frame -> one LLM embedding.

    The prompt goes through a SAM2 prompt encoder of its own (`prompt`, initialised from SAM2's) with
    SAM2's padding point, giving 2 rows for a point and 3 for a box (two corners); `point_proj` / `box_proj`
    project the flattened rows to 3C. The frame index, normalised by (frames - 1), goes through random
    Fourier features (`time_pe`, a [1, C/2] matrix), plus a learned embedding (`time_embed`) and `time_proj`
    to 3C. `proj` (GELU, Linear) maps the concatenated 6C to the LLM width D.
    """

    def __init__(self, sam2_config, hidden_size: int):
        super().__init__()
        from transformers.models.sam2_video.modeling_sam2_video import Sam2VideoPromptEncoder

        width = sam2_config.prompt_encoder_config.hidden_size
        self.prompt = Sam2VideoPromptEncoder(sam2_config.prompt_encoder_config)
        self.point_proj = nn.Linear(width * 2, width * 3)
        self.box_proj = nn.Linear(width * 3, width * 3)
        self.proj = nn.Sequential(nn.GELU(), nn.Linear(width * 6, hidden_size))
        self.register_buffer("time_pe", torch.randn(1, width // 2))
        self.time_embed = nn.Embedding(1, width)
        self.time_proj = nn.Linear(width, width * 3)

    def forward(self, points: torch.Tensor, labels: torch.Tensor, frames: torch.Tensor, num_frames: int):
        """points [N, P, 2] (x, y in SAM2 input pixels), labels [N, P] (1 point, 2/3 box corners; P = 1 or
        2), frames [N] frame indices, num_frames: frames of the video -> embeddings [N, D]."""
        weight = self.point_proj.weight
        sparse, _ = self.prompt(points[:, None].to(weight.dtype), labels[:, None].long(), None, None)
        rows = sparse[:, 0].flatten(1)
        ref = self.point_proj(rows) if sparse.shape[2] == 2 else self.box_proj(rows)
        coords = 2 * (frames.float()[:, None] / max(num_frames - 1, 1)) - 1
        angles = 2 * math.pi * (coords @ self.time_pe.float())
        tem = torch.cat([angles.sin(), angles.cos()], dim=-1).to(weight.dtype) + self.time_embed.weight
        return self.proj(torch.cat([ref, self.time_proj(tem)], dim=-1))


class MemProjector(nn.Module):
    """UniPixel's `<|mem|>` projector: region-pooled vision-merger MLP inputs [N, M] -> LLM embeddings [N, D]
    (M = vision width x merge^2; the same shape as the merger MLP, from which it is initialised)."""

    def __init__(self, merger_size: int, hidden_size: int):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(merger_size, merger_size), nn.GELU(), nn.Linear(merger_size, hidden_size)
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.mlp(features.to(self.mlp[0].weight.dtype))


class PatchConv3d(nn.Conv3d):
    """A `Conv3d` whose stride equals its kernel, applied to inputs exactly one kernel in size: Qwen2.5-VL's
    and Qwen3-VL's vision patch embedding ([N, C, t, p, p] patches -> [N, D, 1, 1, 1]). It is then one
    matrix product of the flattened patch and kernel, which is several times faster than the CPU's
    convolution kernels forward and backward; other inputs take `Conv3d.forward`. The parameters (and so
    checkpoints) are the `Conv3d`'s."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            tuple(x.shape[2:]) != tuple(self.kernel_size)
            or self.kernel_size != self.stride
            or self.groups != 1
        ):
            return super().forward(x)
        return F.linear(x.flatten(1), self.weight.flatten(1), self.bias)[:, :, None, None, None]

    @classmethod
    def adopt(cls, conv: nn.Conv3d) -> nn.Conv3d:
        """Make `conv` (in place, parameters kept) a `PatchConv3d`; returns it."""
        conv.__class__ = cls
        return conv
