"""``minigan.utils``: PyTorch's ``torch.utils`` names that ported scripts use (``torch.utils.data``)."""

from . import data

__all__ = ["data"]
