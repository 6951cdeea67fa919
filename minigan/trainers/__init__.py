"""One trainer per model family, all driven by ``minigan.training.fit`` and ``minigan train <family>``.

``base`` holds the contract (read it first); each other module is one family: its trainer class (whose
``train_step`` is the paper's update), ``add_arguments(parser)`` and ``build(args)`` for the command line.
``FAMILIES`` maps each command-line name to its module; adding a family is adding one line here.
"""

from . import dbn, dcgan, gan, naive_bayes, rbm, supervised, vae, wgan_clip, wgan_gp
from . import adversarial_loop, bigan, conditional, infogan, ssgan

__all__ = ["FAMILIES"]

FAMILIES = {
    "gan": gan,
    "dcgan": dcgan,
    "wgan-clip": wgan_clip,
    "wgan-gp": wgan_gp,
    "rbm": rbm,
    "dbn": dbn,
    "vae": vae,
    "naive-bayes": naive_bayes,
    "classifier": supervised.ClassifierFamily,
    "autoencoder": supervised.AutoencoderFamily,
    "cgan": conditional,
    "infogan": infogan,
    "ssgan": ssgan,
    "bigan": bigan,
    "adversarial-loop": adversarial_loop,
}
