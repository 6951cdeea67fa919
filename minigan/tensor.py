"""``Tensor``: an xp array (NumPy or CuPy) with a gradient and a link to the op that made it.

Attributes: ``.array`` (the NumPy/CuPy array this tensor wraps — minigan-specific; PyTorch has no such
attribute), ``.grad`` (a Tensor or None), ``.requires_grad``, ``.creator`` (the ``Function`` that produced
it; None for a leaf), and the derived ``.shape``, ``.dtype``, ``.device``.
Operators follow NumPy broadcasting; methods follow PyTorch's names (``sum(dim, keepdim)``, ``view``,
``transpose(dim0, dim1)``, ``clamp``, ...).

Creation functions (``tensor``, ``zeros``, ``randn``, ...) default to float32 on the CPU, as PyTorch does.

Dtypes: computation is in float32 or float64; integer and boolean tensors hold labels, indices and masks.
Any other dtype (float16, complex, strings, objects...) is refused when the Tensor is made.  Type promotion
follows PyTorch: a Python number takes the tensor's dtype (``x32 * 2.0`` is float32), float32 with float64
gives float64, an integer tensor with a floating one gives the floating dtype; the gradient reaching a
tensor is cast to that tensor's dtype, so a leaf's ``.grad`` always has the leaf's dtype.

In-place changes and the version counter: every Tensor has a ``VersionCounter`` (shared with the tensors
that view the same storage: ``detach()``, ``.data``, and the outputs of reshape/transpose/broadcast/basic indexing),
bumped by every in-place operation (``zero_``, ``fill_``, ``copy_``, ``x[i] = v``, optimizer steps).  A
``Function`` records the versions of the tensors its backward reads; backward refuses a tensor whose
version has changed since, as PyTorch does, instead of silently using the new values.  Code that writes
``tensor.array`` directly should call ``tensor._bump_version()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy

from . import argcheck, autograd, backend
from .function import unwrap

if TYPE_CHECKING:
    import builtins
    from collections.abc import Iterator, Sequence
    from types import ModuleType

    import numpy as np  # Tensor's annotations: inside the class, `numpy` and `float` name its methods

    from .typing import Array, ArrayLike, Device, Dim, DType, Number, Shape, ShapeLike, TensorLike

DEFAULT_DTYPE = numpy.float32
FLOAT_DTYPES = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))
_FLOAT32, _FLOAT64 = FLOAT_DTYPES


def check_dtype(dtype: DType, where: str = "Tensor") -> numpy.dtype:
    """Refuse a dtype minigan cannot compute in: floating point other than float32/float64 (float16,
    longdouble), complex, and non-numeric ones; native-order integers and bool are accepted (labels,
    indices, masks)."""
    dtype = numpy.dtype(dtype)
    if dtype in FLOAT_DTYPES and dtype.isnative:
        return dtype
    if dtype.kind in "biu" and dtype.isnative:
        return dtype
    raise TypeError(
        f"{where}: unsupported dtype {dtype}; minigan computes in float32 or float64 (integer "
        "and bool tensors are accepted as labels, indices and masks)"
    )


class VersionCounter:
    """How many in-place changes a storage has seen; one object shared by every Tensor viewing it."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class Tensor:
    """An array with a gradient and a link to the op that made it (see the module docstring).

    ``.array`` is the NumPy/CuPy array this tensor wraps — minigan-specific; PyTorch has no such attribute.
    The engine, the optimizers and the kernels work on it directly.

    ``.data`` is PyTorch's: a Tensor sharing this tensor's storage, cut from the graph (requires_grad=False,
    no creator), so that ``m.weight.data.normal_(0.0, 0.02)`` or ``p.data.clamp_(-c, c)`` changes the
    parameter itself without being refused as an in-place change to a tensor that requires grad.  Unlike
    PyTorch, it also shares the version counter: a tensor saved for backward and then changed through
    ``.data`` makes backward refuse, instead of silently differentiating at the new values.
    ``p.data = t`` replaces the storage (see the setter)."""

    __array_priority__ = 1000  # so that ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data: Array | ArrayLike, requires_grad: bool = False) -> None:
        if type(data) is not numpy.ndarray:
            if isinstance(data, Tensor):
                raise TypeError(
                    "Tensor(): got a Tensor; to share its storage use t.detach() (or t.data), to copy "
                    "it t.clone() or minigan.tensor(t); Tensor() wraps a NumPy/CuPy array or a number"
                )
            if isinstance(data, numpy.generic) or not hasattr(data, "shape"):
                data = numpy.asarray(data)  # NumPy reductions return scalars: keep a 0-d array
        dtype = data.dtype
        floating = dtype is _FLOAT32 or dtype is _FLOAT64  # the common cases cost two identity tests
        if not floating:
            check_dtype(dtype)
        self.array = data
        self.grad = None
        self.creator = None
        self._version_counter = VersionCounter()
        self._requires_grad = False
        if requires_grad:
            if floating:
                self._requires_grad = True
            else:
                self.requires_grad = requires_grad  # the setter refuses a non-floating dtype

    # --- attributes ---------------------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self.array.dtype.kind not in "fc":
            raise RuntimeError(
                f"only floating-point tensors can require gradients, this one has dtype {self.array.dtype}"
            )
        self._requires_grad = bool(value)

    @property
    def data(self) -> "Tensor":
        """PyTorch's ``.data``: a Tensor sharing this tensor's storage and version counter, outside the graph
        (requires_grad=False, no creator), as ``detach()``.  Engine code reads ``.array`` instead."""
        return self.detach()

    @data.setter
    def data(self, value: TensorLike) -> None:
        """``p.data = t``: make this tensor wrap ``t``'s storage (a Tensor's array, shared, or a NumPy/CuPy
        array itself).  As in PyTorch, any shape and device are accepted, and a tensor that requires grad
        needs a floating-point dtype; ``.grad`` is kept as it is.  The version moves past both tensors' old
        versions, so a graph that saved this tensor before the change refuses backward (PyTorch silently
        differentiates at the new values); with a Tensor, the two share the version counter from now on,
        as they share the storage."""
        if isinstance(value, Tensor):
            array = value.array
        elif type(value) is numpy.ndarray or backend.is_cupy_array(value):
            array = value
        else:
            raise TypeError(f"Tensor.data: expected a Tensor or a NumPy/CuPy array, got {type(value).__name__}")
        dtype = check_dtype(array.dtype, "Tensor.data")
        if self._requires_grad and dtype.kind != "f":
            raise RuntimeError(f"Tensor.data: a tensor that requires grad needs floating-point data, got dtype {dtype}")
        counter = value._version_counter if isinstance(value, Tensor) else VersionCounter()
        counter.value = max(counter.value, self._version_counter.value) + 1
        self.array = array
        self._version_counter = counter

    def requires_grad_(self, value: bool = True) -> "Tensor":
        self.requires_grad = value
        return self

    @property
    def _version(self) -> int:
        """The number of in-place changes to this tensor's storage (PyTorch's ``_version``)."""
        return self._version_counter.value

    def _bump_version(self) -> None:
        """Record an in-place change of ``self.array`` (for code that writes the array directly)."""
        self._version_counter.value += 1

    @property
    def is_leaf(self) -> bool:
        return self.creator is None

    @property
    def shape(self) -> Shape:
        return tuple(self.array.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def device(self) -> str:
        return backend.device_of(self.array)

    @property
    def xp(self) -> ModuleType:
        return backend.get_array_module(self.array)

    def size(self, dim: int | None = None) -> Shape | int:
        return self.shape if dim is None else self.shape[argcheck.dim("size", dim, self.ndim)]

    def numel(self) -> int:
        return int(self.array.size)

    def dim(self) -> int:
        return self.array.ndim

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        """The sub-tensors along dim 0 (each x[i], in the graph)."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    # --- conversion ---------------------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """A NumPy copy of the data (from the GPU if needed)."""
        return numpy.array(backend.to_device(self.array, "cpu"), copy=True)

    def __array__(self, dtype: DType | None = None, copy: bool | None = None) -> np.ndarray:
        """``numpy.asarray(t)`` (and NumPy functions given a Tensor): the CPU array itself, as PyTorch's
        ``__array__`` (a copy if ``copy`` or a ``dtype`` asks for one); without it NumPy would make an array of
        0-d Tensors.  As in PyTorch, a tensor that requires grad is refused (NumPy's result would silently
        leave the graph: use ``t.detach()`` or ``t.data``), and so is a GPU tensor (use ``.cpu()`` first)."""
        if self._requires_grad:
            raise RuntimeError(
                "cannot convert a tensor that requires grad to a NumPy array implicitly (the "
                "result would leave the graph); use t.detach() or t.data, or t.numpy() for a copy"
            )
        if type(self.array) is not numpy.ndarray:
            raise TypeError(
                f"cannot convert a tensor on {self.device} to a NumPy array implicitly; use .cpu() or .numpy() first"
            )
        array = self.array if dtype is None else self.array.astype(dtype, copy=False)
        return array.copy() if copy else array

    def item(self) -> Number:
        if self.array.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.array.reshape(()).item()

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (no copy); it shares this tensor's version counter, so an
        in-place change through either is seen by a graph that saved the other."""
        out = Tensor(self.array)
        out._version_counter = self._version_counter
        return out

    def to(self, *args: Device | DType | Tensor, device: Device | None = None, dtype: DType | None = None) -> "Tensor":
        """Move to a device and/or cast, as PyTorch's ``to``: ``to("cuda")``, ``to(mg.float64)``,
        ``to("float64")``, ``to(device, dtype)``, ``to(other_tensor)`` (its device and dtype), or the keywords.
        Differentiable (the gradient moves back and is cast back)."""
        from . import functional as F

        device, dtype = _device_and_dtype("to", args, device, dtype)
        out = self
        if dtype is not None and numpy.dtype(dtype) != self.dtype:
            out = F.cast(out, dtype)
        if device is not None and device != out.device:
            out = F.to_device(out, device)
        return out

    @property
    def is_cuda(self) -> bool:
        return self.device != "cpu"

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, index: int = 0) -> Tensor:
        return self.to(f"cuda:{index}")

    def float(self) -> Tensor:
        return self.to(dtype=numpy.float32)

    def double(self) -> Tensor:
        return self.to(dtype=numpy.float64)

    def long(self) -> Tensor:
        return Tensor(self.array.astype(numpy.int64))

    def clone(self) -> Tensor:
        from . import functional as F

        return F.clone(self)

    def __repr__(self) -> str:
        body = numpy.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extras = []
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.dtype != DEFAULT_DTYPE:
            extras.append(f"dtype={self.dtype}")
        if self.creator is not None:
            extras.append(f"creator={self.creator.name}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}{''.join(', ' + e for e in extras)})"

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.array)

    def __float__(self) -> builtins.float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __hash__(self) -> int:
        return id(self)

    # --- autograd -----------------------------------------------------------------------------------
    def backward(
        self, gradient: TensorLike | None = None, retain_graph: bool | None = None, create_graph: bool = False
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``."""
        autograd.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    # --- in-place changes (each bumps the version counter) ------------------------------------------
    def _check_inplace(self, op_name):
        if self._requires_grad and autograd.grad_mode.enabled:
            raise RuntimeError(
                f"{op_name}: in-place assignment to a tensor that requires grad (the graph does not "
                "record in-place operations); do it under minigan.no_grad() (as optimizers "
                "do) or on a copy (x.clone() / x.detach().clone())"
            )

    def zero_(self) -> Tensor:
        """Set every element to zero in place."""
        return self.fill_(0, "zero_")

    def fill_(self, value: Number, _name: str = "fill_") -> Tensor:
        """Set every element to ``value`` in place."""
        self._check_inplace(_name)
        if not isinstance(value, (bool, int, float, numpy.number)):
            raise TypeError(f"{_name}: expected a number, got {type(value).__name__}")
        self.array[...] = value
        self._version_counter.value += 1
        return self

    def copy_(self, source: TensorLike) -> Tensor:
        """Copy ``source`` (a Tensor, array or number, broadcast to this shape, cast to this dtype) into this
        tensor in place."""
        self._check_inplace("copy_")
        array = unwrap(source)
        if backend.is_cupy_array(array) != backend.is_cupy_array(self.array):
            array = backend.to_device(array, self.device)
        try:
            self.array[...] = array
        except (ValueError, TypeError) as error:
            raise type(error)(
                f"copy_: cannot copy a source of shape {numpy.shape(array)} into a tensor of "
                f"shape {self.shape} ({error})"
            ) from None
        self._version_counter.value += 1
        return self

    def normal_(self, mean: Number = 0.0, std: Number = 1.0) -> Tensor:
        """Fill in place with samples of N(mean, std^2) from the device's generator."""
        self._check_inplace("normal_")
        argcheck.real("normal_", "mean", mean)
        argcheck.real("normal_", "std", std, 0.0)
        self._require_floating("normal_")
        sample = backend.generator(self.device).standard_normal(self.shape) * std + mean
        self.array[...] = sample.astype(self.dtype, copy=False)
        self._version_counter.value += 1
        return self

    def uniform_(self, a: Number = 0.0, b: Number = 1.0) -> Tensor:
        """Fill in place with samples of U(a, b) (PyTorch calls the bounds ``from`` and ``to``)."""
        self._check_inplace("uniform_")
        argcheck.real("uniform_", "a", a)
        argcheck.real("uniform_", "b", b)
        self._require_floating("uniform_")
        sample = backend.generator(self.device).random(self.shape) * (b - a) + a
        self.array[...] = sample.astype(self.dtype, copy=False)
        self._version_counter.value += 1
        return self

    def clamp_(self, min: Number | None = None, max: Number | None = None) -> Tensor:
        """Clamp in place to [min, max] (either bound may be None)."""
        self._check_inplace("clamp_")
        for name, bound in (("min", min), ("max", max)):
            if bound is not None:
                argcheck.real("clamp_", name, bound)
        if min is None and max is None:
            raise ValueError("clamp_: give at least one of min and max")
        self.xp.clip(self.array, min, max, out=self.array)
        self._version_counter.value += 1
        return self

    def add_(self, other: TensorLike, alpha: Number = 1) -> Tensor:
        """self += alpha * other in place (``other`` a Tensor, array or number, broadcast to this shape)."""
        argcheck.real("add_", "alpha", alpha)
        if alpha != 1:
            other = self.xp.multiply(unwrap(other), alpha)
        return self._arithmetic_("add_", "add", other)

    def sub_(self, other: TensorLike, alpha: Number = 1) -> Tensor:
        """self -= alpha * other in place."""
        argcheck.real("sub_", "alpha", alpha)
        if alpha != 1:
            other = self.xp.multiply(unwrap(other), alpha)
        return self._arithmetic_("sub_", "subtract", other)

    def mul_(self, other: TensorLike) -> Tensor:
        """self *= other in place."""
        return self._arithmetic_("mul_", "multiply", other)

    def div_(self, other: TensorLike) -> Tensor:
        """self /= other in place (true division: an integer tensor is refused, as in PyTorch)."""
        return self._arithmetic_("div_", "true_divide", other)

    def _arithmetic_(self, op_name, ufunc_name, other):
        """Apply the xp ufunc ``ufunc_name`` to (self, other) into self's array; the result must keep this
        tensor's shape and be castable to its dtype ("same_kind": no float into an integer tensor)."""
        self._check_inplace(op_name)
        array = unwrap(other)
        if backend.is_cupy_array(array) and not backend.is_cupy_array(self.array):
            raise RuntimeError(f"{op_name}: expected the operand on {self.device}, found {backend.device_of(array)}")
        try:
            getattr(self.xp, ufunc_name)(self.array, array, out=self.array, casting="same_kind")
        except (ValueError, TypeError) as error:  # NumPy's UFuncTypeError subclasses take other arguments
            kind = ValueError if isinstance(error, ValueError) else TypeError
            raise kind(
                f"{op_name}: cannot apply an operand of shape {numpy.shape(array)} to a tensor of "
                f"shape {self.shape}, dtype {self.dtype} in place ({error})"
            ) from None
        self._version_counter.value += 1
        return self

    def _require_floating(self, op_name):
        if self.dtype.kind != "f":
            raise TypeError(f"{op_name}: expected a floating-point tensor, this one has dtype {self.dtype}")

    # --- operators ----------------------------------------------------------------------------------
    def __add__(self, other: TensorLike) -> Tensor:
        return ops.add(self, other)

    def __radd__(self, other: TensorLike) -> Tensor:
        return ops.add(other, self)

    def __sub__(self, other: TensorLike) -> Tensor:
        return ops.sub(self, other)

    def __rsub__(self, other: TensorLike) -> Tensor:
        return ops.sub(other, self)

    def __mul__(self, other: TensorLike) -> Tensor:
        return ops.mul(self, other)

    def __rmul__(self, other: TensorLike) -> Tensor:
        return ops.mul(other, self)

    def __truediv__(self, other: TensorLike) -> Tensor:
        return ops.div(self, other)

    def __rtruediv__(self, other: TensorLike) -> Tensor:
        return ops.div(other, self)

    def __neg__(self) -> Tensor:
        return ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __pow__(self, exponent: Number | Tensor) -> Tensor:
        from . import functional as F

        return F.pow(self, exponent)

    def __rpow__(self, base: Number) -> Tensor:
        """base ** self for a positive number base, as exp(self * log base)."""
        from . import functional as F

        if not argcheck.is_real(base) or not base > 0:
            raise ValueError(
                f"rpow: the base of base ** tensor must be a positive number (it is computed as "
                f"exp(tensor * log base)), got {base!r}"
            )
        return F.exp(F.mul(self, float(numpy.log(base))))

    def __matmul__(self, other: TensorLike) -> Tensor:
        return ops.matmul(self, other)

    def __rmatmul__(self, other: TensorLike) -> Tensor:
        return ops.matmul(other, self)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.getitem(self, index)

    def __setitem__(self, index: Any, value: TensorLike) -> None:
        self._check_inplace("setitem")
        try:
            self.array[ops.shape._unwrap_index(index)] = unwrap(value)
        except (IndexError, ValueError, TypeError) as error:
            raise type(error)(
                f"setitem: cannot assign to index {index!r} of a tensor of shape {self.shape}: {error}"
            ) from None
        self._version_counter.value += 1

    # comparisons give boolean tensors, outside the graph
    def _compare(self, other, name):
        return Tensor(getattr(self.array, name)(unwrap(other)))

    def __lt__(self, other: TensorLike) -> Tensor:
        return self._compare(other, "__lt__")

    def __le__(self, other: TensorLike) -> Tensor:
        return self._compare(other, "__le__")

    def __gt__(self, other: TensorLike) -> Tensor:
        return self._compare(other, "__gt__")

    def __ge__(self, other: TensorLike) -> Tensor:
        return self._compare(other, "__ge__")

    def eq(self, other: TensorLike) -> Tensor:
        return self._compare(other, "__eq__")

    def ne(self, other: TensorLike) -> Tensor:
        return self._compare(other, "__ne__")

    # --- methods with PyTorch's names (each forwards to minigan.functional) ---------------------------
    def sum(self, dim: Dim = None, keepdim: bool = False) -> Tensor:
        return ops.sum(self, dim, keepdim)

    def mean(self, dim: Dim = None, keepdim: bool = False) -> Tensor:
        from . import functional as F

        return F.mean(self, dim, keepdim)

    def var(self, dim: Dim = None, keepdim: bool = False, unbiased: bool = True) -> Tensor:
        from . import functional as F

        return F.var(self, dim, keepdim, unbiased)

    def std(self, dim: Dim = None, keepdim: bool = False, unbiased: bool = True) -> Tensor:
        from . import functional as F

        return F.sqrt(F.var(self, dim, keepdim, unbiased))

    def max(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return ops.max(self, dim, keepdim)

    def min(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return ops.neg(ops.max(ops.neg(self), dim, keepdim))

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return Tensor(self.xp.argmax(self.array, axis=self._arg_reduction_dim("argmax", dim), keepdims=keepdim))

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return Tensor(self.xp.argmin(self.array, axis=self._arg_reduction_dim("argmin", dim), keepdims=keepdim))

    def _arg_reduction_dim(self, op, dim):
        dim = None if dim is None else argcheck.dim(op, dim, self.ndim)
        if self.numel() == 0 or (dim is not None and self.ndim and self.shape[dim] == 0):
            raise ValueError(f"{op}: cannot reduce an empty tensor of shape {self.shape}")
        return dim

    def logsumexp(self, dim: Dim = None, keepdim: bool = False) -> Tensor:
        return ops.logsumexp(self, dim, keepdim)

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        from . import functional as F

        return F.reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        from . import functional as F

        return F.flatten(self, start_dim, end_dim)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        dim0 = argcheck.dim("transpose", dim0, self.ndim, "dim0")
        dim1 = argcheck.dim("transpose", dim1, self.ndim, "dim1")
        axes = list(range(self.ndim))
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return ops.transpose(self, axes)

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        return ops.transpose(self, dims)

    @property
    def T(self) -> Tensor:
        return ops.transpose(self, tuple(reversed(range(self.ndim))))

    def unsqueeze(self, dim: int) -> Tensor:
        from . import functional as F

        return F.unsqueeze(self, dim)

    def squeeze(self, dim: int | None = None) -> Tensor:
        from . import functional as F

        return F.squeeze(self, dim)

    def expand(self, *shape: int | Sequence[int]) -> Tensor:
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        shape = argcheck.shape("expand", shape, allow_minus_one=True)
        new_dims = len(shape) - self.ndim
        if new_dims < 0:
            raise ValueError(f"expand: the shape {shape} has fewer dimensions than the tensor's {self.shape}")
        if -1 in shape[:new_dims]:
            raise ValueError(
                f"expand: -1 (keep the size) is not allowed in a new leading dimension: {shape} "
                f"for a tensor of shape {self.shape}"
            )
        shape = tuple(self.shape[i - new_dims] if s == -1 else s for i, s in enumerate(shape))
        return ops.broadcast_to(self, shape)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return ops.broadcast_to(self, shape)

    def exp(self) -> Tensor:
        return ops.exp(self)

    def log(self) -> Tensor:
        return ops.log(self)

    def sqrt(self) -> Tensor:
        from . import functional as F

        return F.sqrt(self)

    def abs(self) -> Tensor:
        from . import functional as F

        return F.abs(self)

    def clamp(self, min: Number | None = None, max: Number | None = None) -> Tensor:
        from . import functional as F

        return F.clamp(self, min, max)

    clip = clamp

    def tanh(self) -> Tensor:
        return ops.tanh(self)

    def sigmoid(self) -> Tensor:
        return ops.sigmoid(self)

    def relu(self) -> Tensor:
        from . import functional as F

        return F.relu(self)

    def softmax(self, dim: int) -> Tensor:
        from . import functional as F

        return F.softmax(self, dim)

    def log_softmax(self, dim: int) -> Tensor:
        from . import functional as F

        return F.log_softmax(self, dim)

    def pow(self, exponent: Number | Tensor) -> Tensor:
        return self**exponent

    def square(self) -> Tensor:
        return ops.pow_scalar(self, 2)

    def norm(self, p: Number | str = "fro", dim: Dim = None, keepdim: bool = False) -> Tensor:
        from . import functional as F

        return F.norm(self, p, dim, keepdim)

    # --- more of PyTorch's tensor methods -----------------------------------------------------------
    def view_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    reshape_as = view_as

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        from . import functional as F

        return F.chunk(self, chunks, dim)

    def split(self, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        from . import functional as F

        return F.split(self, split_size_or_sections, dim)

    def repeat(self, *sizes: int | Sequence[int]) -> Tensor:
        from . import functional as F

        return F.repeat(self, sizes[0] if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes)

    def masked_fill(self, mask: TensorLike, value: Number) -> Tensor:
        from . import functional as F

        return F.masked_fill(self, mask, value)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> tuple[Tensor, Tensor]:
        from . import functional as F

        return F.topk(self, k, dim, largest, sorted)

    def new_zeros(self, *size: int | Sequence[int], dtype: DType | None = None) -> Tensor:
        return zeros(*size, dtype=dtype or self.dtype, device=self.device)

    def new_ones(self, *size: int | Sequence[int], dtype: DType | None = None) -> Tensor:
        return ones(*size, dtype=dtype or self.dtype, device=self.device)

    def new_full(self, size: int | Sequence[int], fill_value: Number, dtype: DType | None = None) -> Tensor:
        return full(size, fill_value, dtype=dtype or self.dtype, device=self.device)


def _device_and_dtype(op_name, args, device=None, dtype=None):
    """The (device, dtype) that ``to``-style positional arguments name: a device string ("cpu", "cuda:0"),
    a dtype (``mg.float64``, ``"float64"``, ``numpy.float64``), both in that order, or a Tensor (its own)."""
    if len(args) > 2:
        raise TypeError(f"{op_name}: expected at most a device and a dtype, got {len(args)} arguments")
    for arg in args:
        if arg is None:  # numpy.dtype(None) would be float64
            continue
        if isinstance(arg, Tensor):
            device, dtype = arg.device, arg.dtype
        elif isinstance(arg, str) and arg.partition(":")[0] in ("cpu", "cuda"):
            backend.parse_device(arg)
            device = arg
        else:
            try:
                dtype = numpy.dtype(arg)
            except TypeError:
                raise ValueError(
                    f"{op_name}: {arg!r} is neither a device ('cpu', 'cuda', 'cuda:N') nor a dtype "
                    "(mg.float32, mg.float64, 'float64', ...)"
                ) from None
    if dtype is not None:
        dtype = check_dtype(dtype, op_name)
    return device, dtype


from . import ops  # noqa: E402  (ops import Tensor lazily; the Tensor methods need ops)


def as_tensor_like(value: Any, reference: Tensor | None, op_name: str = "Tensor") -> Tensor:
    """Wrap a Python number or array as a constant Tensor on ``reference``'s device.  A number takes the
    reference's dtype when that is floating (``x * 2`` keeps x's dtype, as in PyTorch), else float32 for a
    Python float; anything that is not a number or a numeric array is a TypeError naming ``op_name``."""
    if type(value) is float and reference is not None:  # the hot case, x * 0.5 on the CPU: no more tests
        array = reference.array
        if type(array) is numpy.ndarray and (array.dtype is _FLOAT32 or array.dtype is _FLOAT64):
            return Tensor(numpy.array(value, dtype=array.dtype))
    if isinstance(value, (bool, int, float, numpy.number)):
        reference_dtype = None if reference is None else reference.array.dtype
        if reference_dtype is not None and reference_dtype.kind == "f":
            dtype = reference_dtype
        else:
            dtype = DEFAULT_DTYPE if isinstance(value, (float, numpy.floating)) else None
        xp = numpy if reference is None or type(reference.array) is numpy.ndarray else reference.xp
        return Tensor(xp.asarray(value, dtype=dtype))
    if value is None or isinstance(value, (str, bytes, dict, set)) or callable(value):
        raise TypeError(
            f"{op_name}: expected a Tensor, a number or a numeric array as operand, got "
            f"{type(value).__name__} {value!r:.60}"
        )
    if reference is None:
        array = numpy.asarray(value)
    else:
        if backend.is_cupy_array(value) != backend.is_cupy_array(reference.array):
            raise RuntimeError(
                f"{op_name}: expected all tensors on one device, found "
                f"{backend.device_of(value)} and {reference.device}"
            )
        array = reference.xp.asarray(value)
    if array.dtype.kind not in "biufc":
        raise TypeError(
            f"{op_name}: expected a Tensor, a number or a numeric array as operand, got "
            f"{type(value).__name__} of dtype {array.dtype}"
        )
    check_dtype(array.dtype, op_name)
    return Tensor(array)


# --- creation ---------------------------------------------------------------------------------------


def tensor(
    data: TensorLike | ArrayLike, dtype: DType | None = None, device: Device = "cpu", requires_grad: bool = False
) -> Tensor:
    """A new leaf Tensor from a list, a number or an array (copied). Python floats become float32 (as in
    PyTorch); NumPy arrays keep their dtype."""
    if isinstance(data, Tensor):
        data = data.array
    if dtype is None and not hasattr(data, "dtype"):
        array = numpy.asarray(data)
        if array.dtype.kind == "f":
            array = array.astype(DEFAULT_DTYPE)
    else:
        array = data
    xp = backend.empty_module_for(device)
    if backend.is_cupy_array(array):
        array = backend.to_device(array, device)
    if dtype is not None:
        dtype = check_dtype(dtype, "tensor")
    elif hasattr(array, "dtype") and not array.dtype.isnative:  # a big-endian array (from a file)
        dtype = array.dtype.newbyteorder("=")
    array = xp.array(array, dtype=dtype, copy=True)
    if backend.parse_device(device)[0] == "cpu" and backend.is_cupy_array(array):
        array = array.get()
    return Tensor(array, requires_grad=requires_grad)


def _shape(args):
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _make(fill, shape, dtype, device, requires_grad, name):
    xp = backend.empty_module_for(device)
    dtype = check_dtype(dtype or DEFAULT_DTYPE, name)
    for size in shape:
        if not isinstance(size, (int, numpy.integer)) or isinstance(size, bool) or size < 0:
            raise ValueError(f"{name}: sizes must be non-negative integers, got shape {shape}")
    return Tensor(fill(xp, shape, dtype), requires_grad=requires_grad)


def zeros(
    *shape: int | Sequence[int], dtype: DType | None = None, device: Device = "cpu", requires_grad: bool = False
) -> Tensor:
    return _make(lambda xp, s, d: xp.zeros(s, dtype=d), _shape(shape), dtype, device, requires_grad, "zeros")


def ones(
    *shape: int | Sequence[int], dtype: DType | None = None, device: Device = "cpu", requires_grad: bool = False
) -> Tensor:
    return _make(lambda xp, s, d: xp.ones(s, dtype=d), _shape(shape), dtype, device, requires_grad, "ones")


def full(
    shape: ShapeLike,
    fill_value: Number,
    dtype: DType | None = None,
    device: Device = "cpu",
    requires_grad: bool = False,
) -> Tensor:
    shape = (shape,) if isinstance(shape, (int, numpy.integer)) else tuple(shape)
    return _make(lambda xp, s, d: xp.full(s, fill_value, dtype=d), shape, dtype, device, requires_grad, "full")


def randn(
    *shape: int | Sequence[int], dtype: DType | None = None, device: Device = "cpu", requires_grad: bool = False
) -> Tensor:
    """Standard normal samples from the device's generator (seeded by ``manual_seed``)."""
    rng = backend.generator(device)
    return _make(
        lambda xp, s, d: rng.standard_normal(s, dtype=d if d.kind == "f" else None).astype(d, copy=False),
        _shape(shape),
        dtype,
        device,
        requires_grad,
        "randn",
    )


def rand(
    *shape: int | Sequence[int], dtype: DType | None = None, device: Device = "cpu", requires_grad: bool = False
) -> Tensor:
    """Uniform samples in [0, 1) from the device's generator."""
    rng = backend.generator(device)
    return _make(
        lambda xp, s, d: rng.random(s, dtype=d if d.kind == "f" else None).astype(d, copy=False),
        _shape(shape),
        dtype,
        device,
        requires_grad,
        "rand",
    )


def randint(low: int, high: int, size: ShapeLike, device: Device = "cpu") -> Tensor:
    """Integers uniform in [low, high), int64."""
    size = (size,) if isinstance(size, (int, numpy.integer)) else tuple(size)
    if not low < high:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    if any(not isinstance(n, (int, numpy.integer)) or n < 0 for n in size):
        raise ValueError(f"randint: sizes must be non-negative integers, got {size}")
    rng = backend.generator(device)
    return Tensor(rng.integers(low, high, size=size, dtype=numpy.int64))


def arange(*args: Number, dtype: DType | None = None, device: Device = "cpu") -> Tensor:
    xp = backend.empty_module_for(device)
    return Tensor(xp.arange(*args, dtype=None if dtype is None else check_dtype(dtype, "arange")))


def _like(fn, x, dtype, requires_grad):
    return fn(*x.shape, dtype=dtype or x.dtype, device=x.device, requires_grad=requires_grad)


def zeros_like(x: Tensor, dtype: DType | None = None, requires_grad: bool = False) -> Tensor:
    return _like(zeros, x, dtype, requires_grad)


def ones_like(x: Tensor, dtype: DType | None = None, requires_grad: bool = False) -> Tensor:
    return _like(ones, x, dtype, requires_grad)


def randn_like(x: Tensor, dtype: DType | None = None, requires_grad: bool = False) -> Tensor:
    return _like(randn, x, dtype, requires_grad)


def rand_like(x: Tensor, dtype: DType | None = None, requires_grad: bool = False) -> Tensor:
    return _like(rand, x, dtype, requires_grad)
