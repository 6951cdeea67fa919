"""Dtype casts and device moves, differentiable: the gradient is cast / moved back."""
import numpy

from ..backend import device_of, to_device as move_array
from ..function import Function


class Cast(Function):
    """y = x as ``dtype``;  gx = gy as x's dtype."""

    def __init__(self, dtype):
        super().__init__()
        self.dtype = numpy.dtype(dtype)

    def forward(self, x):
        self.input_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return cast(gy, self.input_dtype)


class ToDevice(Function):
    """y = x copied to ``device``;  gx = gy copied back to x's device."""

    def __init__(self, device):
        super().__init__()
        self.device = device

    def forward(self, x):
        self.input_device = device_of(x)
        return move_array(x, self.device)

    def backward(self, gy):
        return to_device(gy, self.input_device)


def cast(x, dtype):
    if x.dtype == numpy.dtype(dtype):
        return x
    return Cast(dtype).apply(x)


def to_device(x, device):
    return ToDevice(device).apply(x)
