"""The three small bridges between the LLM and SAM2.

- `SegHead`: the hidden state that predicts `<|seg|>` -> N sparse prompt embeddings of SAM2's mask decoder.
- `RefEncoder`: a box (or point) prompt on a frame and that frame's time -> one LLM input embedding,
  placed at a `<|ref|>` token.
- `MemProjector`: mask-pooled SAM2 features of an object -> one LLM input embedding at a `<|mem|>` token.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class SegHead(nn.Module):
    """MLP hidden [..., D] -> prompt embeddings [..., N, C] (D = LLM hidden, C = SAM2 hidden)."""

    def __init__(self, hidden_size: int, sam2_hidden_size: int, num_tokens: int):
        super().__init__()
        self.num_tokens = num_tokens
        self.sam2_hidden_size = sam2_hidden_size
        self.mlp = nn.Sequential(
            nn.Linear(hidden_size, hidden_size),
            nn.GELU(),
            nn.Linear(hidden_size, num_tokens * sam2_hidden_size),
        )

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        out = self.mlp(hidden)
        return out.view(*hidden.shape[:-1], self.num_tokens, self.sam2_hidden_size)


def fourier_features(values: torch.Tensor, num_bands: int, period: float) -> torch.Tensor:
    """values [..., K] -> [..., K * 2 * num_bands]: sin/cos at periods period, period/2, ... period/2^(B-1)."""
    freqs = 2 * math.pi * (2.0 ** torch.arange(num_bands, device=values.device, dtype=torch.float32)) / period
    angles = values.float().unsqueeze(-1) * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1).flatten(-2)


class RefEncoder(nn.Module):
    """Prompts [N, 5] = (x1, y1, x2, y2 in 0..1 of the frame, time in seconds) -> embeddings [N, D].

    A point prompt is the box (x, y, x, y). Coordinates use Fourier features over a period of 2 (the unit
    square), time over `time_scale` seconds, so nearby boxes and times get nearby embeddings.
    """

    def __init__(self, hidden_size: int, num_bands: int = 8, time_scale: float = 600.0):
        super().__init__()
        self.num_bands = num_bands
        self.time_scale = time_scale
        in_dim = 5 * 2 * num_bands
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden_size), nn.GELU(), nn.Linear(hidden_size, hidden_size)
        )

    def forward(self, prompts: torch.Tensor) -> torch.Tensor:
        boxes = fourier_features(prompts[..., :4], self.num_bands, 2.0)
        times = fourier_features(prompts[..., 4:5], self.num_bands, self.time_scale)
        return self.mlp(torch.cat([boxes, times], dim=-1).to(self.mlp[0].weight.dtype))


class MemProjector(nn.Module):
    """Pooled SAM2 object features [N, C] -> LLM embeddings [N, D]."""

    def __init__(self, sam2_hidden_size: int, hidden_size: int):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(sam2_hidden_size, hidden_size), nn.GELU(), nn.Linear(hidden_size, hidden_size)
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.mlp(features.to(self.mlp[0].weight.dtype))
