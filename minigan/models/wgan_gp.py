"""WGAN-GP networks for source 000's 64x64x3 shapes: a residual conv generator and a residual conv critic.

Source 000 trains "a generator and a discriminator that both use residual blocks" (它们都使用所谓的残差块)
on 3-channel 64x64 images. Its exact layers are not given; these follow the ResNet of Gulrajani et al.
(2017, appendix F, "Improved Training of Wasserstein GANs") scaled down to run on a CPU:

- every block doubles (critic) or halves (generator) the channels and halves/doubles the resolution;
- the critic has no batch norm (the gradient penalty is per sample, and batch norm would make a sample's
  score depend on its batch-mates); layer norm over (C, H, W) is available with ``norm="layer"``, as in
  the paper's ResNet critic; the default is none, which is cheaper and trains well on this data;
- resolution changes are strided convolutions (critic) and transposed convolutions (generator) in the
  main path, average pooling / nearest upsampling in the shortcut: cheaper on a CPU than the paper's
  pool-after-conv, same receptive fields.

``width`` (the paper's ``dim``) sets the channel count of the widest-resolution layer: the critic goes
3 -> w -> 2w -> 4w -> 8w channels, the generator 8w -> 4w -> 2w -> w -> 3.

    G = WGANGenerator(latent_dim=128, width=16)      # z (N, 128) -> x (N, 3, 64, 64)
    D = WGANCritic(width=16)                         # x (N, 3, 64, 64) -> scores (N,)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import functional as F
from .. import nn

if TYPE_CHECKING:
    from ..tensor import Tensor
    from ..typing import TensorLike

__all__ = ["ResBlockDown", "ResBlockUp", "WGANCritic", "WGANGenerator"]


class ResBlockDown(nn.Module):
    """Critic block: (N, C_in, H, W) -> (N, C_out, H/2, W/2).

    main:     [LN] -> lrelu -> conv3x3 (C_in -> C_out) -> [LN] -> lrelu -> conv4x4 stride 2 (C_out -> C_out)
    shortcut: avg_pool 2x2 -> conv1x1 (C_in -> C_out)
    out = shortcut + main
    """

    def __init__(
        self, in_channels: int, out_channels: int, size: int, norm: str | None = None, negative_slope: float = 0.2
    ) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.norm1 = nn.LayerNorm((in_channels, size, size)) if norm == "layer" else nn.Identity()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)  # (N, C_out, H, W)
        self.norm2 = nn.LayerNorm((out_channels, size, size)) if norm == "layer" else nn.Identity()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 4, stride=2, padding=1)  # (N, C_out, H/2, W/2)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)  # (N, C_out, H/2, W/2)

    def forward(self, x: TensorLike) -> Tensor:
        h = self.conv1(F.leaky_relu(self.norm1(x), self.negative_slope))  # (N, C_out, H, W)
        h = self.conv2(F.leaky_relu(self.norm2(h), self.negative_slope))  # (N, C_out, H/2, W/2)
        return self.shortcut(F.avg_pool2d(x, 2)) + h  # (N, C_out, H/2, W/2)


class ResBlockUp(nn.Module):
    """Generator block: (N, C_in, H, W) -> (N, C_out, 2H, 2W).

    main:     BN -> relu -> conv_transpose4x4 stride 2 (C_in -> C_out) -> BN -> relu -> conv3x3 (C_out -> C_out)
    shortcut: nearest upsample x2 -> conv1x1 (C_in -> C_out)
    out = shortcut + main
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.deconv = nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1)  # (N, C_out, 2H, 2W)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv = nn.Conv2d(out_channels, out_channels, 3, padding=1)  # (N, C_out, 2H, 2W)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)  # (N, C_out, 2H, 2W)

    def forward(self, x: TensorLike) -> Tensor:
        h = self.deconv(F.relu(self.bn1(x)))  # (N, C_out, 2H, 2W)
        h = self.conv(F.relu(self.bn2(h)))  # (N, C_out, 2H, 2W)
        return self.shortcut(F.interpolate(x, scale_factor=2)) + h  # (N, C_out, 2H, 2W)


class WGANCritic(nn.Module):
    """The critic f: (N, 3, 64, 64) -> (N,) unbounded scores (no sigmoid: a Wasserstein critic)."""

    def __init__(self, width: int = 16, channels: int = 3, image_size: int = 64, norm: str | None = None) -> None:
        super().__init__()
        if image_size != 64:
            raise ValueError(f"WGANCritic is built for 64x64 images, got image_size={image_size}")
        w = width
        self.stem = nn.Conv2d(channels, w, 4, stride=2, padding=1)  # (N, 3, 64, 64)  -> (N, w, 32, 32)
        self.block1 = ResBlockDown(w, 2 * w, 32, norm)  # (N, w, 32, 32)  -> (N, 2w, 16, 16)
        self.block2 = ResBlockDown(2 * w, 4 * w, 16, norm)  # (N, 2w, 16, 16) -> (N, 4w, 8, 8)
        self.block3 = ResBlockDown(4 * w, 8 * w, 8, norm)  # (N, 4w, 8, 8)   -> (N, 8w, 4, 4)
        self.head = nn.Linear(8 * w * 4 * 4, 1)  # (N, 8w*16)      -> (N, 1)

    def forward(self, x: TensorLike) -> Tensor:
        h = self.block3(self.block2(self.block1(self.stem(x))))  # (N, 8w, 4, 4)
        h = F.flatten(F.leaky_relu(h, 0.2), 1)  # (N, 8w*16)
        return F.reshape(self.head(h), (x.shape[0],))  # (N,)


class WGANGenerator(nn.Module):
    """The generator G: z (N, latent_dim) ~ N(0, I) -> images (N, 3, 64, 64).

    The output layer is linear (no tanh): source 000's pixels are colour + Gaussian noise, not clipped,
    and slightly exceed [0, 1]; a Wasserstein critic needs no bounded range."""

    def __init__(self, latent_dim: int = 128, width: int = 16, channels: int = 3, image_size: int = 64) -> None:
        super().__init__()
        if image_size != 64:
            raise ValueError(f"WGANGenerator is built for 64x64 images, got image_size={image_size}")
        w = width
        self.latent_dim = latent_dim
        self.width = width
        self.project = nn.Linear(latent_dim, 8 * w * 4 * 4)  # (N, 128) -> (N, 8w*16)
        self.block1 = ResBlockUp(8 * w, 4 * w)  # (N, 8w, 4, 4)   -> (N, 4w, 8, 8)
        self.block2 = ResBlockUp(4 * w, 2 * w)  # (N, 4w, 8, 8)   -> (N, 2w, 16, 16)
        self.block3 = ResBlockUp(2 * w, w)  # (N, 2w, 16, 16) -> (N, w, 32, 32)
        self.bn = nn.BatchNorm2d(w)
        self.to_image = nn.ConvTranspose2d(w, channels, 4, stride=2, padding=1)  # (N, w, 32, 32)  -> (N, 3, 64, 64)

    def forward(self, z: TensorLike) -> Tensor:
        h = F.reshape(self.project(z), (z.shape[0], 8 * self.width, 4, 4))  # (N, 8w, 4, 4)
        h = self.block3(self.block2(self.block1(h)))  # (N, w, 32, 32)
        return self.to_image(F.relu(self.bn(h)))  # (N, 3, 64, 64)
