"""The common losses as single primitives: binary cross-entropy on logits (elementwise), and softmax
cross-entropy with integer class targets (the whole loss).  Each forward is one op where the composite of
``minigan.functional`` took five to nine, and each backward is built from primitives (twice differentiable).
``minigan.functional`` checks the arguments and keeps the composites for the other options (pos_weight,
class weights, ignored targets, label smoothing, probability targets, spatial dimensions)."""

from ..function import Function, xp_of
from .activation import log_softmax, sigmoid
from .arith import as_floating, div, exp, mul, neg, promote, sub
from .reduce import sum as reduce_sum
from .shape import reshape


class BinaryCrossEntropyWithLogits(Function):
    """The elementwise loss softplus(x) - t x on logits x and targets t, evaluated without cancellation as
    s + (x (1 - t) where x >= 0, else -(x t)), s = softplus(-|x|) = log1p(exp(-|x|)) (for x >= 0 that is x (1 - t) +
    softplus(-x); for x < 0, softplus(x) - x t).  gx = gy * (sigmoid(x) - t), gt = -gy * x."""

    def reads_input(self, index):
        return index == 0 or self.needs_input_grad[0]  # x for both gradients, t for x's

    def forward(self, x, t):
        xp = xp_of(x, t)
        x, t = promote(as_floating(x), t)  # integer targets take the logits' dtype
        softplus_of_minus_abs = xp.log1p(xp.exp(-xp.abs(x)))  # (NumPy's float32 logaddexp is ~40x slower)
        # max(x, 0) (1 - t) - min(x, 0) t is x (1 - t) + 0 for x >= 0 and 0 - x t for x < 0, the same values
        # as a where() of the two branches (NumPy's where takes ~6 ns per element on a random mask; this ~1)
        return softplus_of_minus_abs + (xp.maximum(x, 0) * (1 - t) - xp.minimum(x, 0) * t)

    def backward(self, gy):
        x, t = self.inputs
        gx = mul(gy, sub(sigmoid(x), t)) if self.needs_input_grad[0] else None
        gt = neg(mul(gy, x)) if self.needs_input_grad[1] else None
        return gx, gt


class CrossEntropy(Function):
    """Softmax cross-entropy of logits x (N, C) with integer class targets (N,) (a constant array, each in
    [0, C)): loss_n = lse_n - s[n, target_n] with s = x - max x per row, lse = log sum exp s, reduced by
    ``reduction`` ("mean", "sum" or "none").  gx = (softmax(x) - onehot(target)) * gy (/ N for the mean),
    one ``cross_entropy_backward`` op."""

    def __init__(self, labels, reduction):
        super().__init__()
        self.labels, self.reduction = labels, reduction

    def forward(self, x):
        xp = xp_of(x)
        m = xp.max(x, axis=1, keepdims=True)
        shifted = x - xp.where(xp.isfinite(m), m, 0).astype(x.dtype, copy=False)
        lse = xp.log(xp.sum(xp.exp(shifted), axis=1))
        losses = lse - shifted[xp.arange(x.shape[0]), self.labels]
        if self.reduction == "none":
            return losses
        total = xp.sum(losses)
        return total / x.dtype.type(x.shape[0]) if self.reduction == "mean" else total

    def backward(self, gy):
        return CrossEntropyBackward(self.labels, self.reduction).apply(self.inputs[0], gy)


class CrossEntropyBackward(Function):
    """gx = (softmax(x) - onehot(target)) * s, s = gy / N ("mean"), gy ("sum") or gy per row ("none"):
    cross_entropy's gradient in one op.  Its own gradients, from primitives (p = softmax(x), q = p - onehot,
    G the incoming gradient): in gy, the sum of q G (per row for "none"; / N for "mean"); in x,
    s p (G - sum_c G p) (the softmax's Jacobian applied to s G)."""

    def __init__(self, labels, reduction):
        super().__init__()
        self.labels, self.reduction = labels, reduction

    def reads_input(self, index):
        return index == 0 or self.needs_input_grad[0]  # x for both gradients, gy for x's

    def forward(self, x, gy):
        xp = xp_of(x)
        m = xp.max(x, axis=1, keepdims=True)
        e = xp.exp(x - xp.where(xp.isfinite(m), m, 0).astype(x.dtype, copy=False))
        g = e / xp.sum(e, axis=1, keepdims=True)
        g[xp.arange(x.shape[0]), self.labels] -= 1
        if self.reduction == "none":
            g *= gy.reshape(-1, 1)
        else:
            g *= gy / x.dtype.type(x.shape[0]) if self.reduction == "mean" else gy
        return g

    def backward(self, ggx):
        x, gy = self.inputs
        xp = x.xp
        onehot = xp.zeros(x.shape, dtype=x.dtype)
        onehot[xp.arange(x.shape[0]), self.labels] = 1
        p = exp(log_softmax(x, 1))
        ggy = gxx = None
        if self.needs_input_grad[1]:
            if self.reduction == "none":
                ggy = reduce_sum(mul(sub(p, onehot), ggx), 1)
            else:
                ggy = reduce_sum(mul(sub(p, onehot), ggx))
                if self.reduction == "mean":
                    ggy = div(ggy, float(x.shape[0]))
        if self.needs_input_grad[0]:
            if self.reduction == "none":
                scale = reshape(gy, (x.shape[0], 1))
            else:
                scale = div(gy, float(x.shape[0])) if self.reduction == "mean" else gy
            gxx = mul(mul(p, sub(ggx, reduce_sum(mul(ggx, p), 1, True))), scale)
        return gxx, ggy


def binary_cross_entropy_with_logits(x, t):
    """The elementwise loss, for x and t of one shape (checked by the caller)."""
    return BinaryCrossEntropyWithLogits().apply(x, t)


def cross_entropy(x, labels, reduction):
    """The loss of logits x (N, C) for the integer array ``labels`` (N,), each in [0, C) (checked by the
    caller, ``functional.cross_entropy``)."""
    return CrossEntropy(labels, reduction).apply(x)
