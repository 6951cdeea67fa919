"""Networks (and only networks; losses are in ``minigan.losses``, loops in ``minigan.training``).

    from minigan.models import WGANCritic, WGANGenerator     # source 000: 64x64x3 shapes, residual blocks
"""
from .wgan_gp import ResBlockDown, ResBlockUp, WGANCritic, WGANGenerator

__all__ = ["ResBlockDown", "ResBlockUp", "WGANCritic", "WGANGenerator"]
