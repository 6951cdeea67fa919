"""Figures: image grids, score histograms coloured by class, loss curves. matplotlib with the Agg backend
(files only, no display), imported lazily so that ``import minigan`` never needs matplotlib.

    viz.save_image_grid(images, "samples.png")                   # images (N, C, H, W), NumPy or Tensor
    viz.score_histograms(scores, labels, class_names, "hist.png")
    viz.loss_curves("metrics.jsonl", "losses.png", keys=("critic_loss", "gp"))
"""

from __future__ import annotations

import json
import math
import os
from typing import TYPE_CHECKING, Any

import numpy

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from .typing import ArrayLike, PathLike, TensorLike

__all__ = [
    "image_grid",
    "save_image_grid",
    "score_histograms",
    "score_histograms_by_run",
    "pair_histograms",
    "class_colours",
    "loss_curves",
    "read_metrics",
    "save_filter_grid",
    "line_panels",
    "latent_scatter",
    "labelled_rows_grid",
    "plot_running_means",
]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _numpy(images):
    if not isinstance(images, numpy.ndarray) and callable(getattr(images, "numpy", None)):  # a Tensor
        return numpy.asarray(images.numpy())
    return numpy.asarray(images)


def image_grid(
    images: TensorLike,
    nrow: int = 8,
    padding: int = 2,
    value_range: tuple[float, float] = (0.0, 1.0),
    pad_value: float = 1.0,
) -> numpy.ndarray:
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
        grid[top : top + h, left : left + w] = images[k].transpose(1, 2, 0)
    return grid[..., 0] if c == 1 else grid


def save_image_grid(
    images: TensorLike,
    path: PathLike,
    nrow: int = 8,
    title: str | None = None,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> None:
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


def class_colours(class_names: Sequence[str]) -> list[tuple[float, float, float, float]]:
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


def score_histograms(
    scores: ArrayLike,
    labels: ArrayLike,
    class_names: Sequence[str],
    path: PathLike,
    title: str | None = None,
    bins: int = 60,
    centre_on: str | None = None,
    axes: Any = None,
) -> Any:
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


def score_histograms_by_run(
    scores: dict[str, ArrayLike],
    labels: ArrayLike,
    class_names: Sequence[str],
    path: PathLike,
    samples: dict[str, str] | None = None,
    titles: dict[str, str] | None = None,
    centre_on: str | None = None,
) -> None:
    """One row per run of ``scores`` ({run: scores (N,)}): the image at ``samples[run]`` (a PNG of its samples,
    if given and present) beside the run's histograms by class (``score_histograms``, centred on the class
    ``centre_on``); ``titles``: {run: label}. Written to ``path``."""
    plt = _pyplot()
    samples, titles = samples or {}, titles or {}
    figure, axes = plt.subplots(
        len(scores), 2, figsize=(13, 3.3 * len(scores)), squeeze=False, gridspec_kw={"width_ratios": [1, 2.6]}
    )
    for row, name in enumerate(scores):
        axes[row, 0].axis("off")
        if samples.get(name) and os.path.exists(samples[name]):
            axes[row, 0].imshow(plt.imread(samples[name]))
        title = titles.get(name, name) + (f": scores - mean of {centre_on!r}" if centre_on else "")
        score_histograms(scores[name], labels, class_names, None, axes=axes[row, 1], centre_on=centre_on, title=title)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def pair_histograms(
    scores: ArrayLike,
    labels: ArrayLike,
    class_names: Sequence[str],
    pairs: Sequence[tuple[int, int]],
    path: PathLike,
    titles: Sequence[str] | None = None,
) -> None:
    """One panel per pair (i, j) of classes: the histograms of the scores (N,) of those two classes only,
    as source 000's zoom on classes whose scores are close. ``titles``: one per pair (default "a vs b")."""
    plt = _pyplot()
    labels = numpy.asarray(labels)
    figure, axes = plt.subplots(1, len(pairs), figsize=(4.5 * len(pairs), 3.4), squeeze=False)
    titles = titles or [f"{class_names[i]} vs {class_names[j]}" for i, j in pairs]
    for axis, (i, j), title in zip(axes[0], pairs, titles):
        keep = (labels == i) | (labels == j)
        score_histograms(
            numpy.asarray(scores)[keep],
            (labels[keep] == j).astype(int),
            [class_names[i], class_names[j]],
            None,
            axes=axis,
            bins=30,
            title=title,
        )
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def read_metrics(path: PathLike) -> list[dict[str, Any]]:
    """The records of a JSON-lines metrics log, as a list of dicts."""
    with open(path) as file:
        return [json.loads(line) for line in file if line.strip()]


def plot_running_means(
    axis: Any, metrics: PathLike | Iterable[dict[str, Any]], keys: Sequence[str], x: str = "step", smooth: int = 25
) -> None:
    """On one matplotlib ``axis``, each key's running mean over ``smooth`` records (fewer if the log is
    shorter), labelled by its name: several losses of one run on a common step axis."""
    records = read_metrics(metrics) if isinstance(metrics, str) else list(metrics)
    steps = numpy.array([r[x] for r in records])
    for key in keys:
        values = numpy.array([r[key] for r in records])
        k = min(smooth, len(values))
        axis.plot(steps[k - 1 :], numpy.convolve(values, numpy.ones(k) / k, mode="valid"), label=key)
    axis.set_xlabel(x)
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)


def loss_curves(
    metrics: PathLike | Iterable[dict[str, Any]],
    path: PathLike,
    keys: Sequence[str] = ("critic_loss", "gp"),
    x: str = "step",
    smooth: int = 25,
    title: str | None = None,
) -> None:
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
            axis.plot(xs[smooth - 1 :], numpy.convolve(ys, kernel, mode="valid"), lw=1.4, color="C0")
        axis.set_xlabel(x)
        axis.set_title(key, fontsize=10)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def save_filter_grid(W: TensorLike, path: PathLike, title: str, n: int = 100, nrow: int = 10, side: int = 28) -> None:
    """The first n columns of a weight matrix W (D, H) as side x side tiles (an RBM's or a first layer's
    filters), each tile scaled to its own [min, max] so that its pattern shows."""
    tiles = _numpy(W)[:, :n].T.reshape(-1, 1, side, side)
    low = tiles.min(axis=(1, 2, 3), keepdims=True)
    high = tiles.max(axis=(1, 2, 3), keepdims=True)
    save_image_grid((tiles - low) / (high - low + 1e-12), path, nrow=nrow, title=title)


def line_panels(
    panels: Sequence[tuple[str, dict[str, tuple[ArrayLike, ArrayLike]]]],
    path: PathLike,
    xlabel: str,
    log_y: bool = False,
    width: float = 5.0,
) -> None:
    """Side-by-side panels of curves: ``panels`` is a list of (ylabel, {label: (xs, ys)}) -- or
    {label: (xs, ys, style)} for a matplotlib format string such as "o--" -- one legend per panel."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), 3.6), squeeze=False)
    for axis, (ylabel, curves) in zip(axes[0], panels):
        for label, curve in curves.items():
            xs, ys, style = curve if len(curve) == 3 else (*curve, "o-")
            axis.plot(xs, ys, style, label=label, markersize=3)
        axis.set_xlabel(xlabel)
        axis.set_ylabel(ylabel)
        if log_y:
            axis.set_yscale("log")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def latent_scatter(z: ArrayLike, labels: ArrayLike, path: PathLike, title: str, num_classes: int = 10) -> None:
    """A 2-D latent code z (N, 2) as points coloured by class, each class's centroid labelled (a VAE's
    posterior means, Kingma & Welling 2014, figure 4)."""
    plt = _pyplot()
    z, labels = _numpy(z), numpy.asarray(labels)
    figure, axis = plt.subplots(figsize=(6.4, 5.6))
    cmap = plt.get_cmap("tab10")
    for k in range(num_classes):
        rows = labels == k
        axis.scatter(z[rows, 0], z[rows, 1], s=6, color=cmap(k), label=str(k), alpha=0.8)
        centre = z[rows].mean(0)
        axis.text(
            centre[0],
            centre[1],
            str(k),
            fontsize=13,
            weight="bold",
            ha="center",
            va="center",
            bbox=dict(facecolor="white", alpha=0.7, edgecolor=cmap(k), boxstyle="round,pad=0.15"),
        )
    axis.set_xlabel("z1 (posterior mean)")
    axis.set_ylabel("z2 (posterior mean)")
    axis.legend(markerscale=3, fontsize=8, ncol=2, loc="best")
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def labelled_rows_grid(
    rows: Sequence[numpy.ndarray],
    alphas: Sequence[float],
    labels: Sequence[str],
    path: PathLike,
    title: str,
    blocks: int = 3,
) -> None:
    """Rows of images (a list of (A, 1, H, W) paths, e.g. one interpolation per digit pair), each labelled on
    the left, the columns by ``alphas`` on top, laid out in ``blocks`` side-by-side panels (45 rows -> 3 panels
    of 15). 28x28 images."""
    plt = _pyplot()
    per_block = -(-len(rows) // blocks)
    grids = [
        image_grid(numpy.concatenate(rows[k : k + per_block]), nrow=len(alphas), padding=2)
        for k in range(0, len(rows), per_block)
    ]
    height, width = grids[0].shape
    figure, axes = plt.subplots(
        1, len(grids), figsize=(len(grids) * (width / 45 + 0.5), height / 45 + 0.6), squeeze=False
    )
    for k, (axis, grid) in enumerate(zip(axes[0], grids)):
        axis.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        n_rows = (grid.shape[0] - 2) // 30
        axis.set_yticks(
            [2 + 30 * r + 14 for r in range(n_rows)], labels[k * per_block : k * per_block + n_rows], fontsize=8
        )
        axis.set_xticks([2 + 30 * c + 14 for c in range(len(alphas))], [f"{a:.3g}" for a in alphas], fontsize=6)
        axis.xaxis.tick_top()
        axis.tick_params(length=0)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    figure.savefig(path, dpi=90)
    plt.close(figure)
