"""Weight initialisations (``torch.nn.init``): each fills a Tensor in place (bumping its version counter) and
returns it.

``nn.init.normal_(m.weight.data, 0.0, 0.02)`` (the PyTorch DCGAN tutorial's) fills the parameter itself:
``.data`` is a Tensor sharing its storage and version counter.  Each also accepts a raw NumPy/CuPy array (a
Tensor's ``.array``), filled in place and returned.  Writing through the raw array cannot bump the Tensor's
version counter: initialise before running the model (as that tutorial does), or pass the Tensor itself.

Random draws come from ``backend.generator(tensor.device)``, so ``minigan.manual_seed`` reproduces them.
Fans follow PyTorch: for a weight of shape (d0, d1, k...), fan_in = d1 * prod(k), fan_out = d0 * prod(k)
(for a ConvTranspose2d weight (in, out, kh, kw) that makes fan_in = out * kh * kw, as in PyTorch).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .. import backend

if TYPE_CHECKING:
    import numpy

    from ..tensor import Tensor
    from ..typing import Array

__all__ = [
    "calculate_gain",
    "uniform_",
    "normal_",
    "constant_",
    "zeros_",
    "ones_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
]


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain that keeps activations' variance stable through ``nonlinearity``:
    linear/conv/sigmoid 1, tanh 5/3, relu sqrt 2, leaky_relu sqrt(2 / (1 + slope^2)), selu 3/4."""
    linear_like = (
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
        "sigmoid",
    )
    if nonlinearity in linear_like:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"negative_slope {slope!r} is not a number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor of at least 2 dimensions, got shape {tensor.shape}")
    receptive = 1
    for n in tensor.shape[2:]:
        receptive *= n
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise ValueError(f"kaiming init: {mode} of a tensor of shape {tensor.shape} is 0 (an empty dimension)")
    return fan


def _array_of(tensor, op_name):
    """The array ``tensor`` holds (a Tensor's ``.array``, or a raw NumPy/CuPy array itself)."""
    array = tensor.array if _is_tensor(tensor) else tensor
    if not (hasattr(array, "shape") and hasattr(array, "dtype") and hasattr(array, "__setitem__")):
        raise TypeError(f"nn.init.{op_name}: expected a Tensor or a NumPy/CuPy array, got {type(tensor).__name__}")
    if array.dtype.kind != "f":
        raise TypeError(f"nn.init.{op_name}: expected a floating-point tensor, got dtype {array.dtype}")
    return array


def _is_tensor(value):
    return hasattr(value, "_bump_version")


def _fill(tensor, values, op_name):
    array = _array_of(tensor, op_name)
    array[...] = values
    if _is_tensor(tensor):
        tensor._bump_version()
    return tensor


def uniform_(
    tensor: Tensor | Array, a: float = 0.0, b: float = 1.0, generator: numpy.random.Generator | None = None
) -> Tensor | Array:
    """Fill with samples of U(a, b), a <= b."""
    if not a <= b:
        raise ValueError(f"nn.init.uniform_: expected a <= b, got a={a}, b={b}")
    array = _array_of(tensor, "uniform_")
    rng = generator or backend.generator(backend.device_of(array))
    sample = rng.random(array.shape) * (b - a) + a
    return _fill(tensor, sample.astype(array.dtype, copy=False), "uniform_")


def normal_(
    tensor: Tensor | Array, mean: float = 0.0, std: float = 1.0, generator: numpy.random.Generator | None = None
) -> Tensor | Array:
    """Fill with samples of N(mean, std^2), std >= 0."""
    if not std >= 0:
        raise ValueError(f"nn.init.normal_: expected std >= 0, got {std}")
    array = _array_of(tensor, "normal_")
    rng = generator or backend.generator(backend.device_of(array))
    sample = rng.standard_normal(array.shape) * std + mean
    return _fill(tensor, sample.astype(array.dtype, copy=False), "normal_")


def constant_(tensor: Tensor | Array, val: float) -> Tensor | Array:
    """Fill with ``val``."""
    return _fill(tensor, val, "constant_")


def zeros_(tensor: Tensor | Array) -> Tensor | Array:
    return constant_(tensor, 0)


def ones_(tensor: Tensor | Array) -> Tensor | Array:
    return constant_(tensor, 1)


def xavier_uniform_(
    tensor: Tensor | Array, gain: float = 1.0, generator: numpy.random.Generator | None = None
) -> Tensor | Array:
    """Glorot & Bengio (2010): U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if fan_in + fan_out == 0:
        raise ValueError(f"xavier_uniform_: a tensor of shape {tensor.shape} has no fan in or out")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(
    tensor: Tensor | Array, gain: float = 1.0, generator: numpy.random.Generator | None = None
) -> Tensor | Array:
    """Glorot & Bengio (2010): N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if fan_in + fan_out == 0:
        raise ValueError(f"xavier_normal_: a tensor of shape {tensor.shape} has no fan in or out")
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def kaiming_uniform_(
    tensor: Tensor | Array,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: numpy.random.Generator | None = None,
) -> Tensor | Array:
    """He et al. (2015): U(-bound, bound), bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).
    PyTorch's default for Linear and Conv weights is a = sqrt 5, which gives bound = 1 / sqrt(fan_in)."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor | Array,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: numpy.random.Generator | None = None,
) -> Tensor | Array:
    """He et al. (2015): N(0, std^2), std = gain / sqrt(fan)."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std, generator)
