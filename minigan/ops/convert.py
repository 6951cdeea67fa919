"""Dtype casts and device moves, differentiable: the gradient is cast / moved back."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy

from ..backend import device_of, to_device as move_array
from ..function import Function

if TYPE_CHECKING:
    from ..tensor import Tensor
    from ..typing import Device, DType


class Cast(Function):
    """y = x as ``dtype``;  gx = gy as x's dtype."""

    reads_inputs = False

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

    reads_inputs = False

    def __init__(self, device):
        super().__init__()
        self.device = device

    def forward(self, x):
        self.input_device = device_of(x)
        return move_array(x, self.device)

    def backward(self, gy):
        return to_device(gy, self.input_device)


def cast(x: Tensor, dtype: DType) -> Tensor:
    from ..tensor import check_dtype

    dtype = check_dtype(dtype, "cast")
    if x.dtype == dtype:
        return x
    if x.requires_grad and dtype.kind != "f":
        raise TypeError(
            f"cast: cannot cast a tensor that requires grad to {dtype} (gradients need a "
            "floating-point dtype); detach it first"
        )
    return Cast(dtype).apply(x)


def to_device(x: Tensor, device: Device) -> Tensor:
    return ToDevice(device).apply(x)
