"""Networks and their mathematics (losses are in ``minigan.losses``, the training updates in ``minigan.trainers``).

from minigan.models import WGANCritic, WGANGenerator     # source 000: 64x64x3 shapes, residual blocks
from minigan.models import DCGANGenerator, DCGANDiscriminator   # 28x28 MNIST (Radford et al., 2016)
from minigan.models import MLPGenerator, MLPDiscriminator       # the original GAN's MLPs
from minigan.models import VAE                                  # MLP VAE (Kingma & Welling, 2014)
from minigan.models import BernoulliNaiveBayes, LogisticRegression   # source 001's generative/discriminative pair
from minigan.models import ConditionalDCGANGenerator, ConditionalDCGANDiscriminator   # source 003's cGAN
from minigan.models import InfoGANGenerator, InfoGANDiscriminator, SSGANDiscriminator  # InfoGAN, K+1 SSGAN
"""

from .dcgan import DCGANDiscriminator, DCGANGenerator
from .gan import MLPDiscriminator, MLPGenerator
from .gan_variants import (
    ConditionalDCGANDiscriminator,
    ConditionalDCGANGenerator,
    InfoGANDiscriminator,
    InfoGANGenerator,
    SSGANDiscriminator,
)
from .naive_bayes import BernoulliNaiveBayes, LogisticRegression
from .vae import VAE
from .wgan_gp import ResBlockDown, ResBlockUp, WGANCritic, WGANGenerator

__all__ = [
    "ResBlockDown",
    "ResBlockUp",
    "WGANCritic",
    "WGANGenerator",
    "DCGANGenerator",
    "DCGANDiscriminator",
    "MLPGenerator",
    "MLPDiscriminator",
]
__all__ += ["VAE", "BernoulliNaiveBayes", "LogisticRegression"]
from .rbm import RBM, ais_log_partition, log_partition_exact  # noqa: E402  (source 003)
from .dbn import DBN, DBNClassifier, DeepAutoencoder  # noqa: E402

__all__ += ["RBM", "ais_log_partition", "log_partition_exact", "DBN", "DBNClassifier", "DeepAutoencoder"]
__all__ += [
    "ConditionalDCGANGenerator",
    "ConditionalDCGANDiscriminator",
    "InfoGANGenerator",
    "InfoGANDiscriminator",
    "SSGANDiscriminator",
]
from .bigan import BiGANDiscriminator, BiGANEncoder, BiGANGenerator  # noqa: E402  (BiGAN / ALI, source 001)

__all__ += ["BiGANEncoder", "BiGANGenerator", "BiGANDiscriminator"]
