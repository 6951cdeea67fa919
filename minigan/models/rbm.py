"""The restricted Boltzmann machine (source 003), trained by contrastive divergence, and its partition function.

A Bernoulli-Bernoulli RBM on visible v in {0,1}^D and hidden h in {0,1}^H has the energy and distribution

    E(v, h) = -b^T v - c^T h - v^T W h,              p(v, h) = exp(-E(v, h)) / Z,   Z = sum_{v,h} exp(-E(v, h))

(W (D, H), visible bias b (D,), hidden bias c (H,); the layout of the source's Theano code). Summing out h
gives the free energy, p(v) = exp(-F(v)) / Z, with

    F(v) = -b^T v - sum_j log(1 + exp(c_j + v^T W_j)) = -b^T v - sum_j softplus(c_j + v^T W_j).

No connections within a layer, so both conditionals factorise (block Gibbs sampling):

    p(h_j = 1 | v) = sigmoid(c_j + v^T W_{:j}),       p(v_i = 1 | h) = sigmoid(b_i + W_{i:} h).

Gradient of the negative log-likelihood of one example, for any parameter theta:

    -d log p(v) / d theta = dF(v)/d theta - E_{p(v')}[dF(v')/d theta]          (positive - negative phase)
    -d log p(v) / d W     = -( v p(h|v)^T - E_model[v' p(h|v')^T] )

Contrastive divergence CD-k (Hinton 2002) replaces the model expectation by the statistics of samples
("negative particles") found by k steps of block Gibbs sampling started at the data; persistent CD
(PCD, Tieleman 2008) keeps the chains running from one update to the next instead of restarting them.
The update (and the persistent chains, which are training state) live in ``minigan/trainers/rbm.py``.
``cd_gradients`` writes the update as <v h>_data - <v h>_model on arrays; ``free_energy_loss`` writes the
same thing as the surrogate mean F(v_data) - mean F(v_model), differentiated by the minigan engine (the
negative particles held constant): both give identical gradients, which tests/test_rbm.py checks.

Z sums 2^(D+H) terms. ``log_partition_exact`` enumerates the smaller layer (2^min(D,H) terms, feasible up
to ~25 units); ``ais_log_partition`` estimates log Z by annealed importance sampling from a base-rate RBM
(W = 0, visible biases from the data's pixel means; Salakhutdinov & Murray 2008, section 4). The test
log-likelihood is then  mean log p(v) = -mean F(v) - log Z.

Monitors (cheap, without Z): ``reconstruction_error`` (cross-entropy of v against p(v | h ~ p(h | v)), the
usual but misleading one; Hinton 2010, section 5) and ``pseudo_log_likelihood`` (Besag 1975: sum_i
log p(v_i | v_{-i}) = sum_i log sigmoid(F(v with bit i flipped) - F(v)), estimated from random bits).

An optional ``hidden="gaussian"`` gives linear hidden units with unit-variance Gaussian noise, used by the
top RBM of Hinton & Salakhutdinov (2006)'s autoencoder: h | v ~ N(c + W^T v, I), F(v) = -b^T v -
sum_j (c_j + v^T W_j)^2 / 2 (+ a constant). Only training and sampling use it; log Z is for Bernoulli.

References: Hinton, Training products of experts by minimizing contrastive divergence, Neural Computation
2002; Tieleman, Training restricted Boltzmann machines using approximations to the likelihood gradient,
ICML 2008; Salakhutdinov & Murray, On the quantitative analysis of deep belief networks, ICML 2008;
Hinton, A practical guide to training restricted Boltzmann machines, UTML TR 2010-003; Neal, Annealed
importance sampling, Statistics and Computing 2001; the deeplearning.net RBM tutorial (the source's code).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy

from .. import backend, nn
from .. import functional as F
from ..tensor import Tensor

if TYPE_CHECKING:
    from types import ModuleType

    from ..typing import Array, ArrayLike, Device, DType, TensorLike

__all__ = [
    "RBM",
    "ais_log_partition",
    "log_partition_exact",
    "independent_bernoulli_log_likelihood",
    "per_pixel_bernoulli_nll",
    "base_rate_biases",
    "ais_betas",
]


def _sigmoid(xp, a):
    """1 / (1 + e^-a) written as (1 + tanh(a / 2)) / 2: no overflow for large |a|."""
    return 0.5 * (1.0 + xp.tanh(0.5 * a))


def _softplus(xp, a):
    """log(1 + e^a), stable for any a: max(a, 0) + log1p(e^-|a|)."""
    return xp.maximum(a, 0) + xp.log1p(xp.exp(-xp.abs(a)))


def _logsumexp(a):
    """log sum exp over every element of an xp array, by the engine's overflow-free ``logsumexp``."""
    return float(F.logsumexp(Tensor(a)).item())


def _product(a, b):
    """a @ b by the kernel module's product (on the CPU the private single-threaded BLAS on Numba's threads,
    kernels/products.py): NumPy's own multi-threaded BLAS leaves its threads spinning after each product,
    which costs a Gibbs step's small products ~10x their CPU time (issue 17)."""
    return backend.kernels_for(a).matmul(a, b)


def _array(x, like):
    """A Tensor or array-like -> an xp array of ``like``'s dtype on its device, rows flattened (N, D)."""
    xp = backend.get_array_module(like)
    x = x.array if isinstance(x, Tensor) else x
    x = xp.asarray(x, dtype=like.dtype)
    return x.reshape(x.shape[0], -1) if x.ndim > 1 else x.reshape(1, -1)


def base_rate_biases(v, eps=1e-3):
    """Visible biases of the base-rate model: b_i = log(p_i / (1 - p_i)) with p_i the pixel mean, clipped to
    [eps, 1 - eps] (Salakhutdinov & Murray 2008; Hinton 2010, section 8). v (N, D) -> (D,) float64 NumPy."""
    v = numpy.asarray(v.array if isinstance(v, Tensor) else v, dtype=numpy.float64).reshape(len(v), -1)
    p = numpy.clip(v.mean(0), eps, 1 - eps)
    return numpy.log(p) - numpy.log1p(-p)


def independent_bernoulli_log_likelihood(v_train, v_test, eps=1e-3):
    """Exact mean test log-likelihood (nats) of the independent per-pixel Bernoulli model fitted to v_train
    (pixel means clipped to [eps, 1 - eps]): the baseline any RBM must beat. It is an RBM with W = 0."""
    b = base_rate_biases(v_train, eps)
    v = numpy.asarray(v_test, dtype=numpy.float64).reshape(len(v_test), -1)
    return float((v @ b - _softplus(numpy, b).sum()).mean())


def per_pixel_bernoulli_nll(x_train, x_test):
    """The same baseline with add-one (Laplace) smoothing instead of clipping, as a negative log-likelihood:
    p_i = (N m_i + 1) / (N + 2), m_i the training mean of pixel i over N images; returns
    -mean_x sum_i [x_i log p_i + (1 - x_i) log(1 - p_i)] in nats per image. x_test binary gives the exact
    NLL; grey x_test gives the cross-entropy that pytorch/examples/vae reports for grey-level targets."""
    n = len(x_train)
    x_train = numpy.asarray(x_train.array if isinstance(x_train, Tensor) else x_train)
    p = (x_train.reshape(n, -1).sum(0) + 1.0) / (n + 2.0)
    t = numpy.asarray(x_test).reshape(len(x_test), -1).astype(numpy.float64)
    return float(-numpy.mean(t @ numpy.log(p) + (1 - t) @ numpy.log1p(-p)))


class RBM(nn.Module):
    """Bernoulli-Bernoulli restricted Boltzmann machine (Bernoulli or Gaussian hidden units).

    n_visible: D, n_hidden: H. W (D, H) ~ N(0, init_std^2), b (D,) = 0 (or ``base_rate_biases``), c (H,) = 0.
    Arrays go in as (N, D) (or (N, 1, 28, 28), flattened) and come out as xp arrays on W's device; all
    sampling uses ``minigan.backend.generator(device)``, so ``mg.manual_seed`` makes runs repeatable."""

    def __init__(
        self,
        n_visible: int,
        n_hidden: int,
        hidden: str = "bernoulli",
        init_std: float = 0.01,
        device: Device = "cpu",
        dtype: DType = "float32",
    ) -> None:
        super().__init__()
        if hidden not in ("bernoulli", "gaussian"):
            raise ValueError(f"hidden must be 'bernoulli' or 'gaussian', got {hidden!r}")
        self.n_visible, self.n_hidden, self.hidden = int(n_visible), int(n_hidden), hidden
        xp = backend.empty_module_for(device)
        rng = backend.generator(device)
        W = rng.standard_normal((self.n_visible, self.n_hidden)).astype(dtype) * init_std
        self.W = nn.Parameter(Tensor(backend.to_device(xp.asarray(W, dtype=dtype), device)))  # (D, H)
        self.b = nn.Parameter(Tensor(backend.to_device(xp.zeros(self.n_visible, dtype=dtype), device)))  # (D,)
        self.c = nn.Parameter(Tensor(backend.to_device(xp.zeros(self.n_hidden, dtype=dtype), device)))  # (H,)

    def extra_repr(self) -> str:
        return f"n_visible={self.n_visible}, n_hidden={self.n_hidden}, hidden={self.hidden}"

    @property
    def xp(self) -> ModuleType:
        return backend.get_array_module(self.W.array)

    def _rng(self):
        return backend.generator(self.W.device)

    def bernoulli(self, p: Array) -> Array:
        """A binary sample of the probabilities p (any shape), from minigan's generator of W's device."""
        return (self._rng().random(p.shape, dtype=p.dtype) < p).astype(p.dtype)

    # --- energies ------------------------------------------------------------------------------------

    def energy(self, v: TensorLike, h: TensorLike) -> Array:
        """E(v, h) = -b^T v - c^T h - v^T W h for each row: v (N, D), h (N, H) -> (N,)."""
        W, b, c = self.W.array, self.b.array, self.c.array
        v, h = _array(v, W), _array(h, W)
        return -(v @ b) - (h @ c) - ((v @ W) * h).sum(1)

    def free_energy(self, v: TensorLike) -> Array:
        """F(v) = -log sum_h exp(-E(v, h)) = -b^T v - sum_j softplus(c_j + v^T W_j): (N, D) -> (N,) array."""
        W, b, c = self.W.array, self.b.array, self.c.array
        v = _array(v, W)
        a = v @ W + c  # (N, H)
        hidden_term = 0.5 * (a * a).sum(1) if self.hidden == "gaussian" else _softplus(self.xp, a).sum(1)
        return -(v @ b) - hidden_term

    def free_energy_tensor(self, v: TensorLike) -> Tensor:
        """F(v) as a minigan Tensor (N,), differentiable with respect to W, b and c (v is a constant)."""
        v = Tensor(_array(v, self.W.array))
        a = F.matmul(v, self.W) + self.c  # (N, H)
        hidden_term = F.sum(a * a, 1) * 0.5 if self.hidden == "gaussian" else F.sum(F.softplus(a), 1)
        return -F.matmul(v, self.b) - hidden_term

    # --- conditionals and block Gibbs sampling -------------------------------------------------------

    def hidden_mean(self, v: TensorLike) -> Array:
        """E[h | v]: sigmoid(c + v W) (Bernoulli) or c + v W (Gaussian). (N, D) -> (N, H)."""
        a = _product(_array(v, self.W.array), self.W.array) + self.c.array
        return a if self.hidden == "gaussian" else _sigmoid(self.xp, a)

    hidden_probs = hidden_mean

    def visible_probs(self, h: TensorLike) -> Array:
        """p(v_i = 1 | h) = sigmoid(b_i + W_i h). (N, H) -> (N, D)."""
        return _sigmoid(self.xp, _product(_array(h, self.W.array), self.W.array.T) + self.b.array)

    def sample_h_given_v(self, v: TensorLike) -> tuple[Array, Array]:
        """(E[h | v], h ~ p(h | v))."""
        mean = self.hidden_mean(v)
        if self.hidden == "gaussian":
            return mean, mean + self._rng().standard_normal(mean.shape, dtype=mean.dtype)
        return mean, self.bernoulli(mean)

    def sample_v_given_h(self, h: TensorLike) -> tuple[Array, Array]:
        """(p(v | h), v ~ p(v | h))."""
        probs = self.visible_probs(h)
        return probs, self.bernoulli(probs)

    def gibbs_vhv(self, v: TensorLike) -> tuple[Array, Array]:
        """One step of block Gibbs sampling v -> h ~ p(h|v) -> v' ~ p(v'|h): returns (p(v'|h), v')."""
        _, h = self.sample_h_given_v(v)
        return self.sample_v_given_h(h)

    def gibbs(self, v: TensorLike, k: int = 1) -> tuple[Array, Array]:
        """k block Gibbs steps from v: returns (p(v_k | h_{k-1}), v_k), both (N, D)."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        v = _array(v, self.W.array)
        for _ in range(k):
            probs, v = self.gibbs_vhv(v)
        return probs, v

    def sample(
        self, n: int, steps: int = 1000, v0: TensorLike | None = None, keep_every: int | None = None
    ) -> tuple[Array, Array] | list[Array]:
        """n samples after ``steps`` Gibbs steps from v0 (default: uniform random bits). With keep_every,
        a list of the chain's mean-field images p(v | h) every keep_every steps (for figures)."""
        xp = self.xp
        v = (
            _array(v0, self.W.array)
            if v0 is not None
            else self.bernoulli(xp.full((n, self.n_visible), 0.5, dtype=self.W.dtype))
        )
        frames = []
        for step in range(1, steps + 1):
            probs, v = self.gibbs_vhv(v)
            if keep_every and step % keep_every == 0:
                frames.append(probs)
        return frames if keep_every else (probs, v)

    # --- learning (the update itself is minigan/trainers/rbm.py) -------------------------------------

    def cd_gradients(self, v_data: TensorLike, v_model: TensorLike) -> dict[str, Array]:
        """The CD/PCD estimate of the gradient of the mean negative log-likelihood, written out as
        -(positive phase - negative phase) with expected hidden states E[h | v]:

            gW = -( v_data^T E[h|v_data] / N  -  v_model^T E[h|v_model] / M )      (D, H)
            gb = -( mean v_data - mean v_model ),   gc = -( mean E[h|v_data] - mean E[h|v_model] ).

        Returns dict W, b, c of xp arrays (the descent direction is minus these)."""
        v_data, v_model = _array(v_data, self.W.array), _array(v_model, self.W.array)
        h_data, h_model = self.hidden_mean(v_data), self.hidden_mean(v_model)
        positive_W = _product(v_data.T, h_data) / len(v_data)
        negative_W = _product(v_model.T, h_model) / len(v_model)
        return {
            "W": -(positive_W - negative_W),
            "b": -(v_data.mean(0) - v_model.mean(0)),
            "c": -(h_data.mean(0) - h_model.mean(0)),
        }

    def free_energy_loss(self, v_data: TensorLike, v_model: TensorLike) -> Tensor:
        """The surrogate  mean F(v_data) - mean F(v_model)  as a Tensor: its autograd gradient (the negative
        particles are constants) is exactly ``cd_gradients`` (the source's ``cost``)."""
        return F.mean(self.free_energy_tensor(v_data)) - F.mean(self.free_energy_tensor(v_model))

    # --- monitors ------------------------------------------------------------------------------------

    def reconstruction_error(self, v: TensorLike) -> float:
        """Mean cross-entropy (nats per example) of v against its one-step reconstruction p(v | h),
        h ~ p(h | v). Cheap; correlates only loosely with the likelihood (Hinton 2010, section 5)."""
        v = _array(v, self.W.array)
        _, h = self.sample_h_given_v(v)
        p = self.xp.clip(self.visible_probs(h), 1e-7, 1 - 1e-7)
        return float(-(v * self.xp.log(p) + (1 - v) * self.xp.log(1 - p)).sum(1).mean())

    def pseudo_log_likelihood(self, v: TensorLike, n_bits: int = 1) -> float:
        """Mean pseudo-log-likelihood per example (nats), sum_i log p(v_i | v_{-i}) = sum_i log sigmoid(
        F(v^{flip i}) - F(v)), estimated by D/n_bits times the sum over n_bits random bits per example
        (n_bits=D: exact). Binary v only."""
        xp = self.xp
        v = _array(v, self.W.array)
        n, d = v.shape
        free = self.free_energy(v)
        total = xp.zeros(n, dtype=xp.float64)
        if n_bits >= d:
            bits = xp.broadcast_to(xp.arange(d), (n, d))
        else:  # bits drawn with replacement: still an unbiased estimate of the sum
            bits = self._rng().integers(0, d, size=(n, n_bits))
        rows = xp.arange(n)
        for j in range(bits.shape[1]):
            column = xp.asarray(bits[:, j])
            flipped = v.copy()
            flipped[rows, column] = 1 - flipped[rows, column]
            total += -_softplus(xp, -(self.free_energy(flipped) - free))  # log sigmoid
        return float(total.mean() * d / bits.shape[1])

    def log_likelihood(self, v: TensorLike, log_z: float) -> Array:
        """log p(v) = -F(v) - log Z per example (N,), given log Z (exact or AIS)."""
        return -self.free_energy(v) - log_z


# --- the partition function ---------------------------------------------------------------------------


def log_partition_exact(rbm: RBM, chunk: int = 4096) -> float:
    """log Z exactly, enumerating all 2^H hidden (or 2^D visible) configurations of the smaller layer:

        log Z = logsumexp_h [ c^T h + sum_i softplus(b_i + W_i h) ]          (sum over v done analytically)

    in float64. Feasible for min(D, H) <= ~25."""
    if rbm.hidden != "bernoulli":
        raise ValueError("log_partition_exact is for Bernoulli hidden units")
    W = backend.to_device(rbm.W.array, "cpu").astype(numpy.float64)
    b = backend.to_device(rbm.b.array, "cpu").astype(numpy.float64)
    c = backend.to_device(rbm.c.array, "cpu").astype(numpy.float64)
    if W.shape[1] > W.shape[0]:  # enumerate the visible layer instead (symmetry)
        W, b, c = W.T, c, b
    n_enumerated = W.shape[1]
    if n_enumerated > 30:
        raise ValueError(f"2^{n_enumerated} terms is too many to enumerate")
    terms = []
    powers = 1 << numpy.arange(n_enumerated)
    for start in range(0, 2**n_enumerated, chunk):
        codes = numpy.arange(start, min(start + chunk, 2**n_enumerated))
        h = ((codes[:, None] & powers) > 0).astype(numpy.float64)  # (chunk, H)
        terms.append(h @ c + _softplus(numpy, h @ W.T + b).sum(1))
    return _logsumexp(numpy.concatenate(terms))


def ais_betas(n=14500):
    """The schedule of Salakhutdinov & Murray (2008): 500 steps on [0, 0.5), 4000 on [0.5, 0.9), 10000 on
    [0.9, 1], scaled to n inverse temperatures in total (n >= 20)."""
    n1, n2 = max(2, round(n * 500 / 14500)), max(2, round(n * 4000 / 14500))
    n3 = max(2, n - n1 - n2)
    return numpy.concatenate(
        [
            numpy.linspace(0, 0.5, n1, endpoint=False),
            numpy.linspace(0.5, 0.9, n2, endpoint=False),
            numpy.linspace(0.9, 1.0, n3),
        ]
    )


def ais_log_partition(
    rbm: RBM,
    base_visible_bias: ArrayLike | None = None,
    n_runs: int = 100,
    betas: ArrayLike | None = None,
    return_details: bool = False,
) -> float | dict[str, Any]:
    """Annealed importance sampling estimate of log Z (Neal 2001; Salakhutdinov & Murray 2008).

    Base model A: W = 0, c = 0, visible biases b_A (``base_rate_biases`` of the training data; default 0),
    a distribution we sample exactly, with log Z_A = sum_i softplus(b_A,i) + H log 2 (free hidden units). The
    intermediate distributions between A (beta=0) and the RBM B (beta=1) are

        log p*_beta(v) = (1 - beta) b_A^T v + beta b^T v + sum_j softplus(beta (c_j + v^T W_j)),

    RBMs themselves, with W, c scaled by beta and visible bias (1 - beta) b_A + beta b, so a block Gibbs
    step leaves each invariant. Each run starts from v_0 ~ p_A, moves v_k ~ T_k(v_{k-1}) and accumulates
    log w = sum_k log p*_{beta_k}(v_{k-1}) - log p*_{beta_{k-1}}(v_{k-1}); then

        Z_B / Z_A ~= mean(w),      log Z_B ~= log Z_A + logmeanexp(log w).

    Returns log Z (float); with return_details, a dict with log_z, log_z_low / log_z_high (log of mean w
    -+ 3 standard errors, as S&M report; -inf when the error exceeds the mean), the effective sample size
    (sum w)^2 / sum w^2 of the importance weights, the log weights and the final samples. A small effective
    sample size means the estimate rests on a few runs: in expectation AIS underestimates log Z then
    (Jensen), i.e. overestimates the likelihood -- use more temperatures or runs."""
    if rbm.hidden != "bernoulli":
        raise ValueError("AIS here is for Bernoulli hidden units")
    xp = rbm.xp
    W, b, c = rbm.W.array, rbm.b.array, rbm.c.array
    dtype = W.dtype
    b_A = xp.zeros_like(b) if base_visible_bias is None else xp.asarray(base_visible_bias, dtype=dtype)
    betas = ais_betas() if betas is None else numpy.asarray(betas, dtype=numpy.float64)
    if betas[0] != 0 or betas[-1] != 1:
        raise ValueError("betas must run from 0 to 1")
    rng = rbm._rng()

    v = (rng.random((n_runs, len(b)), dtype=dtype) < _sigmoid(xp, b_A)).astype(dtype)  # exact sample of A
    log_w = xp.zeros(n_runs, dtype=xp.float64)
    b_A64, b64 = b_A.astype(xp.float64), b.astype(xp.float64)
    for beta_prev, beta in zip(betas[:-1], betas[1:]):
        pre = v @ W + c  # (n_runs, H), shared by both
        pre64, v64 = pre.astype(xp.float64), v.astype(xp.float64)
        # log p*_beta(v) - log p*_beta_prev(v), in float64 (the two terms nearly cancel)
        log_w += (beta - beta_prev) * (v64 @ (b64 - b_A64)) + (
            _softplus(xp, beta * pre64) - _softplus(xp, beta_prev * pre64)
        ).sum(1)
        # transition T_beta: block Gibbs on the RBM at inverse temperature beta
        h = (rng.random(pre.shape, dtype=dtype) < _sigmoid(xp, beta * pre)).astype(dtype)
        v = (rng.random(v.shape, dtype=dtype) < _sigmoid(xp, (1 - beta) * b_A + beta * (h @ W.T + b))).astype(dtype)
    # Z of p*_0(v) = exp(b_A^T v) * 2^H: the base model's visible sum times the H free hidden units
    log_z_A = float(_softplus(xp, b_A64).sum()) + len(c) * math.log(2.0)
    log_mean_w = _logsumexp(log_w) - math.log(n_runs)
    log_z = log_z_A + log_mean_w
    if not return_details:
        return log_z
    w = xp.exp(log_w - log_w.max())  # weights scaled by max
    mean, stderr = float(w.mean()), float(w.std() / math.sqrt(n_runs))
    offset = float(log_w.max()) + log_z_A
    return {
        "log_z": log_z,
        "log_z_A": log_z_A,
        "effective_sample_size": float(w.sum() ** 2 / (w * w).sum()),  # 1 (one run dominates)..n_runs
        "log_w_std": float(log_w.std()),
        "log_z_low": offset + math.log(mean - 3 * stderr) if mean > 3 * stderr else float("-inf"),
        "log_z_high": offset + math.log(mean + 3 * stderr),
        "log_w": backend.to_device(log_w, "cpu"),
        "samples": v,
        "n_runs": n_runs,
        "n_betas": len(betas),
    }
