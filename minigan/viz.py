"""Figures: image grids, score histograms coloured by class, loss curves. matplotlib with the Agg backend
(files only, no display), imported lazily so that ``import minigan`` never needs matplotlib.

    viz.save_image_grid(images, "samples.png")                   # images (N, C, H, W), NumPy or Tensor
    viz.score_histograms(scores, labels, class_names, "hist.png")
    viz.loss_curves("metrics.jsonl", "losses.png", keys=("critic_loss", "gp"))
"""
from __future__ import annotations

import json
import math

import numpy

__all__ = ["image_grid", "save_image_grid", "score_histograms", "class_colours", "loss_curves",
           "read_metrics"]


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _numpy(images):
    data = getattr(images, "data", None)
    if data is not None and not isinstance(images, numpy.ndarray):
        return numpy.asarray(images.numpy())
    return numpy.asarray(images)


def image_grid(images, nrow=8, padding=2, value_range=(0.0, 1.0), pad_value=1.0):
    """Tile images (N, C, H, W) into one (H', W', C) array in [0, 1] (torchvision's make_grid, HWC).
    Values are clipped to ``value_range`` and rescaled to [0, 1]; one channel gives a grey image."""
    images = _numpy(images).astype(numpy.float64)
    if images.ndim == 3:
        images = images[:, None]
    n, c, h, w = images.shape
    low, high = value_range
    images = numpy.clip((images - low) / (high - low), 0.0, 1.0)
    ncol = min(nrow, n)
    nrows = math.ceil(n / ncol)
    grid = numpy.full((nrows * (h + padding) + padding, ncol * (w + padding) + padding, c), pad_value)
    for k in range(n):
        r, q = divmod(k, ncol)
        top, left = padding + r * (h + padding), padding + q * (w + padding)
        grid[top:top + h, left:left + w] = images[k].transpose(1, 2, 0)
    return grid[..., 0] if c == 1 else grid


def save_image_grid(images, path, nrow=8, title=None, value_range=(0.0, 1.0)):
    """Write ``image_grid(images)`` to ``path`` (PNG) with an optional title."""
    plt = _pyplot()
    grid = image_grid(images, nrow=nrow, value_range=value_range)
    height, width = grid.shape[:2]
    figure = plt.figure(figsize=(max(2.0, width / 60), max(2.0, height / 60) + (0.3 if title else 0)))
    axes = figure.add_axes((0, 0, 1, 0.93 if title else 1))
    axes.imshow(grid, cmap="gray" if grid.ndim == 2 else None, interpolation="nearest")
    axes.axis("off")
    if title:
        figure.suptitle(title, fontsize=9)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def class_colours(class_names):
    """Source 000's colour scheme: one hue per shape (circles yellow, squares purple, triangles green),
    darker for the lower noise level (0.01), lighter for 0.03; distinct shades within a shape."""
    import matplotlib
    hues = {"circle": "YlOrBr", "square": "Purples", "triangle": "Greens"}
    colours, seen = [], {}
    for name in class_names:
        shape = name.split()[0]
        k = seen.get(shape, 0)
        seen[shape] = k + 1
        cmap = matplotlib.colormaps[hues.get(shape, "Greys")]
        noise = float(name.split()[-1]) if name.split()[-1].replace(".", "", 1).isdigit() else 0.03
        level = (0.9 if noise < 0.02 else 0.55) - 0.12 * (k // 2)
        colours.append(cmap(max(0.25, level)))
    return colours


def score_histograms(scores, labels, class_names, path, title=None, bins=60, centre_on=None, axes=None):
    """Histograms of critic scores (N,), one colour per class (labels (N,) index ``class_names``), as the
    figures of source 000. ``centre_on``: a class name whose mean score is subtracted from all scores.
    Draws on ``axes`` if given (and returns it), otherwise writes ``path``."""
    plt = _pyplot()
    scores, labels = numpy.asarray(scores, dtype=numpy.float64), numpy.asarray(labels)
    if centre_on is not None:
        scores = scores - scores[labels == list(class_names).index(centre_on)].mean()
    own = axes is None
    if own:
        figure, axes = plt.subplots(figsize=(9, 4.5))
    edges = numpy.histogram_bin_edges(scores, bins=bins)
    for k, (name, colour) in enumerate(zip(class_names, class_colours(class_names))):
        axes.hist(scores[labels == k], bins=edges, color=colour, alpha=0.85, label=name, edgecolor="none")
    axes.set_xlabel("critic score" + (f" - mean score of {centre_on!r}" if centre_on else ""))
    axes.set_ylabel("images")
    if title:
        axes.set_title(title, fontsize=10)
    axes.legend(fontsize=7, ncol=2, frameon=False)
    if own:
        figure.tight_layout()
        figure.savefig(path, dpi=100)
        plt.close(figure)
    return axes


def read_metrics(path):
    """The records of a JSON-lines metrics log, as a list of dicts."""
    with open(path) as file:
        return [json.loads(line) for line in file if line.strip()]


def loss_curves(metrics, path, keys=("critic_loss", "gp"), x="step", smooth=25, title=None):
    """One panel per key (source 000 plots the critic loss and the gradient penalty over training):
    the raw values faint, a running mean over ``smooth`` points on top. ``metrics``: records or a path."""
    plt = _pyplot()
    records = read_metrics(metrics) if isinstance(metrics, str) else list(metrics)
    figure, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.2), squeeze=False)
    for axis, key in zip(axes[0], keys):
        points = [(r[x], r[key]) for r in records if key in r and r[key] is not None]
        if not points:
            continue
        xs, ys = numpy.array(points, dtype=numpy.float64).T
        axis.plot(xs, ys, lw=0.6, alpha=0.35, color="C0")
        if len(ys) >= smooth > 1:
            kernel = numpy.ones(smooth) / smooth
            axis.plot(xs[smooth - 1:], numpy.convolve(ys, kernel, mode="valid"), lw=1.4, color="C0")
        axis.set_xlabel(x)
        axis.set_title(key, fontsize=10)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
