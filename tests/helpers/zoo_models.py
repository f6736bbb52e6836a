"""Small models for the traced count and
`archlab count --model tests/helpers/zoo_models.py:SmallNet`."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class SmallNet(nn.Module):
    """Every conv flavour on a (1, 3, 32, 32) input: biased, grouped, depthwise, dilated,
    strided, transposed; max pool, BN, a functional residual add and two linear layers."""

    def __init__(self, width: int = 8, num_classes: int = 10) -> None:
        super().__init__()
        w = width
        self.conv1 = nn.Conv2d(3, w, 3, padding=1)  # biased
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.grouped = nn.Conv2d(w, 2 * w, 3, padding=1, groups=4, bias=False)
        self.depthwise = nn.Conv2d(2 * w, 2 * w, 3, padding=2, dilation=2, groups=2 * w)
        self.strided = nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1, bias=False)
        self.up = nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1)
        self.head = nn.Linear(w, 4 * w)
        self.fc = nn.Linear(4 * w, num_classes, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(self.relu(self.bn1(self.conv1(x))))  # (N, w, H/2, W/2)
        y = self.grouped(x)  # (N, 2w, H/2, W/2)
        y = y + self.depthwise(y)  # residual add: 0 MACs
        y = self.up(self.strided(y))  # (N, w, H/2, W/2)
        z = y.mean(dim=(2, 3))  # (N, w)
        return self.fc(self.relu(self.head(z)))  # (N, num_classes)


def make_net(width: int = 8, num_classes: int = 10) -> nn.Module:
    """A factory, for --model-kwargs."""
    return SmallNet(width, num_classes)


class TransformerBlock(nn.Module):
    """Pre-norm attention + MLP on (N, T, E) tokens: MHA, LayerNorm, GELU, two linears."""

    def __init__(self, dim: int = 16, heads: int = 2, hidden: int = 32) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]  # (N, T, E)
        return x + self.fc2(self.act(self.fc1(self.norm2(x))))  # (N, T, E)


class Einsum(nn.Module):
    """A bilinear form by einsum and a scaled-dot-product attention, both functional."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        y = torch.einsum("btd,de->bte", x, self.weight)  # (N, T, E)
        q = y.unflatten(-1, (2, -1)).transpose(1, 2)  # (N, heads, T, E / heads)
        return nn.functional.scaled_dot_product_attention(q, q, q)


def not_a_module() -> int:
    """Returns something that is not a model."""
    return 3


NOT_CALLABLE = 42


class TinyViT(nn.Module):
    """Patches by a strided conv, one nn.MultiheadAttention, a linear head: (N, 3, 32, 32)."""

    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 8, stride=8)
        self.attn = nn.MultiheadAttention(dim, 2, batch_first=True)
        self.fc = nn.Linear(dim, 10)

    def forward(self, x: Tensor) -> Tensor:
        t = self.patch(x).flatten(2).transpose(1, 2)  # (N, 16 patches, dim)
        t = t + self.attn(t, t, t, need_weights=False)[0]
        return self.fc(t.mean(1))  # (N, 10)


class LSTMNet(nn.Module):
    """A 2-layer nn.LSTM over (N, T, 8) and a linear head on the last step."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(8, 16, num_layers=2, batch_first=True)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.lstm(x)[0][:, -1])  # (N, 10)


class TokenNet(nn.Module):
    """Token ids (N, T) of dtype long through nn.Embedding, mean-pooled, a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(100, 16)
        self.fc = nn.Linear(16, 4)

    def forward(self, ids: Tensor) -> Tensor:
        return self.fc(self.emb(ids).mean(1))  # (N, 4)


class TwoInputs(nn.Module):
    """forward(image, features): two positional inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4 + 5, 2)

    def forward(self, x: Tensor, f: Tensor) -> Tensor:
        return self.fc(torch.cat([self.conv(x).mean((2, 3)), f], 1))  # (N, 2)
