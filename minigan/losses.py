"""The GAN family's losses, each a few lines with its equation and its paper.

Every loss takes the networks' raw outputs (logits, critic scores) as Tensors and returns a scalar Tensor
(the mean over the batch), so ``loss.backward()`` or ``mg.grad(loss, params)`` trains with it.

    D(x) = sigmoid(l(x)): a discriminator gives logits l; a WGAN critic gives unbounded scores f(x).

=============================  ========================================================  ===================
loss                           equation (minimised)                                      paper
=============================  ========================================================  ===================
d_loss_minimax                 -E log D(x) - E log(1 - D(G(z)))                           Goodfellow 2014
g_loss_minimax                 E log(1 - D(G(z)))                                         Goodfellow 2014
g_loss_nonsaturating           -E log D(G(z))                                             Goodfellow 2014
critic_loss_wasserstein        E f(G(z)) - E f(x)                                         Arjovsky 2017
g_loss_wasserstein             -E f(G(z))                                                 Arjovsky 2017
gradient_penalty               lambda E (||grad f(x_hat)||_2 - 1)^2                       Gulrajani 2017
clip_weights (not a loss)      w <- clip(w, -c, c)                                        Arjovsky 2017
info_categorical_loss          -E log Q(c | G(z, c)),  c ~ Cat(K)                         Chen 2016
info_continuous_loss           -E log N(c; mu(G(z,c)), sigma^2(G(z,c)))                   Chen 2016
ssgan_supervised_loss          -E_{(x,y) labelled} log p(y | x, y <= K)                   Salimans 2016
ssgan_unsupervised_loss        -E_x log D(x) - E_z log(1 - D(G(z))), D = sig(lse_k l_k)   Salimans 2016
feature_matching_loss          || E_x f(x) - E_z f(G(z)) ||^2                             Salimans 2016
=============================  ========================================================  ===================

Logit losses use log sigmoid(l) = -softplus(-l) and log(1 - sigmoid(l)) = -softplus(l): exact and finite
for any logit, where log(sigmoid(l)) underflows to log 0 = -inf once l < -88 in float32.

References: Goodfellow et al., Generative Adversarial Nets, 2014 (arXiv:1406.2661); Arjovsky, Chintala &
Bottou, Wasserstein GAN, 2017 (arXiv:1701.07875); Gulrajani et al., Improved Training of Wasserstein GANs,
2017 (arXiv:1704.00028); Chen et al., InfoGAN, 2016 (arXiv:1606.03657); Salimans et al., Improved Techniques
for Training GANs, 2016 (arXiv:1606.03498).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from . import autograd, backend
from . import functional as F
from .tensor import Tensor

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from .typing import TensorLike

__all__ = [
    "d_loss_minimax",
    "g_loss_minimax",
    "g_loss_nonsaturating",
    "critic_loss_wasserstein",
    "g_loss_wasserstein",
    "wasserstein_estimate",
    "interpolate",
    "gradient_penalty",
    "clip_weights",
    "info_categorical_loss",
    "info_continuous_loss",
    "vae_loss",
    "bernoulli_nll",
    "l2_penalty",
]
__all__ += ["ssgan_supervised_loss", "ssgan_unsupervised_loss", "ssgan_discriminator_loss", "feature_matching_loss"]


def _array(value, like):
    """The xp array behind a Tensor, an array or a list (on ``like``'s device)."""
    if isinstance(value, Tensor):
        return value.array
    return backend.to_device(like.xp.asarray(value), like.device)


# --- the original GAN (Goodfellow et al., 2014), on logits -------------------------------------------


def d_loss_minimax(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Discriminator loss  -E_x log D(x) - E_z log(1 - D(G(z)))  = E softplus(-l_real) + E softplus(l_fake).

    The binary cross-entropy with target 1 on real and 0 on fake (Goodfellow et al., 2014, eq. 1).
    real_logits (N, ...) and fake_logits (M, ...) -> scalar."""
    return F.mean(F.softplus(-real_logits)) + F.mean(F.softplus(fake_logits))


def g_loss_minimax(fake_logits: Tensor) -> Tensor:
    """Generator loss of the minimax game  E_z log(1 - D(G(z)))  = -E softplus(l_fake).

    Saturates: when D rejects the fakes confidently (l_fake << 0) its gradient vanishes, which is why
    Goodfellow et al. (2014, section 3) train G with :func:`g_loss_nonsaturating` instead."""
    return -F.mean(F.softplus(fake_logits))


def g_loss_nonsaturating(fake_logits: Tensor) -> Tensor:
    """Non-saturating generator loss  -E_z log D(G(z))  = E softplus(-l_fake)  (Goodfellow et al., 2014).

    Same fixed point as the minimax loss, but a strong gradient exactly when G is losing."""
    return F.mean(F.softplus(-fake_logits))


# --- Wasserstein GAN (Arjovsky et al., 2017; Gulrajani et al., 2017) ---------------------------------


def critic_loss_wasserstein(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Critic loss  E f(G(z)) - E f(x): minimising it maximises the Kantorovich-Rubinstein estimate

        W(P_r, P_g) = sup_{||f||_L <= 1}  E_{x~P_r} f(x) - E_{x~P_g} f(x)     (Arjovsky et al., 2017, eq. 3)

    over the critic f (kept near 1-Lipschitz by clipping or by the gradient penalty)."""
    return F.mean(fake_scores) - F.mean(real_scores)


def g_loss_wasserstein(fake_scores: Tensor) -> Tensor:
    """Generator loss  -E_z f(G(z)): move the fakes where the critic scores real data high."""
    return -F.mean(fake_scores)


def wasserstein_estimate(real_scores: Tensor, fake_scores: Tensor) -> float:
    """E f(x) - E f(G(z)) as a float: the critic's current estimate of the Wasserstein distance (the
    negative critic loss without the penalty), the curve WGAN papers plot."""
    return float(F.mean(real_scores).item() - F.mean(fake_scores).item())


def interpolate(real: Tensor, fake: Tensor, alpha: TensorLike | None = None) -> Tensor:
    """Points on straight lines between real and fake samples, x_hat = alpha x + (1 - alpha) x~, one
    alpha ~ U[0, 1] per sample (Gulrajani et al., 2017, algorithm 1, line 6).

    real, fake (N, ...) -> x_hat (N, ...), a new leaf with requires_grad=True (cut from the generator:
    the penalty constrains the critic only). ``alpha`` (N,) may be given, e.g. to make the result
    deterministic in a gradient check; otherwise it is drawn from the device's generator."""
    if tuple(real.shape) != tuple(fake.shape):
        raise ValueError(f"interpolate: real {tuple(real.shape)} and fake {tuple(fake.shape)} differ in shape")
    n = real.shape[0]
    if alpha is None:
        alpha = backend.generator(real.device).random(n).astype(real.dtype)
        alpha = backend.to_device(alpha, real.device)
    alpha = _array(alpha, real).reshape((n,) + (1,) * (real.ndim - 1)).astype(real.dtype)
    x_hat = alpha * real.array + (1 - alpha) * fake.array
    return Tensor(x_hat, requires_grad=True)


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    lambda_gp: float = 10.0,
    alpha: TensorLike | None = None,
    return_norm: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """The WGAN-GP penalty  lambda E_{x_hat} (||grad_x_hat f(x_hat)||_2 - 1)^2  (Gulrajani et al., 2017,
    eq. 3), on x_hat = :func:`interpolate`\\ (real, fake, alpha).

    The gradient is taken with ``create_graph=True`` (when grad mode is on): the penalty depends on the critic's parameters
    through its input gradient, so minimising it differentiates the critic twice (double backprop).
    The norm is per sample, over all non-batch dimensions; sqrt(sum g^2 + 1e-12) keeps the derivative of
    the norm finite if a gradient is exactly 0.

    critic: a callable (N, ...) -> (N,) or (N, 1) scores; real, fake (N, ...) -> scalar penalty
    (and the per-sample norms (N,) as a detached Tensor when ``return_norm``)."""
    x_hat = interpolate(real, fake, alpha)
    # Under no_grad (evaluation, a numerical gradient check) the penalty is still a value: the input
    # gradient is needed for the value itself, so it is always computed, but recorded only when grad is on.
    record = autograd.is_grad_enabled()
    with autograd.enable_grad():
        scores = critic(x_hat)
        (gradients,) = autograd.grad(F.sum(scores), x_hat, create_graph=record)  # (N, ...) = d f / d x_hat
    squared = F.sum(F.reshape(gradients * gradients, (gradients.shape[0], -1)), 1)  # (N,)
    norms = F.sqrt(squared + 1e-12)
    penalty = F.mean((norms - 1.0) ** 2) * float(lambda_gp)
    return (penalty, norms.detach()) if return_norm else penalty


def clip_weights(parameters: Iterable[Tensor], clip_value: float = 0.01) -> None:
    """The original WGAN's Lipschitz constraint: clamp every weight to [-c, c] in place after each critic
    update (Arjovsky et al., 2017, algorithm 1, c = 0.01). ``parameters``: an iterable of Tensors."""
    with autograd.no_grad():
        for parameter in parameters:
            data = parameter.array
            data[...] = parameter.xp.clip(data, -clip_value, clip_value)


# --- InfoGAN's mutual-information lower bound (Chen et al., 2016) ------------------------------------
#
#   I(c; G(z, c)) >= L_I = E_{c ~ P(c), x ~ G(z, c)} log Q(c | x) + H(c)          (Chen et al., eq. 4-5)
#
# H(c) is a constant of the prior, so maximising L_I means minimising -E log Q(c | x): a cross-entropy for
# a categorical code, a Gaussian negative log-likelihood for a continuous code. G and Q both minimise it.


def info_categorical_loss(q_logits: Tensor, code: TensorLike) -> Tensor:
    """-E log Q(c | x) for a categorical code: the cross-entropy of Q's logits against the sampled code.

    q_logits (N, K); code (N,) integer classes or (N, K) one-hot rows -> scalar. Adding log K (= H(c) of a
    uniform code) to the negative gives the lower bound on I(c; G(z, c)) in nats."""
    labels = _array(code, q_logits)
    if labels.ndim == 2:  # one-hot rows -> indices
        labels = labels.argmax(axis=1)
    return F.cross_entropy(q_logits, labels.astype("int64"))


def info_continuous_loss(q_mean: Tensor, q_logvar: Tensor, code: TensorLike) -> Tensor:
    """-E log Q(c | x) for a continuous code under Q's diagonal Gaussian N(mu, exp(logvar)):

        -log N(c; mu, sigma^2) = 1/2 sum_j [ log 2 pi + logvar_j + (c_j - mu_j)^2 exp(-logvar_j) ]

    summed over the code's dimensions, averaged over the batch. ``q_logvar`` None means unit variance
    (InfoGAN's "fixed sigma" variant: the loss is then 1/2 ||c - mu||^2 + const).
    q_mean, q_logvar, code (N, D) -> scalar."""
    code = code if isinstance(code, Tensor) else Tensor(code)
    diff = code - q_mean
    if q_logvar is None:
        terms = diff * diff + math.log(2 * math.pi)
    else:
        terms = q_logvar + diff * diff * F.exp(-q_logvar) + math.log(2 * math.pi)
    return F.mean(F.sum(F.reshape(terms, (terms.shape[0], -1)), 1)) * 0.5


# --- the semi-supervised GAN: a classifier with K real classes and a fake one (Salimans et al., 2016) ------
#
# D has K logits l_1..l_K; the fake class K+1 has the fixed logit 0 (section 5: softmax is invariant to a
# common shift, so fixing one logit loses nothing). Then p(fake | x) = 1 / (Z(x) + 1), Z(x) = sum_k exp l_k,
# and D(x) = p(real | x) = sigmoid(logsumexp_k l_k(x)).


def ssgan_supervised_loss(logits: Tensor, labels: TensorLike) -> Tensor:
    """-E log p(y | x, y <= K) over labelled real data: the cross-entropy over the K logits (the fake
    class's fixed logit 0 cancels when conditioning on "real"). logits (N, K), labels (N,) -> scalar."""
    return F.cross_entropy(logits, _array(labels, logits).astype("int64"))


def ssgan_unsupervised_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-E_x log(1 - p(K+1 | x)) - E_z log p(K+1 | G(z)) with p(K+1 | x) = 1 / (1 + sum_k exp l_k): the GAN
    discriminator loss on the real/fake logit logsumexp_k l_k (Salimans et al., 2016, section 5).
    real_logits (N, K), fake_logits (M, K) -> scalar."""
    return d_loss_minimax(F.logsumexp(real_logits, 1), F.logsumexp(fake_logits, 1))


def ssgan_discriminator_loss(
    labelled_logits: Tensor,
    labels: TensorLike,
    unlabelled_logits: Tensor,
    fake_logits: Tensor,
    unsupervised_weight: float = 1.0,
) -> Tensor:
    """L = L_supervised + w * L_unsupervised (Salimans et al., 2016, section 5) -> (L, L_sup, L_unsup)."""
    supervised = ssgan_supervised_loss(labelled_logits, labels)
    unsupervised = ssgan_unsupervised_loss(unlabelled_logits, fake_logits)
    return supervised + unsupervised * float(unsupervised_weight), supervised, unsupervised


def feature_matching_loss(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """|| mean_x f(x) - mean_z f(G(z)) ||^2 over the batch (Salimans et al., 2016, section 3.1): G matches
    the statistics of D's intermediate layer f instead of fooling D directly. The real side is a constant.
    real_features (N, H), fake_features (M, H) -> scalar."""
    target = Tensor(real_features.array.mean(0))
    diff = F.mean(fake_features, 0) - target
    return F.sum(diff * diff)


# --- the variational autoencoder's negative ELBO (Kingma & Welling, 2014) ----------------------------
#
#   -ELBO(x) = -E_{q(z|x)} log p(x | z) + KL(q(z | x) || p(z))   >=  -log p(x)          (K&W 2014, eq. 3)
#
# One reparameterized sample z = mu + sigma * eps estimates the first term; the second is closed-form for
# a diagonal Gaussian q and a standard normal prior (K&W 2014, appendix B; ``F.kl_normal``).


def vae_loss(
    recon_logits: Tensor, x: Tensor, mu: Tensor, logvar: Tensor, beta: float = 1.0
) -> tuple[Tensor, Tensor, Tensor]:
    """Negative ELBO of a VAE with a Bernoulli decoder, in nats per example (mean over the batch):

        recon = -sum_i [ x_i log sigmoid(l_i) + (1 - x_i) log(1 - sigmoid(l_i)) ] = sum_i softplus(l_i) - x_i l_i
        kl    = -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))
        loss  = recon + beta * kl

    The reconstruction is summed over pixels (not averaged, which would weigh the KL 784 times too much)
    and the loss is the mean over the batch, so its value is the per-image negative ELBO (for binary x an
    upper bound on -log p(x)). ``beta`` != 1 gives the beta-VAE (Higgins et al., 2017).
    x in [0, 1] (binary for a true likelihood; grey levels give the "BCE" loss of pytorch/examples/vae).

    recon_logits (N, D_x) or (N, *shape); x the same number of elements per row; mu, logvar (N, D)
    -> (loss, recon, kl), three scalar Tensors (recon and kl are batch means, differentiable too)."""
    n = recon_logits.shape[0]
    logits = F.reshape(recon_logits, (n, -1))
    x = x if isinstance(x, Tensor) else Tensor(_array(x, recon_logits).astype(recon_logits.dtype))
    target = F.reshape(x, (n, -1))
    recon = F.mean(F.sum(F.binary_cross_entropy_with_logits(logits, target, reduction="none"), 1))
    kl = F.mean(F.kl_normal(mu, logvar))
    return recon + kl * float(beta), recon, kl


# --- supervised and reconstruction losses (the classifier and autoencoder trainers) ------------------


def bernoulli_nll(logits: Tensor, x: Tensor) -> Tensor:
    """-sum_i [x_i log sigmoid(l_i) + (1 - x_i) log(1 - sigmoid(l_i))] summed over a row's pixels, averaged
    over the N rows: the reconstruction loss of Hinton & Salakhutdinov (2006)'s deep autoencoder, in nats
    per image. logits, x (N, D) -> scalar."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") * (1.0 / x.shape[0])


def l2_penalty(weights: Iterable[Tensor], weight_decay: float) -> Tensor:
    """(weight_decay / 2) sum_w ||w||^2 over the given weight Tensors: the L2 term of a regularised
    logistic regression (its gradient is weight_decay * w). weights: a non-empty list -> scalar."""
    total = None
    for w in weights:
        total = F.sum(w * w) if total is None else total + F.sum(w * w)
    if total is None:
        raise ValueError("l2_penalty: no weights given")
    return total * (0.5 * weight_decay)
