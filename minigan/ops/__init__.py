"""The primitives: each a ``Function`` with ``forward`` on arrays and ``backward`` built from these ops.

Grouped by kind: ``arith`` (add, mul, div, pow, exp, expm1, log, where, masks), ``reduce`` (sum, max,
logsumexp), ``shape`` (reshape, transpose, broadcast_to, sum_to, getitem, concat, pad), ``linalg``
(matmul, linear), ``activation`` (tanh, sigmoid, softplus, leaky ReLU, their backward ops, log_softmax), ``losses``
(binary_cross_entropy_with_logits, cross_entropy), ``conv`` (conv2d, conv_transpose2d, conv2d_weight).
Everything else is built from these in ``minigan.functional``.
"""

from .arith import add, sub, mul, div, neg, add_scalar, mul_scalar, pow_scalar, exp, expm1, log, where, mul_mask
from .reduce import sum, max, logsumexp
from .shape import sum_to, reshape, transpose, broadcast_to, getitem, concat, pad
from .linalg import matmul, linear
from .activation import tanh, sigmoid, softplus, leaky_relu, tanh_backward, sigmoid_backward, log_softmax
from .losses import binary_cross_entropy_with_logits, cross_entropy
from .conv import conv2d, conv_transpose2d, conv2d_weight
from .convert import cast, to_device
from .norm import batch_norm_normalize, batch_norm_affine

__all__ = [
    "add",
    "sub",
    "mul",
    "div",
    "neg",
    "add_scalar",
    "mul_scalar",
    "pow_scalar",
    "exp",
    "expm1",
    "log",
    "where",
    "mul_mask",
    "sum",
    "sum_to",
    "max",
    "logsumexp",
    "reshape",
    "transpose",
    "broadcast_to",
    "getitem",
    "concat",
    "pad",
    "matmul",
    "linear",
    "tanh",
    "sigmoid",
    "softplus",
    "leaky_relu",
    "tanh_backward",
    "sigmoid_backward",
    "log_softmax",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "conv2d",
    "conv_transpose2d",
    "conv2d_weight",
    "cast",
    "to_device",
    "batch_norm_normalize",
    "batch_norm_affine",
]
