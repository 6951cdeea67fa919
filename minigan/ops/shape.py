"""Shape primitives: reshape, transpose, broadcast_to and its adjoint sum_to, indexing and its adjoint
(a scatter-add), concatenation, constant padding. Each backward is another op of this file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import argcheck
from ..backend import kernels_for
from ..function import Function, unwrap, xp_of

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..tensor import Tensor
    from ..typing import ShapeLike


class Reshape(Function):
    """y = x viewed with a new shape;  gx = gy reshaped back."""

    reads_inputs = False

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        try:
            y = x.reshape(self.shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot view a tensor of shape {tuple(x.shape)} ({x.size} elements) as shape {self.shape}"
            ) from None
        self.output_is_view = _shares_storage(y, x)  # a copy when x's strides do not allow a view
        return y

    def backward(self, gy):
        return reshape(gy, self.inputs[0].shape)


class Transpose(Function):
    """y = x with axes permuted;  gx = gy with the inverse permutation."""

    reads_inputs = False

    def __init__(self, axes):
        super().__init__()
        self.axes = tuple(axes)

    def forward(self, x):
        self.output_is_view = True
        return x.transpose(self.axes)

    def backward(self, gy):
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a % len(self.axes)] = i
        return permute_unchecked(gy, inverse)


class BroadcastTo(Function):
    """y = x broadcast to ``shape`` (NumPy rules);  gx = sum_to(gy, x.shape)."""

    reads_inputs = False

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        try:
            y = xp_of(x).broadcast_to(x, self.shape)
        except ValueError:
            raise ValueError(f"broadcast_to: shape {tuple(x.shape)} cannot be broadcast to {self.shape}") from None
        self.output_is_view = True
        return y

    def backward(self, gy):
        return sum_to(gy, self.inputs[0].shape)


class SumTo(Function):
    """y = gy summed over the axes that broadcasting added or stretched, so that y has ``shape``.
    The adjoint of ``broadcast_to``;  gx = broadcast_to(gy, x.shape)."""

    reads_inputs = False

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        lead = x.ndim - len(self.shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(self.shape) if n == 1 and x.shape[lead + i] != 1
        )
        if not lead and x.ndim >= 2 and axes == (0,) + tuple(range(2, x.ndim)):  # a per-channel bias
            return kernels_for(x).channel_sum(x).reshape(self.shape)
        y = x.sum(axis=axes, keepdims=True) if axes else x
        self.output_is_view = y is x
        if lead:
            y = y.reshape(self.shape)
        return y

    def backward(self, gy):
        return broadcast_to(gy, self.inputs[0].shape)


class GetItem(Function):
    """y = x[index] (basic or advanced NumPy indexing);  gx = scatter-add of gy into zeros of x's shape."""

    reads_inputs = False

    def __init__(self, index):
        super().__init__()
        self.index = index

    def forward(self, x):
        try:
            y = x[self.index]
        except (IndexError, TypeError, ValueError) as error:
            raise type(error)(
                f"getitem: index {_describe_index(self.index)} is not valid for a tensor of shape "
                f"{tuple(x.shape)}: {error}"
            ) from None
        self.output_is_view = _is_basic_index(self.index)  # basic indexing gives a view, advanced a copy
        return y

    def backward(self, gy):
        return GetItemGrad(self.index, self.inputs[0].shape).apply(gy)


class GetItemGrad(Function):
    """The adjoint of ``x[index]``: y = zeros(shape); y[index] += gy (repeated indices add up).
    Its own backward is ``ggy = ggx[index]``."""

    reads_inputs = False

    def __init__(self, index, shape):
        super().__init__()
        self.index, self.shape = index, tuple(shape)

    def forward(self, gy):
        xp = xp_of(gy)
        gx = xp.zeros(self.shape, dtype=gy.dtype)
        if _is_basic_index(self.index):
            gx[self.index] = gy  # basic indexing never repeats an element: plain assignment
        elif xp.__name__ == "numpy":
            xp.add.at(gx, self.index, gy)
        else:
            import cupyx

            cupyx.scatter_add(gx, self.index, gy)
        return gx

    def backward(self, ggx):
        return getitem(ggx, self.index)


def _shares_storage(y, x):
    """Whether array y is a view of x's memory: its base is x's owner (NumPy and CuPy give a view the
    array that owns the memory as ``base``; a copy has another base or none)."""
    base = y.base
    return base is not None and (base is x or base is x.base)


def _is_basic_index(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, slice)) or i is None or i is Ellipsis for i in items)


class Concat(Function):
    """y = concatenate(xs, axis);  gx_i = the slice of gy that x_i occupies."""

    reads_inputs = False

    def __init__(self, axis):
        super().__init__()
        self.axis = axis

    def forward(self, *xs):
        shapes = [tuple(x.shape) for x in xs]
        ndim = xs[0].ndim
        axis = self.axis
        for s in shapes:
            if len(s) != ndim or any(a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != axis):
                raise ValueError(f"cat: shapes {shapes} differ outside dimension {self.axis}")
        self.sizes = [x.shape[axis] for x in xs]
        return xp_of(*xs).concatenate(xs, axis=axis)

    def backward(self, gy):
        axis = self.axis
        grads, start = [], 0
        for size in self.sizes:
            index = (slice(None),) * axis + (slice(start, start + size),)
            grads.append(getitem(gy, index))
            start += size
        return tuple(grads)


class Pad(Function):
    """Constant padding; ``pad_width`` is NumPy's ((before, after), ...) per axis.
    gx = the un-padded window of gy."""

    reads_inputs = False

    def __init__(self, pad_width, value=0.0):
        super().__init__()
        self.pad_width, self.value = tuple(tuple(p) for p in pad_width), value

    def forward(self, x):
        return xp_of(x).pad(x, self.pad_width, mode="constant", constant_values=self.value)

    def backward(self, gy):
        index = tuple(slice(before, gy.shape[i] - after) for i, (before, after) in enumerate(self.pad_width))
        return getitem(gy, index)


def reshape(x, shape):
    if x.array.shape == tuple(shape):
        return x
    return Reshape(shape).apply(x)


def transpose(x: Tensor, axes: Sequence[int]) -> Tensor:
    """Permute the axes: ``axes`` lists every axis of x once (negative ones counted from the end)."""
    axes = tuple(axes) if isinstance(axes, (tuple, list)) else (axes,)
    normalised = tuple(argcheck.dim("permute", a, x.ndim, "axis") for a in axes)
    if sorted(normalised) != list(range(x.ndim)):
        raise ValueError(
            f"permute: {axes} is not a permutation of the {x.ndim} axes of a tensor of shape {tuple(x.shape)}"
        )
    return Transpose(normalised).apply(x)


def permute_unchecked(x, axes):
    """``transpose`` for callers whose ``axes`` are already a permutation of x's axes in [0, ndim) (the
    backward passes, linear): the same op, without validating the axes again."""
    return Transpose(axes).apply(x)


def broadcast_to(x: Tensor, shape: ShapeLike) -> Tensor:
    if tuple(x.shape) == tuple(shape):
        return x
    shape = argcheck.shape("broadcast_to", shape)
    return BroadcastTo(shape).apply(x)


def sum_to(x, shape):
    """Sum ``x`` down to ``shape`` (undo broadcasting). A no-op when the shapes already agree."""
    if x.array.shape == tuple(shape):
        return x
    shape = tuple(shape)
    lead = x.ndim - len(shape)
    if lead < 0 or any(n != 1 and n != x.shape[lead + i] for i, n in enumerate(shape)):
        raise ValueError(f"sum_to: shape {tuple(x.shape)} cannot be summed to {shape} (it does not broadcast to it)")
    return SumTo(shape).apply(x)


def getitem(x, index):
    index = _unwrap_index(index)
    return GetItem(index).apply(x)


def _describe_index(index):
    text = repr(index)
    return text if len(text) <= 80 else text[:77] + "..."


def _unwrap_index(index):
    """Tensors used as indices become their arrays (indices are never differentiated)."""
    if isinstance(index, tuple):
        return tuple(unwrap(i) for i in index)
    return unwrap(index)


def concat(xs, axis=0):
    """Concatenate a non-empty sequence of tensors of one number of dimensions along ``axis``."""
    xs = list(xs)
    if not xs:
        raise ValueError("concat: expected a non-empty list of tensors")
    ndim = xs[0].ndim
    if ndim == 0:
        raise ValueError("concat: zero-dimensional tensors cannot be concatenated")
    return Concat(argcheck.dim("concat", axis, ndim, "axis")).apply(*xs)


def pad(x, pad_width, value=0.0):
    """Constant padding, NumPy's ((before, after), ...) per axis, every width >= 0."""
    pad_width = tuple(tuple(p) for p in pad_width)
    if len(pad_width) != x.ndim or any(len(p) != 2 for p in pad_width):
        raise ValueError(
            f"pad: expected one (before, after) pair per dimension of shape {tuple(x.shape)}, got {pad_width}"
        )
    for p in pad_width:
        argcheck.shape("pad", p, "pad_width")
    return Pad(pad_width, value).apply(x)
