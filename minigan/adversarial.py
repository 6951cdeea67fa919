"""Adversarial updates of the GAN family as trainables for ``minigan.training.fit`` (sources 002-004).

A trainable has ``train_step(batch) -> {name: float}``, ``state_dict()``, ``load_state_dict(state)`` and
``sample(...)``, like ``training.WGANGP``:

    GAN(G, D, d_steps=1, generator_loss="nonsaturating")     DCGAN / the original GAN (Goodfellow 2014)
    ConditionalGAN(G, D, n_classes=10, d_steps=2)            source 003's conditional DCGAN; batch (x, y)
    InfoGAN(G, DQ, lambda_categorical=1, lambda_continuous=0.1)   Chen et al. 2016
    SemiSupervisedGAN(G, D, labelled_x, labelled_y)          Salimans et al. 2016, K+1 classes

``fit`` hands ``train_step`` each batch as the loader yields it: ``x``, or ``(x, y)`` from ``DataLoader(x, y)``.

Losses that are not in ``minigan.losses`` (the semi-supervised ones, feature matching) are defined here:

    ssgan_supervised_loss     -E_{(x,y) labelled} log p(y | x, y <= K)  = CE over the K logits
    ssgan_unsupervised_loss   -E_x log D(x) - E_z log(1 - D(G(z))),  D(x) = sigmoid(logsumexp_k l_k(x))
    feature_matching_loss     || E_x f(x) - E_z f(G(z)) ||^2          (Salimans et al., 2016, section 3.1)

and :func:`adversarial_loop` is source 004's recipe written as a plain loop over any pair of update
functions (any binary classifier can be the discriminator), with a monitor that sees what D cannot.

References: Goodfellow et al. 2014 (arXiv:1406.2661); Radford et al. 2016 (arXiv:1511.06434); Mirza &
Osindero 2014 (arXiv:1411.1784); Chen et al. 2016 (arXiv:1606.03657); Salimans et al. 2016
(arXiv:1606.03498), Odena 2016 (arXiv:1606.01583).
"""
from __future__ import annotations

import numpy as np

from . import autograd, backend, losses, optim
from . import functional as F
from .tensor import Tensor, randn
from .training import check_finite

__all__ = ["LabelledBatches", "GAN", "ConditionalGAN", "InfoGAN", "SemiSupervisedGAN",
           "ssgan_supervised_loss", "ssgan_unsupervised_loss", "ssgan_discriminator_loss",
           "feature_matching_loss", "discriminator_accuracy", "step_parameters", "adversarial_loop"]


# --- plumbing ------------------------------------------------------------------------------------------

class LabelledBatches:
    """Wrap ``DataLoader(x, y)``, yielding its batches ``(x, y)`` unchanged: ``fit`` now passes whole batches,
    so this wrapper is no longer needed (kept until its users move to the trainers). The loader's ``rng``
    (checkpointed by ``fit``) and ``len`` are the wrapped loader's."""

    def __init__(self, loader):
        self.loader = loader

    @property
    def rng(self):
        return self.loader.rng

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for batch in self.loader:
            yield tuple(batch)


def step_parameters(loss, parameters, optimizer):
    """Gradients of ``loss`` for ``parameters`` only (other networks' .grad untouched), then one update."""
    grads = autograd.grad(loss, parameters)
    for p, g in zip(parameters, grads):
        p.grad = g
    optimizer.step()
    for p in parameters:
        p.grad = None


def discriminator_accuracy(real_logits, fake_logits) -> float:
    """Share of real samples with logit > 0 and fake samples with logit < 0 (D's real/fake accuracy)."""
    real = real_logits.data if isinstance(real_logits, Tensor) else np.asarray(real_logits)
    fake = fake_logits.data if isinstance(fake_logits, Tensor) else np.asarray(fake_logits)
    return float(((real > 0).sum() + (fake < 0).sum()) / (real.size + fake.size))


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.float32))


class _Adversarial:
    """Shared parts: Adam for both networks (DCGAN's lr 2e-4, betas (0.5, 0.999)), eval-mode sampling,
    state dicts."""

    def __init__(self, generator, discriminator, lr=2e-4, betas=(0.5, 0.999), lr_d=None):
        self.generator, self.discriminator = generator, discriminator
        self.optimizer_g = optim.Adam(generator.parameters(), lr=lr, betas=betas)
        self.optimizer_d = optim.Adam(discriminator.parameters(), lr=lr if lr_d is None else lr_d, betas=betas)
        self.g_params = list(generator.parameters())
        self.d_params = list(discriminator.parameters())
        self.step = 0

    def _eval(self, function):
        was_training = self.generator.training
        self.generator.eval()
        try:
            with autograd.no_grad():
                return function()
        finally:
            self.generator.train(was_training)

    def state_dict(self):
        return {"generator": self.generator.state_dict(), "discriminator": self.discriminator.state_dict(),
                "optimizer_g": self.optimizer_g.state_dict(), "optimizer_d": self.optimizer_d.state_dict(),
                "step": self.step}

    def load_state_dict(self, state):
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.optimizer_g.load_state_dict(state["optimizer_g"])
        self.optimizer_d.load_state_dict(state["optimizer_d"])
        self.step = int(state["step"])


# --- DCGAN / the original GAN ---------------------------------------------------------------------------

class GAN(_Adversarial):
    """The GAN game on logits (Goodfellow et al., 2014), with DCGAN's optimiser settings (Radford 2016).

    One ``train_step(real)`` = ``d_steps`` discriminator updates (fresh noise each, same real batch), then
    one generator update:

        (1) D:  min  -E log D(x) - E log(1 - D(G(z)))                  losses.d_loss_minimax
        (2) G:  min  -E log D(G(z))      ("nonsaturating", the default)  losses.g_loss_nonsaturating
                min   E log(1 - D(G(z))) ("minimax", saturates early)    losses.g_loss_minimax

    z ~ N(0, I) (latent_dim = G.latent_dim). Metrics: d_loss, g_loss, D's mean probabilities on real and
    fake, and its real/fake accuracy.
    """

    def __init__(self, generator, discriminator, latent_dim=None, d_steps=1, generator_loss="nonsaturating",
                 lr=2e-4, betas=(0.5, 0.999)):
        super().__init__(generator, discriminator, lr, betas)
        if generator_loss not in ("nonsaturating", "minimax"):
            raise ValueError(f"generator_loss must be 'nonsaturating' or 'minimax', got {generator_loss!r}")
        self.latent_dim = latent_dim or generator.latent_dim
        self.d_steps, self.generator_loss = int(d_steps), generator_loss

    def noise(self, n, device="cpu"):
        return randn(n, self.latent_dim, device=device)

    def train_step(self, real):
        real = _as_tensor(real)
        n, device = real.shape[0], real.device
        for _ in range(self.d_steps):                     # (1) update D
            with autograd.no_grad():
                fake = self.generator(self.noise(n, device))
            real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
            d_loss = losses.d_loss_minimax(real_logits, fake_logits)
            check_finite(self.step + 1, d_loss=d_loss.item())
            step_parameters(d_loss, self.d_params, self.optimizer_d)
        fake_logits_g = self.discriminator(self.generator(self.noise(n, device)))   # (2) update G
        g_loss = (losses.g_loss_nonsaturating(fake_logits_g) if self.generator_loss == "nonsaturating"
                  else losses.g_loss_minimax(fake_logits_g))
        check_finite(self.step + 1, g_loss=g_loss.item())
        step_parameters(g_loss, self.g_params, self.optimizer_g)
        self.step += 1
        return {"d_loss": d_loss.item(), "g_loss": g_loss.item(),
                "d_real": float(F.sigmoid(real_logits).mean().item()),
                "d_fake": float(F.sigmoid(fake_logits).mean().item()),
                "d_accuracy": discriminator_accuracy(real_logits, fake_logits)}

    def sample(self, z):
        """G(z) in eval mode (BN running statistics), no graph."""
        return self._eval(lambda: self.generator(_as_tensor(z)))


# --- conditional DCGAN (source 003) ---------------------------------------------------------------------

class ConditionalGAN(GAN):
    """Conditional GAN (Mirza & Osindero, 2014): G(z, y) and D(x, y); source 003 trains D twice per G step.

    ``train_step((x, y))``: D learns "real image of class y" vs "generated image given y" (the fakes use
    labels drawn uniformly), G the non-saturating loss on D(G(z, y), y).
    """

    def __init__(self, generator, discriminator, n_classes=10, latent_dim=None, d_steps=2,
                 generator_loss="nonsaturating", lr=2e-4, betas=(0.5, 0.999)):
        super().__init__(generator, discriminator, latent_dim, d_steps, generator_loss, lr, betas)
        self.n_classes = int(n_classes)

    def random_labels(self, n):
        return backend.generator("cpu").integers(0, self.n_classes, n)

    def train_step(self, batch):
        real, labels = batch
        real = _as_tensor(real)
        labels = np.asarray(labels.data if isinstance(labels, Tensor) else labels).astype(np.int64)
        n, device = real.shape[0], real.device
        for _ in range(self.d_steps):                     # (1) update D
            fake_labels = self.random_labels(n)
            with autograd.no_grad():
                fake = self.generator(self.noise(n, device), fake_labels)
            real_logits = self.discriminator(real, labels)
            fake_logits = self.discriminator(fake, fake_labels)
            d_loss = losses.d_loss_minimax(real_logits, fake_logits)
            check_finite(self.step + 1, d_loss=d_loss.item())
            step_parameters(d_loss, self.d_params, self.optimizer_d)
        fake_labels = self.random_labels(n)               # (2) update G
        fake_logits_g = self.discriminator(self.generator(self.noise(n, device), fake_labels), fake_labels)
        g_loss = (losses.g_loss_nonsaturating(fake_logits_g) if self.generator_loss == "nonsaturating"
                  else losses.g_loss_minimax(fake_logits_g))
        check_finite(self.step + 1, g_loss=g_loss.item())
        step_parameters(g_loss, self.g_params, self.optimizer_g)
        self.step += 1
        return {"d_loss": d_loss.item(), "g_loss": g_loss.item(),
                "d_real": float(F.sigmoid(real_logits).mean().item()),
                "d_fake": float(F.sigmoid(fake_logits).mean().item()),
                "d_accuracy": discriminator_accuracy(real_logits, fake_logits)}

    def sample(self, z, labels=None):
        """G(z, y) in eval mode; ``labels`` default: 0, 1, ..., K-1, 0, 1, ... (one class per grid column)."""
        z = _as_tensor(z)
        labels = np.arange(z.shape[0]) % self.n_classes if labels is None else np.asarray(labels)
        return self._eval(lambda: self.generator(z, labels))


# --- InfoGAN --------------------------------------------------------------------------------------------

class InfoGAN(GAN):
    """InfoGAN (Chen et al., 2016): the GAN game plus the variational lower bound on I(c; G(z, c)).

        (1) D, Q:  min  d_loss_minimax + lambda_cat * (-E log Q(c_cat | x~)) + lambda_cont * (-E log Q(c_cont | x~))
        (2) G:     min  -E log D(x~)   + the same two information terms,   x~ = G(z, c)

    c_cat ~ Cat(K) uniform, c_cont ~ U(-1, 1)^C, z ~ N(0, I) (noise_dim = G.noise_dim). The paper's MNIST
    weights: lambda_cat = 1, lambda_cont = 0.1 (appendix C). The discriminator must have ``with_q(x)``
    (models.InfoGANDiscriminator). With ``n_categories=0`` and all of z as continuous codes, the same update
    is source 003's noise-prediction ("entropy") term that keeps G from ignoring its noise.
    """

    def __init__(self, generator, discriminator, lambda_categorical=1.0, lambda_continuous=0.1, d_steps=1,
                 lr=2e-4, lr_d=None, betas=(0.5, 0.999)):
        _Adversarial.__init__(self, generator, discriminator, lr, betas, lr_d)
        self.noise_dim = generator.noise_dim
        self.n_categories, self.n_continuous = generator.n_categories, generator.n_continuous
        self.lambda_categorical, self.lambda_continuous = float(lambda_categorical), float(lambda_continuous)
        self.d_steps, self.generator_loss = int(d_steps), "nonsaturating"

    def codes(self, n):
        """(z (n, noise_dim) Tensor, categorical (n,) ints, continuous (n, C) Tensor) from minigan's CPU RNG."""
        rng = backend.generator("cpu")
        z = randn(n, self.noise_dim)
        categorical = rng.integers(0, max(self.n_categories, 1), n)
        continuous = Tensor(rng.uniform(-1, 1, (n, self.n_continuous)).astype(np.float32))
        return z, categorical, continuous

    def information_losses(self, images, categorical, continuous):
        """(logits (N,), categorical loss, continuous loss): -E log Q(c | x) for both codes, in nats."""
        logits, q_categorical, q_mean, q_logvar = self.discriminator.with_q(images)
        zero = F.sum(logits * 0.0)
        loss_cat = losses.info_categorical_loss(q_categorical, categorical) if self.n_categories else zero
        loss_cont = losses.info_continuous_loss(q_mean, q_logvar, continuous) if self.n_continuous else zero
        return logits, loss_cat, loss_cont

    def train_step(self, real):
        real = _as_tensor(real)
        n = real.shape[0]
        for _ in range(self.d_steps):                     # (1) update D and Q
            z, categorical, continuous = self.codes(n)
            with autograd.no_grad():
                fake = self.generator(z, categorical, continuous)
            real_logits = self.discriminator(real)
            fake_logits, loss_cat, loss_cont = self.information_losses(fake, categorical, continuous)
            gan_loss = losses.d_loss_minimax(real_logits, fake_logits)
            d_loss = gan_loss + loss_cat * self.lambda_categorical + loss_cont * self.lambda_continuous
            check_finite(self.step + 1, d_loss=d_loss.item())
            step_parameters(d_loss, self.d_params, self.optimizer_d)
        z, categorical, continuous = self.codes(n)        # (2) update G
        fake_logits_g, loss_cat_g, loss_cont_g = self.information_losses(
            self.generator(z, categorical, continuous), categorical, continuous)
        g_gan = losses.g_loss_nonsaturating(fake_logits_g)
        g_loss = g_gan + loss_cat_g * self.lambda_categorical + loss_cont_g * self.lambda_continuous
        check_finite(self.step + 1, g_loss=g_loss.item())
        step_parameters(g_loss, self.g_params, self.optimizer_g)
        self.step += 1
        return {"d_loss": gan_loss.item(), "g_loss": g_gan.item(), "info_categorical": loss_cat_g.item(),
                "info_continuous": loss_cont_g.item(),
                "d_accuracy": discriminator_accuracy(real_logits, fake_logits)}

    def sample(self, z, categorical=None, continuous=None):
        """G(z, c) in eval mode; default codes: categories 0..K-1 cycling, continuous codes 0."""
        z = _as_tensor(z)
        n = z.shape[0]
        categorical = np.arange(n) % max(self.n_categories, 1) if categorical is None else np.asarray(categorical)
        continuous = np.zeros((n, self.n_continuous), np.float32) if continuous is None else continuous
        return self._eval(lambda: self.generator(z, categorical, _as_tensor(continuous)))


# --- semi-supervised GAN (K + 1 classes) ----------------------------------------------------------------

def ssgan_supervised_loss(logits, labels):
    """-E log p(y | x, y <= K) over labelled real data: the cross-entropy over the K logits (the fake
    class's fixed logit 0 cancels when conditioning on "real"). logits (N, K), labels (N,) -> scalar."""
    return F.cross_entropy(logits, np.asarray(labels.data if isinstance(labels, Tensor) else labels).astype(np.int64))


def ssgan_unsupervised_loss(real_logits, fake_logits):
    """-E_x log(1 - p(K+1 | x)) - E_z log p(K+1 | G(z)) with p(K+1 | x) = 1 / (1 + sum_k exp l_k):
    the GAN discriminator loss on the real/fake logit logsumexp_k l_k (Salimans et al., 2016, eq. 5).
    real_logits (N, K), fake_logits (M, K) -> scalar."""
    return losses.d_loss_minimax(F.logsumexp(real_logits, 1), F.logsumexp(fake_logits, 1))


def ssgan_discriminator_loss(labelled_logits, labels, unlabelled_logits, fake_logits, unsupervised_weight=1.0):
    """L = L_supervised + w * L_unsupervised (Salimans et al., 2016, section 5) -> (L, L_sup, L_unsup)."""
    supervised = ssgan_supervised_loss(labelled_logits, labels)
    unsupervised = ssgan_unsupervised_loss(unlabelled_logits, fake_logits)
    return supervised + unsupervised * float(unsupervised_weight), supervised, unsupervised


def feature_matching_loss(real_features, fake_features):
    """|| mean_x f(x) - mean_z f(G(z)) ||^2 over the batch (Salimans et al., 2016, section 3.1): G matches
    the statistics of D's penultimate layer instead of fooling D directly. The real side is a constant."""
    target = Tensor(real_features.data.mean(0))
    diff = F.mean(fake_features, 0) - target
    return F.sum(diff * diff)


class SemiSupervisedGAN(_Adversarial):
    """Semi-supervised GAN with a K+1-class discriminator (Salimans et al., 2016; source 003).

    ``labelled_x`` (L, 1, 28, 28) in [-1, 1] and ``labelled_y`` (L,) are the few labelled examples, drawn
    ``labelled_batch`` at a time (with replacement, minigan's RNG) at each step; ``train_step(x)`` gets an
    unlabelled real batch. D minimises :func:`ssgan_discriminator_loss`; G ``feature_matching``
    (the paper's choice for classification) or ``nonsaturating`` -log D(G(z)) on logsumexp logits.
    """

    def __init__(self, generator, discriminator, labelled_x, labelled_y, latent_dim=None, labelled_batch=64,
                 generator_loss="feature_matching", unsupervised_weight=1.0, lr=2e-4, betas=(0.5, 0.999), lr_d=None):
        super().__init__(generator, discriminator, lr, betas, lr_d)
        self.labelled_x = np.asarray(labelled_x, np.float32)
        self.labelled_y = np.asarray(labelled_y, np.int64)
        self.latent_dim = latent_dim or generator.latent_dim
        self.labelled_batch, self.generator_loss = int(labelled_batch), generator_loss
        self.unsupervised_weight = float(unsupervised_weight)

    def train_step(self, real):
        real = _as_tensor(real)
        n = real.shape[0]
        rows = backend.generator("cpu").integers(0, len(self.labelled_x), self.labelled_batch)
        with autograd.no_grad():                                  # (1) update D
            fake = self.generator(randn(n, self.latent_dim))
        d_loss, supervised, unsupervised = ssgan_discriminator_loss(
            self.discriminator(Tensor(self.labelled_x[rows])), self.labelled_y[rows],
            self.discriminator(real), self.discriminator(fake), self.unsupervised_weight)
        check_finite(self.step + 1, d_loss=d_loss.item())
        step_parameters(d_loss, self.d_params, self.optimizer_d)
        fake = self.generator(randn(n, self.latent_dim))          # (2) update G
        if self.generator_loss == "feature_matching":
            with autograd.no_grad():
                real_features = self.discriminator.features(real)
            g_loss = feature_matching_loss(real_features, self.discriminator.features(fake))
        else:
            g_loss = losses.g_loss_nonsaturating(F.logsumexp(self.discriminator(fake), 1))
        check_finite(self.step + 1, g_loss=g_loss.item())
        step_parameters(g_loss, self.g_params, self.optimizer_g)
        self.step += 1
        return {"d_loss": d_loss.item(), "supervised": supervised.item(), "unsupervised": unsupervised.item(),
                "g_loss": g_loss.item()}

    def classify(self, x, batch_size=500):
        """p(y | x, real) (N, K) as a NumPy array, D in eval mode (dropout off)."""
        self.discriminator.eval()
        out = []
        try:
            with autograd.no_grad():
                for start in range(0, len(x), batch_size):
                    out.append(F.softmax(self.discriminator(_as_tensor(x[start:start + batch_size])), 1).numpy())
        finally:
            self.discriminator.train()
        return np.concatenate(out)

    def sample(self, z):
        return self._eval(lambda: self.generator(_as_tensor(z)))


# --- source 004: the adversarial recipe as a loop -------------------------------------------------------

def adversarial_loop(real_batches, generate, train_discriminator, train_generator, steps, monitor=None,
                     monitor_every=100):
    """Source 004's recipe, written out: repeat

        1. generate a batch of synthetic samples with the current generator;
        2. train the discriminator on real + synthetic (any binary classifier: ``train_discriminator(real,
           fake) -> dict``, e.g. a CNN, a logistic regression);
        3. train the generator where the discriminator finds it weak (``train_generator(n) -> dict``);
        4. every ``monitor_every`` steps call ``monitor(step) -> dict`` -- the place for what D cannot see
           (e.g. ``evaluate.mode_coverage`` of the samples).

    ``real_batches``: an iterable re-iterated as needed (a DataLoader). ``generate(n) -> fake batch`` (no
    graph needed). Returns the list of records (step, the two update dicts and the monitor's output).
    """
    history, step = [], 0
    while step < steps:
        for real in real_batches:
            real = real[0] if isinstance(real, tuple) else real
            fake = generate(real.shape[0])                         # 1. synthetic samples
            record = {"step": step + 1, **train_discriminator(real, fake)}   # 2. D on real + synthetic
            record.update(train_generator(real.shape[0]))          # 3. G against the current D
            step += 1
            if monitor is not None and (step % monitor_every == 0 or step == steps):
                record.update(monitor(step))                       # 4. what D cannot see
            history.append(record)
            if step >= steps:
                break
    return history
