"""minigan: generative models (RBM, DBN, VAE, GAN, DCGAN, WGAN-GP, ...) from scratch on a small autograd
engine with second derivatives, on NumPy (CPU) or CuPy (GPU), with Numba convolution kernels.

    import minigan as mg, minigan.functional as F, minigan.nn as nn, minigan.optim as optim
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .autograd import backward, detect_anomaly, enable_grad, grad, is_grad_enabled, no_grad
from . import backend
from .backend import get_array_module, manual_seed
from .backend import info as backend_info
from .gradcheck import GradcheckError, gradcheck, gradgradcheck, numerical_jacobian
from .tensor import (
    Tensor,
    arange,
    full,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from .functional import (
    abs,
    cat,
    clamp,
    exp,
    flatten,
    log,
    logsumexp,
    mean,
    norm,
    reshape,
    sigmoid,
    sqrt,
    stack,
    sum,
    tanh,
    where,
)
from .interop import as_tensor, from_numpy
from . import graph  # mg.graph.graph_text / to_dot / draw / trace: see the graph, trace a step
from . import utils  # mg.utils.data: torch.utils.data's names (Dataset, DataLoader, ...)

if TYPE_CHECKING:
    from .typing import Device, PathLike

__version__ = "0.1.0"

float32 = "float32"
float64 = "float64"
int64 = "int64"

__all__ = [
    "Tensor",
    "tensor",
    "zeros",
    "ones",
    "full",
    "rand",
    "randn",
    "randint",
    "arange",
    "zeros_like",
    "ones_like",
    "rand_like",
    "randn_like",
    "grad",
    "backward",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "detect_anomaly",
    "manual_seed",
    "get_array_module",
    "backend_info",
    "gradcheck",
    "gradgradcheck",
    "numerical_jacobian",
    "GradcheckError",
    "cat",
    "stack",
    "where",
    "logsumexp",
    "save",
    "load",
    "graph",
    "utils",
    "as_tensor",
    "from_numpy",
    "device",
    "exp",
    "log",
    "sigmoid",
    "tanh",
    "sqrt",
    "abs",
    "clamp",
    "sum",
    "mean",
    "norm",
    "flatten",
    "reshape",
    "float32",
    "float64",
    "int64",
]


def save(state: dict[str, Any], path: PathLike) -> None:
    """Write a dict of Tensors/arrays (nested dicts and numbers allowed) to ``path`` safely and atomically."""
    from .serialization import save as _save

    return _save(state, path)


def load(path: PathLike, map_location: Device | None = None, *, device: Device | None = None) -> dict[str, Any]:
    """Read what ``save`` wrote, or a ``torch.save`` file (``.pth``/``.pt``, PyTorch's zip format, read
    without unpickling by ``minigan.torch_files``), the tensors on ``map_location`` (PyTorch's name; a
    device string, "cpu" by default) -- ``device=`` is the same thing under minigan's older name."""
    from .serialization import load as _load
    from .torch_files import is_legacy_torch_file, is_torch_zip, load_torch

    if map_location is not None and device is not None:
        raise TypeError("load: give map_location or device, not both")
    device = map_location or device or "cpu"
    if is_torch_zip(path) or is_legacy_torch_file(path):
        return load_torch(path, device=device)
    return _load(path, device=device)


def device(spec: Device = "cpu") -> str:
    """``torch.device``: minigan names devices by their strings ("cpu", "cuda", "cuda:N"); this checks the
    name and returns it, so that ``mg.device("cpu")`` can stand where a script builds a device."""
    backend.parse_device(spec)
    return spec
