"""The fast CPU kernels: the functions of kernels/reference.py (the specification: same signatures, math and
shapes, same results up to rounding), as Numba loops around BLAS products.  This module only gathers them;
each lives with its concern:

    kernels/conv.py         conv2d, conv_transpose2d, conv2d_weight: which implementation serves a layer
    kernels/winograd.py       Winograd F(4x4, 2x2) for the large 4x4 stride-2 layers
    kernels/fused.py          per-thread pipelines im2col -> product -> col2im on the private BLAS
    kernels/im2col.py         the im2col / col2im loops and batch transposes
    kernels/products.py     matmul and the conv layers' products on the private BLAS (kernels/blas.py)
    kernels/pointwise.py    leaky_relu, leaky_relu_backward, add, multiply (incl. a per-channel bias add)
    kernels/batch_norm.py   batch_norm_forward, batch_norm_backward, batch_norm_affine_backward, channel_sum
    kernels/adam.py         adam_update
    kernels/loops.py        the shared Numba loops, and how workers run on Numba's threads
    kernels/runtime.py      the process set-up (threading layer, malloc, forks, compile helper) and thread
                            counts; kernels.select() runs its configure() before handing this module out

Compiled kernels are cached on disk (cache=True; $NUMBA_CACHE_DIR relocates the cache), so the JIT cost is
paid once per machine, and on a cold cache kernels/precompile.py compiles the float32 workers in a helper
process beside the user's.
"""

from .adam import adam_update
from .batch_norm import batch_norm_affine_backward, batch_norm_backward, batch_norm_forward, channel_sum
from .conv import conv2d, conv2d_weight, conv_transpose2d, winograd_info
from .pointwise import add, leaky_relu, leaky_relu_backward, multiply
from .products import matmul
from .runtime import threading_layer

__all__ = [
    "conv2d",
    "conv_transpose2d",
    "conv2d_weight",
    "matmul",
    "leaky_relu",
    "leaky_relu_backward",
    "add",
    "multiply",
    "channel_sum",
    "batch_norm_forward",
    "batch_norm_backward",
    "batch_norm_affine_backward",
    "adam_update",
    "threading_layer",
    "winograd_info",
]
