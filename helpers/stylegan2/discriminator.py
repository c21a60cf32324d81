"""The discriminator of the kit's StyleGAN2 training: a small residual network of equalized-learning-rate
convolutions with a minibatch standard deviation layer (simpler than the official one)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class EqualConv2d(nn.Module):
    """A convolution with equalized learning rate (unit-scale weights, scaled by 1/sqrt(fan_in) at run time)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.padding)


class EqualLinear(nn.Module):
    """A linear layer with equalized learning rate."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.weight_gain = 1 / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.weight_gain, self.bias)


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * math.sqrt(2)


class DiscriminatorBlock(nn.Module):
    """Two 3x3 convolutions and a 2x average-pool downsampling, with a 1x1 residual path."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.skip(F.avg_pool2d(x, 2))
        x = F.avg_pool2d(_lrelu(self.conv1(_lrelu(self.conv0(x)))), 2)
        return (x + y) * math.sqrt(0.5)


class Discriminator(nn.Module):
    """Images (N, 3, R, R) -> one realness score per image: FromRGB, residual blocks down to 4x4, epilogue."""

    def __init__(self, img_resolution: int = 32, channel_base: int = 2048, channel_max: int = 64,
                 mbstd_group: int = 4) -> None:
        super().__init__()
        channels = {r: min(channel_base // r, channel_max) for r in (2**i for i in range(2, 12))}
        self.img_resolution, self.mbstd_group = img_resolution, mbstd_group
        self.from_rgb = EqualConv2d(3, channels[img_resolution], 1)
        self.blocks = nn.ModuleList(DiscriminatorBlock(channels[r], channels[r // 2])
                                    for r in (2**i for i in range(int(math.log2(img_resolution)), 2, -1)))
        self.conv = EqualConv2d(channels[4] + 1, channels[4], 3)
        self.fc = EqualLinear(channels[4] * 16, channels[4])
        self.out = EqualLinear(channels[4], 1)

    def minibatch_std(self, x: torch.Tensor) -> torch.Tensor:
        """Append the mean standard deviation over groups of samples as a feature (fights mode collapse)."""
        n, c, h, w = x.shape
        group = min(self.mbstd_group, n) if n % min(self.mbstd_group, n) == 0 else 1
        y = x.reshape(group, -1, c, h, w)
        y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=[1, 2, 3])  # (n / group,)
        y = y.reshape(-1, 1, 1, 1).repeat(group, 1, h, w)
        return torch.cat([x, y], dim=1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        if img.ndim != 4 or tuple(img.shape[1:]) != (3, self.img_resolution, self.img_resolution):
            raise ValueError(f"Discriminator expects images of shape (N, 3, {self.img_resolution}, "
                             f"{self.img_resolution}), got {tuple(img.shape)}")
        x = _lrelu(self.from_rgb(img))
        for block in self.blocks:
            x = block(x)
        x = _lrelu(self.conv(self.minibatch_std(x)))
        x = _lrelu(self.fc(x.flatten(1)))
        return self.out(x).squeeze(1)
