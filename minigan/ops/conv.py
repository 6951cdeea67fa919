"""The convolution family: a closed set of three primitives (Chainer's design).

* ``conv2d(x, W)``             y[n,o] = sum_c x[n,c] (cross-correlated with) W[o,c]
* ``conv_transpose2d(x, W)``   the adjoint of conv2d in its input: the gradient of conv2d w.r.t. x
* ``conv2d_weight(x, gy)``     the gradient of conv2d w.r.t. W

Each one's backward is written with the other two, so all three are differentiable any number of times
(WGAN-GP's gradient penalty differentiates conv2d's backward). The forward passes run the kernels of the
``kernels`` package (Numba on the CPU, numba.cuda + cuBLAS on the GPU, or the NumPy reference with
``MINIGAN_KERNELS=reference``); kernels are never differentiated.

Shapes (PyTorch's layouts):
    conv2d           x (N, C, H, W), W (O, C, kh, kw) -> (N, O, Ho, Wo), Ho = (H + 2p - d(kh-1) - 1)//s + 1
    conv_transpose2d x (N, C, H, W), W (C, O, kh, kw) -> (N, O, Ho, Wo), Ho = (H-1)s - 2p + d(kh-1) + op + 1
    conv2d_weight    x (N, C, H, W), gy (N, O, Ho, Wo) -> (O, C, kh, kw)
Reference: Dumoulin & Visin, "A guide to convolution arithmetic for deep learning" (2016).
"""

from minigan_kernels.reference import conv_output_size, conv_transpose_output_size  # kernels own the arithmetic

from .. import argcheck
from ..backend import kernels_for
from ..function import Function
from .arith import Mul


def _output_padding_to_match(input_hw, output_hw, kernel_hw, stride, padding, dilation):
    """The output_padding that makes conv_transpose2d of an (Ho, Wo) map come back to (H, W)."""
    return tuple(
        h - ((ho - 1) * s - 2 * p + d * (k - 1) + 1)
        for h, ho, k, s, p, d in zip(input_hw, output_hw, kernel_hw, stride, padding, dilation)
    )


def _check_float(op, *arrays):
    for a in arrays:
        if a.dtype.kind != "f":
            raise TypeError(f"{op}: expected floating-point tensors, got dtype {a.dtype}")
    if len({a.dtype for a in arrays}) > 1:
        raise TypeError(f"{op}: dtypes differ: {', '.join(str(a.dtype) for a in arrays)}")


class Conv2d(Function):
    reads_input = Mul.reads_input  # x is read for W's gradient, W for x's

    def __init__(self, stride, padding, dilation):
        super().__init__()
        self.stride, self.padding, self.dilation = stride, padding, dilation

    def forward(self, x, W):
        if x.ndim != 4 or W.ndim != 4 or x.shape[1] != W.shape[1]:
            raise ValueError(
                f"conv2d: input {tuple(x.shape)} and weight {tuple(W.shape)} do not match: expected "
                "input (N, C, H, W) and weight (O, C, kh, kw) with the same C"
            )
        _check_float("conv2d", x, W)
        out_hw = [
            conv_output_size(x.shape[2 + i], W.shape[2 + i], self.stride[i], self.padding[i], self.dilation[i])
            for i in range(2)
        ]
        if min(out_hw) < 1:
            raise ValueError(
                f"conv2d: input {tuple(x.shape)} is too small for kernel {tuple(W.shape[2:])} with "
                f"stride {self.stride}, padding {self.padding}, dilation {self.dilation}"
            )
        return kernels_for(x).conv2d(x, W, self.stride, self.padding, self.dilation)

    def backward(self, gy):
        x, W = self.inputs
        gx = gW = None
        if self.needs_input_grad[0]:
            output_padding = _output_padding_to_match(
                x.shape[2:], gy.shape[2:], W.shape[2:], self.stride, self.padding, self.dilation
            )
            gx = conv_transpose2d(gy, W, self.stride, self.padding, output_padding, self.dilation)
        if self.needs_input_grad[1]:
            gW = conv2d_weight(x, gy, W.shape[2:], self.stride, self.padding, self.dilation)
        return gx, gW


class ConvTranspose2d(Function):
    reads_input = Mul.reads_input

    def __init__(self, stride, padding, output_padding, dilation):
        super().__init__()
        self.stride, self.padding = stride, padding
        self.output_padding, self.dilation = output_padding, dilation

    def forward(self, x, W):
        if x.ndim != 4 or W.ndim != 4 or x.shape[1] != W.shape[0]:
            raise ValueError(
                f"conv_transpose2d: input {tuple(x.shape)} and weight {tuple(W.shape)} do not match: "
                "expected input (N, C, H, W) and weight (C, O, kh, kw) with the same C"
            )
        _check_float("conv_transpose2d", x, W)
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= max(s, d):
                raise ValueError(
                    f"conv_transpose2d: output_padding {self.output_padding} must be smaller than "
                    f"stride {self.stride} or dilation {self.dilation}"
                )
        out_hw = [
            conv_transpose_output_size(
                x.shape[2 + i],
                W.shape[2 + i],
                self.stride[i],
                self.padding[i],
                self.output_padding[i],
                self.dilation[i],
            )
            for i in range(2)
        ]
        if min(out_hw) < 1:
            raise ValueError(
                f"conv_transpose2d: the output would be empty ({out_hw[0]} x {out_hw[1]}): padding "
                f"{self.padding} is too large for input {tuple(x.shape)}, kernel {tuple(W.shape[2:])}, "
                f"stride {self.stride}, dilation {self.dilation}"
            )
        return kernels_for(x).conv_transpose2d(x, W, self.stride, self.padding, self.output_padding, self.dilation)

    def backward(self, gy):
        x, W = self.inputs
        gx = conv2d(gy, W, self.stride, self.padding, self.dilation) if self.needs_input_grad[0] else None
        gW = (
            conv2d_weight(gy, x, W.shape[2:], self.stride, self.padding, self.dilation)
            if self.needs_input_grad[1]
            else None
        )
        return gx, gW


class Conv2dWeight(Function):
    reads_input = Mul.reads_input

    def __init__(self, kernel_size, stride, padding, dilation):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride
        self.padding, self.dilation = padding, dilation

    def forward(self, x, gy):
        _check_float("conv2d_weight", x, gy)
        return kernels_for(x).conv2d_weight(x, gy, self.kernel_size, self.stride, self.padding, self.dilation)

    def backward(self, ggW):
        x, gy = self.inputs
        g_x = g_gy = None
        if self.needs_input_grad[0]:
            output_padding = _output_padding_to_match(
                x.shape[2:], gy.shape[2:], self.kernel_size, self.stride, self.padding, self.dilation
            )
            g_x = conv_transpose2d(gy, ggW, self.stride, self.padding, output_padding, self.dilation)
        if self.needs_input_grad[1]:
            g_gy = conv2d(x, ggW, self.stride, self.padding, self.dilation)
        return g_x, g_gy


def _geometry(op, stride, padding, dilation):
    """Checked (stride, padding, dilation) pairs: stride and dilation >= 1, padding >= 0, all ints."""
    return (
        argcheck.int_pair(op, "stride", stride, 1),
        argcheck.int_pair(op, "padding", padding, 0),
        argcheck.int_pair(op, "dilation", dilation, 1),
    )


def conv2d(x, W, stride=1, padding=0, dilation=1):
    return Conv2d(*_geometry("conv2d", stride, padding, dilation)).apply(x, W)


def conv_transpose2d(x, W, stride=1, padding=0, output_padding=0, dilation=1):
    stride, padding, dilation = _geometry("conv_transpose2d", stride, padding, dilation)
    output_padding = argcheck.int_pair("conv_transpose2d", "output_padding", output_padding, 0)
    return ConvTranspose2d(stride, padding, output_padding, dilation).apply(x, W)


def conv2d_weight(x, gy, kernel_size, stride=1, padding=0, dilation=1):
    kernel_size = argcheck.int_pair("conv2d_weight", "kernel_size", kernel_size, 1)
    return Conv2dWeight(kernel_size, *_geometry("conv2d_weight", stride, padding, dilation)).apply(x, gy)
