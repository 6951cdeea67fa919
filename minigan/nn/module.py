"""``Module`` and ``Parameter``: the containers every network is built from (PyTorch's ``torch.nn.Module``).

A module owns three kinds of state, each in an ordered dict filled by ``__setattr__``:

* ``_parameters``: ``Parameter`` tensors (learned; returned by ``parameters()``, seen by optimizers);
* ``_buffers``: tensors that are state but not learned (batch-norm running statistics), registered
  explicitly with ``register_buffer(name, tensor)``;
* ``_modules``: sub-modules.

Names are joined with dots (``"0.weight"``, ``"bn.running_mean"``), exactly as PyTorch names them, so a
``state_dict`` can be exchanged with PyTorch (through safetensors) key for key.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy

from .. import autograd, backend
from ..interop import as_array
from ..tensor import Tensor

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ..typing import Device, DType, TensorLike
    from .module import IncompatibleKeys

__all__ = ["Module", "Parameter"]


class Parameter(Tensor):
    """A leaf Tensor that a Module learns: ``requires_grad=True`` by default, listed by ``parameters()``.

    ``Parameter(data)`` takes an xp array or a Tensor (whose array it shares, not copies)."""

    def __init__(self, data: TensorLike | None = None, requires_grad: bool = True) -> None:
        if data is None:
            data = numpy.empty((0,), dtype=numpy.float32)
        if isinstance(data, Tensor):
            data = data.array
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _converts_within_kind(source, target) -> bool:
    """Whether loading a ``source``-dtype value into a ``target``-dtype tensor keeps its meaning: floats and
    integers and bools into floats (float64 -> float32 rounds, as PyTorch's copy does), integers and bools
    into integers (the int64 ``num_batches_tracked``), bools into bools; never complex, strings or objects."""
    numeric = "biuf"
    if source.kind not in numeric or target.kind not in numeric:
        return False
    if target.kind == "f":
        return True
    if target.kind in "iu":
        return source.kind in "biu"
    return source.kind == "b"


class Module:
    """Base class of all layers and networks. Subclasses set attributes in ``__init__`` and define
    ``forward``; calling the module calls ``forward``."""

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())

    # --- registration ---------------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() was called "
                f"(call super().__init__() first in {type(self).__name__}.__init__)"
            )
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._forget(name)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to parameter {name!r} of "
                    f"{type(self).__name__} (a Parameter or None is expected)"
                )
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to sub-module {name!r} of "
                    f"{type(self).__name__} (a Module or None is expected)"
                )
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to buffer {name!r} of "
                    f"{type(self).__name__} (a Tensor or None is expected)"
                )
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        self._non_persistent_buffers.discard(name)
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:  # only called when normal lookup fails
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        if any(name in table for table in (self._parameters, self._buffers, self._modules)):
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a non-learned state tensor (moved by ``to``, saved by ``state_dict`` if persistent)."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"buffer name must be a non-empty string without '.', got {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"buffer {name!r} must be a Tensor or None, got {type(tensor).__name__}")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"attribute {name!r} already exists as a parameter or sub-module")
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a Parameter (or None, for an absent optional parameter such as a bias)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"parameter {name!r} must be a Parameter or None, got {type(param).__name__}")
        self._forget(name)
        self._parameters[name] = param

    def add_module(self, name: str, module: Module) -> None:
        """Add a sub-module under ``name`` (what ``self.name = module`` does)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module")
        self._forget(name)
        self._modules[name] = module

    # --- traversal ------------------------------------------------------------------------------------
    def named_modules(self, prefix: str = "", memo: set[int] | None = None) -> Iterator[tuple[str, Module]]:
        """Yield (dotted name, module) for this module and every descendant, each once."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(prefix + ("." if prefix else "") + name, memo)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(self, table, recurse):
        seen = set()
        modules = self.named_modules() if recurse else [("", self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, table).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Yield (dotted name, Parameter), each Parameter once even when shared."""
        for name, p in self._named_members("_parameters", recurse):
            yield prefix + ("." if prefix and name else "") + name, p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        for name, b in self._named_members("_buffers", recurse):
            yield prefix + ("." if prefix and name else "") + name, b

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # --- modes and bulk changes -----------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (batch norm uses batch statistics, dropout drops) here and below."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of every parameter (``None``, or zeros with ``set_to_none=False``)."""
        for p in self.parameters():
            _zero_grad(p, set_to_none)

    def apply(self, fn: Callable[[Module], Any]) -> "Module":
        """Call ``fn(module)`` on every sub-module (children first) and then on self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, device: Device | DType | None = None, dtype: DType | None = None) -> "Module":
        """Move (and/or cast floating tensors of) every parameter and buffer, in place.

        Each Parameter keeps its identity (only its ``.array`` and ``.grad`` change), so an optimizer built
        before the move still holds the right objects."""
        if isinstance(device, str) and device not in ("cpu",) and not device.startswith("cuda"):
            try:  # allow module.to("float64")
                dtype, device = numpy.dtype(device), None
            except TypeError:
                pass
        target = None if dtype is None else numpy.dtype(dtype)

        def convert(array):
            if target is not None and array.dtype.kind in "fc":
                array = array.astype(target, copy=False)
            if device is not None:
                array = backend.to_device(array, device)
            return array

        for module in self.modules():
            for p in module._parameters.values():
                if p is None:
                    continue
                p.array = convert(p.array)
                p._bump_version()  # the values a saved graph holds have changed
                if p.grad is not None:
                    p.grad = Tensor(convert(p.grad.array))
            for name, b in module._buffers.items():
                if b is not None:
                    b.array = convert(b.array)
                    b._bump_version()
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, index: int = 0) -> Module:
        return self.to(f"cuda:{index}")

    def float(self) -> Module:
        return self.to(dtype=numpy.float32)

    def double(self) -> Module:
        return self.to(dtype=numpy.float64)

    # --- state dict -----------------------------------------------------------------------------------
    def state_dict(
        self, destination: OrderedDict[str, Tensor] | None = None, prefix: str = "", keep_vars: bool = False
    ) -> OrderedDict[str, Tensor]:
        """An OrderedDict of dotted name -> Tensor for every parameter and persistent buffer.

        Without ``keep_vars`` the values are detached Tensors sharing the parameters' arrays, as in PyTorch
        (copy them, or save them, before training on if you need a snapshot), and their version counters (a
        graph that saved a parameter sees an in-place change made through its state-dict value)."""
        destination = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy values into the parameters and buffers, in place (cast to their dtype, moved to their
        device). Values may be Tensors, NumPy/CuPy arrays, or any object with ``__dlpack__`` or ``__array__``
        (a PyTorch, JAX or CuPy state dict in memory), read by ``minigan.interop.as_array``.

        Every value is checked, cast and moved before any is copied in, so a refused state dict leaves the
        module as it was. With ``strict`` a missing or unexpected key is an error naming every such key; a
        shape mismatch, or a value whose dtype does not convert to the target's without losing its kind
        (complex into float, float into an integer buffer, strings, objects), is always an error naming the
        key. Returns (missing_keys, unexpected_keys)."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"{type(self).__name__}.load_state_dict: expected a dict of name -> tensor, got "
                f"{type(state_dict).__name__}"
            )
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict:
            if missing:
                errors.append("missing keys: " + ", ".join(repr(k) for k in missing))
            if unexpected:
                errors.append("unexpected keys: " + ", ".join(repr(k) for k in unexpected))
        arrays = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            try:  # a Tensor, NumPy/CuPy, or any DLPack/__array__ value
                array = numpy.asarray(value) if isinstance(value, (list, tuple)) else as_array(value)
            except (TypeError, ValueError) as error:  # ragged lists and the like
                errors.append(f"{key!r} is not an array ({type(value).__name__}: {error})")
                continue
            if tuple(array.shape) != tuple(target.shape):
                errors.append(
                    f"size mismatch for {key!r}: the checkpoint has shape {tuple(array.shape)}, "
                    f"the module has shape {tuple(target.shape)}"
                )
                continue
            if not _converts_within_kind(array.dtype, target.dtype):
                errors.append(
                    f"dtype mismatch for {key!r}: the checkpoint has {array.dtype}, which does not "
                    f"convert to the module's {target.dtype} without changing its kind"
                )
                continue
            arrays[key] = backend.to_device(array, target.device).astype(target.dtype, copy=False)
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n  " + "\n  ".join(errors))
        for key, array in arrays.items():
            own[key].array[...] = array
            own[key]._bump_version()
        return IncompatibleKeys(missing, unexpected)

    # --- calling and printing -------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for hook in self._forward_pre_hooks.values():  # e.g. spectral norm recomputing the weight
            replaced = hook(self, args)
            if replaced is not None:
                args = replaced if isinstance(replaced, tuple) else (replaced,)
        if autograd.active_tracers:  # minigan.graph's trace(): name the layer the ops inside belong to
            return _observed_call(self, args, kwargs)
        return self.forward(*args, **kwargs)

    def register_forward_pre_hook(self, hook: Callable[[Module, tuple[Any, ...]], Any]) -> RemovableHandle:
        """Call ``hook(module, args)`` before every ``forward``; a non-None result replaces the positional
        arguments. Returns a handle whose ``remove()`` unregisters the hook (PyTorch's contract)."""
        if not callable(hook):
            raise TypeError(f"register_forward_pre_hook: hook must be callable, got {type(hook).__name__}")
        key = max(self._forward_pre_hooks, default=-1) + 1
        self._forward_pre_hooks[key] = hook
        return RemovableHandle(self._forward_pre_hooks, key)

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's line in ``repr`` (override in layers)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, module in self._modules.items():
            body = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}(" + (extra + "\n" if extra else "\n")
        return head + "".join("  " + line + "\n" for line in lines) + ")"

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))


def _zero_grad(p, set_to_none):
    if p.grad is None:
        return
    if set_to_none:
        p.grad = None
    else:  # a fresh array: the old .grad may share its array with another tensor
        p.grad = Tensor(p.xp.zeros_like(p.grad.array))


def _observed_call(module, args, kwargs):
    """``module.forward``, announced to the active tracers of minigan.graph (autograd.active_tracers)."""
    tracers = tuple(autograd.active_tracers)
    for tracer in tracers:
        tracer.module_entered(module)
    try:
        return module.forward(*args, **kwargs)
    finally:
        for tracer in reversed(tracers):
            tracer.module_exited(module)


class RemovableHandle:
    """What ``register_forward_pre_hook`` returns: ``remove()`` takes the hook out of its table."""

    def __init__(self, table, key):
        self.table, self.key = table, key

    def remove(self):
        self.table.pop(self.key, None)
