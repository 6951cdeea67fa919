"""Gallery of source 000's synthetic shapes: every class of the training and test sets.

One row per class (2 training classes on top, then the 10 test classes), ``--per-class`` noisy copies
per row, each row labelled with source 000's class name "shape (base,sign) noise". Images are shown
clipped to [0, 1] (the generator does not clip: 0.85 + 0.2 + noise can exceed 1).

    python demos/shapes_gallery.py                 # demo_out/shapes_gallery.png
    python demos/shapes_gallery.py --quick --out /tmp/gallery
"""

import argparse
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from minigan import argtypes
from minigan.data.shapes import TEST_CLASSES, TRAIN_CLASSES, make_shapes

# ---- settings
PER_CLASS = 6  # copies shown per class
PER_CLASS_QUICK = 3
IMAGE_SIZE = 64  # source 000: 64x64x3
SEED = 0


def draw_gallery(per_class: int, seed: int, path: str) -> None:
    sections = [("train", TRAIN_CLASSES), ("test", TEST_CLASSES)]
    rows = [(set_name, shape_class) for set_name, classes in sections for shape_class in classes]
    figure, axes = plt.subplots(len(rows), per_class, figsize=(1.1 * per_class + 2.6, 1.1 * len(rows)), squeeze=False)
    for row, (set_name, shape_class) in enumerate(rows):
        images, _, names = make_shapes([shape_class], per_class, IMAGE_SIZE, seed=seed + row)
        pictures = np.clip(images.transpose(0, 2, 3, 1), 0.0, 1.0)  # (N, 3, H, W) -> (N, H, W, 3) for imshow
        for column in range(per_class):
            axis = axes[row, column]
            axis.imshow(pictures[column], interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
        axes[row, 0].set_ylabel(f"{set_name}: {names[0]}", rotation=0, ha="right", va="center", fontsize=8)
    figure.suptitle("source 000 shapes: 2 training classes (300 each), 10 test classes (40 each)", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out", help="output directory (default: demo_out/)")
    parser.add_argument(
        "--quick", action="store_true", help=f"{PER_CLASS_QUICK} copies per class instead of {PER_CLASS}"
    )
    parser.add_argument("--per-class", type=argtypes.positive_int, default=None, help="copies shown per class")
    parser.add_argument("--seed", type=argtypes.seed, default=SEED)
    args = parser.parse_args()
    per_class = args.per_class or (PER_CLASS_QUICK if args.quick else PER_CLASS)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "shapes_gallery.png")

    start = time.perf_counter()
    make_shapes(TEST_CLASSES, 100, IMAGE_SIZE, seed=args.seed)
    print(f"generated 1000 images (10 classes x 100) in {time.perf_counter() - start:.3f} s")
    draw_gallery(per_class, args.seed, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
