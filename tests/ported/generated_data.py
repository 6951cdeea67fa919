"""Generated stand-ins for torchvision's datasets (and, for the dcgan and vae scripts, for
torch.utils.data.DataLoader), for the ported pytorch/examples scripts: the same NumPy data for minigan and for
PyTorch (each script converts them with its own ``from_numpy``). ``GeneratedMNIST`` is a map-style data set
that the mnist script batches with each library's own ``torch.utils.data.DataLoader``; ``GeneratedLoader``
yields batches itself, with the DataLoader attributes the scripts read (``dataset``, ``len``, iteration)."""

import numpy as np


class GeneratedLoader:
    """Batches of (images, labels): images in [0, 1) of shape (n, channels, size, size), float32, passed
    through ``transform`` (an array function, e.g. normalisation), labels int64 in [0, 10)."""

    def __init__(self, from_numpy, n, batch_size, channels=1, size=28, seed=0, transform=None):
        rng = np.random.default_rng(seed)
        images = rng.random((n, channels, size, size), dtype=np.float32)
        self.dataset = images if transform is None else transform(images).astype(np.float32)
        self.labels = rng.integers(0, 10, n)
        self.from_numpy, self.batch_size = from_numpy, batch_size

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        for start in range(0, len(self.dataset), self.batch_size):
            stop = start + self.batch_size
            yield (self.from_numpy(self.dataset[start:stop].copy()), self.from_numpy(self.labels[start:stop].copy()))


class GeneratedMNIST:
    """A map-style data set like torchvision's MNIST after its transforms: item i is (image (channels, size,
    size) float32 tensor, label int); the images in [0, 1) passed through ``transform`` (an array function)."""

    def __init__(self, from_numpy, n, channels=1, size=28, seed=0, transform=None):
        rng = np.random.default_rng(seed)
        images = rng.random((n, channels, size, size), dtype=np.float32)
        self.images = images if transform is None else transform(images).astype(np.float32)
        self.labels = rng.integers(0, 10, n)
        self.from_numpy = from_numpy

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.from_numpy(self.images[index].copy()), int(self.labels[index])
