"""Winograd F(4x4, 2x2) (kernels/winograd.py): its matrices, its choice of layers (kernels/conv.py), every
dtype and threading mode against kernels.reference, the adjoint identity and gradcheck through it, its edge
cells, and its cache of transformed weights."""

import os
import subprocess
import sys

import numpy as np
import pytest

import minigan_kernels as kernels
from minigan_kernels import reference
from kernels_common import HAS_NUMBA, PARALLEL, ROOT, SERIAL, needs_cpu, needs_private_blas
from kernels_common import cpu as kernel_cpu

if HAS_NUMBA:  # (without Numba every test here is skipped)
    from minigan_kernels import conv, runtime, winograd


def _correlate_1d(g, d, m):
    return np.array([sum(g[k] * d[i + k] for k in range(len(g))) for i in range(m)])


@needs_cpu
@pytest.mark.parametrize(
    "m, r, points", [(4, 2, (0, 1, -1, 2)), (2, 2, (0, 1)), (2, 3, (0, 1, -1)), (4, 3, (0, 1, -1, 2, -2))]
)
def test_winograd_transform_matrices_compute_the_correlation(m, r, points):
    """A^T [(G g) (.) (B^T d)] is the correlation y_i = sum_k g_k d_{i+k}, for Toom-Cook matrices at any points."""
    AT, G, BT = winograd.transform_matrices(m, r, points)
    rng = np.random.default_rng(0)
    for _ in range(5):
        g, d = rng.standard_normal(r), rng.standard_normal(m + r - 1)
        np.testing.assert_allclose(AT @ ((G @ g) * (BT @ d)), _correlate_1d(g, d, m), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="needs"):
        winograd.transform_matrices(m, r, points[:-1])


@needs_cpu
def test_winograd_f4x4_2x2_matrices_are_the_documented_ones():
    """The matrices that _input_rows/_output_rows spell out: integer B^T, and still a correct F(4, 2)."""
    AT, G, BT = winograd.f4x4_2x2_matrices()
    np.testing.assert_array_equal(
        BT, [[2, -1, -2, 1, 0], [0, 2, 1, -1, 0], [0, -2, 3, -1, 0], [0, -1, 0, 1, 0], [0, 2, -1, -2, 1]]
    )
    np.testing.assert_array_equal(AT, [[1, 1, 1, 1, 0], [0, 1, -1, 2, 0], [0, 1, 1, 4, 0], [0, 1, -1, 8, 1]])
    g, d = np.array([0.3, -1.7]), np.arange(5.0) ** 2 - 3
    np.testing.assert_allclose(AT @ ((G @ g) * (BT @ d)), _correlate_1d(g, d, 4), rtol=1e-12)


WINOGRAD_CASES = [
    (2, 16, 32, 14, 14, 4, 2, 1, 0),  # a DCGAN 4x4 stride-2 layer, scaled down
    (1, 3, 5, 9, 7, 4, 2, 0, 1),  # batch 1, odd rectangular image, output_padding
    (3, 4, 6, 8, 8, 2, 1, 0, 0),  # k2 s1
    (2, 5, 3, 11, 10, 6, 3, 2, 2),  # k6 s3
    (2, 3, 4, 7, 9, 4, 2, 3, 1),  # padding beyond half the kernel
    (1, 2, 2, 2, 3, 4, 2, 1, 0),  # an image smaller than one tile
    (2, 3, 2, 40, 36, 4, 2, 1, 0),  # many tiles per sample (more than a chunk holds)
    (2, 3, 4, 16, 16, 4, 2, 1, 0),  # conv_transpose2d to 32 x 32: 17 x 17 cells, the last row and column as edges
    (1, 2, 3, 8, 7, 4, 2, 1, 1),  # conv_transpose2d to 17 x 15: 9 x 8 cells, the last row as an edge
]


WINOGRAD_IDS = ["N{}C{}O{}_{}x{}_k{}s{}p{}op{}".format(*c) for c in WINOGRAD_CASES]


def _force_winograd(monkeypatch, threads):
    calls = []
    run, weight_gradient = winograd._run, winograd.conv2d_weight
    kernel_cpu()
    monkeypatch.setattr(conv, "WINOGRAD_MIN_CHANNELS", 1)
    monkeypatch.setattr(conv, "WINOGRAD_MIN_MACS", 0)
    monkeypatch.setattr(winograd, "weight_gradient_pays", lambda *args: True)  # (its own test is below)
    monkeypatch.setattr(winograd, "_PARALLEL_MIN_MACS", SERIAL if threads == "serial" else PARALLEL)
    for name in ("_TILES_PER_CHUNK", "_GRADIENT_TILES_PER_CHUNK"):
        if threads == "parallel-chunk1":
            monkeypatch.setattr(winograd, name, 1)
        if threads == "serial-chunk3":  # chunks that end inside a sample and hold parts of two
            monkeypatch.setattr(winograd, name, 3)
    monkeypatch.setattr(winograd, "_run", lambda *args: calls.append("run") or run(*args))
    monkeypatch.setattr(winograd, "conv2d_weight", lambda *args: calls.append("gW") or weight_gradient(*args))
    return calls


@needs_cpu
def test_winograd_weight_gradient_only_where_its_sums_stay_in_cache():
    """The Winograd weight gradient keeps 25 (O, K) sums per worker: it serves the MNIST DCGAN's 64->128 layer
    (3.3 MB of sums, 128 tiles per worker) but not a 256->512 layer on 8 x 8 (52 MB, measured 4.3x slower than
    im2col) nor a batch too small to fill one chunk of tiles per worker."""
    assert winograd.weight_gradient_pays(64, 64, 128, 7, 7, 2, 4, 2)
    assert not winograd.weight_gradient_pays(16, 256, 512, 4, 4, 2, 4, 2)
    assert not winograd.weight_gradient_pays(4, 64, 128, 7, 7, 2, 4, 2)  # 8 tiles per worker
    assert not winograd.weight_gradient_pays(4, 64, 128, 7, 7, 2, 4, 1)  # 16 tiles on one worker
    assert winograd.weight_gradient_pays(8, 64, 128, 7, 7, 2, 4, 1)  # 32


@needs_cpu
@needs_private_blas
def test_winograd_computes_the_last_cell_row_of_a_4q_plus_1_grid_as_an_edge(monkeypatch):
    """conv_transpose2d's output grid of 4q + 1 cells (16 -> 32 with padding 1: 17) runs 4q cells through the tiles
    and the last row / column through _edge_lines (8 -> 16: 9 cells); other grids (7 -> 14: 8 cells) have no
    edges; the result is the reference's."""
    _force_winograd(monkeypatch, "parallel")
    edges = []
    edge_lines = winograd._edge_lines
    monkeypatch.setattr(winograd, "_edge_lines", lambda *a, **k: edges.append(k["along_rows"]) or edge_lines(*a, **k))
    rng = np.random.default_rng(11)
    W = rng.standard_normal((5, 3, 4, 4))
    for H, Wd, op, expected in [
        (16, 16, 0, [True, False]),
        (8, 7, 1, [True]),
        (8, 8, 0, [True, False]),
        (7, 7, 0, []),
        (6, 7, 0, []),
    ]:
        edges.clear()
        x = rng.standard_normal((2, 5, H, Wd))
        got = kernel_cpu().conv_transpose2d(x, W, 2, 1, op)
        assert edges == expected, (H, Wd, op)
        np.testing.assert_allclose(got, reference.conv_transpose2d(x, W, 2, 1, op), rtol=0, atol=1e-12)


@needs_cpu
@needs_private_blas
@pytest.mark.parametrize("threads", ["serial", "parallel", "parallel-chunk1", "serial-chunk3"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", WINOGRAD_CASES, ids=WINOGRAD_IDS)
def test_winograd_matches_reference(case, dtype, threads, monkeypatch):
    """conv2d, conv_transpose2d and conv2d_weight by F(4x4, 2x2) against the reference: to rounding in float64,
    and in float32 within 1e-5 of the output's scale (Winograd's transforms cost about one decimal digit over
    im2col)."""
    calls = _force_winograd(monkeypatch, threads)
    N, C, O, H, W_, k, s, p, op = case
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N, C, H, W_)).astype(dtype)
    W = rng.standard_normal((O, C, k, k)).astype(dtype)
    Wt = rng.standard_normal((C, O, k, k)).astype(dtype)
    gy = rng.standard_normal((N, O) + reference.conv2d(x, W, s, p).shape[2:]).astype(dtype)
    pairs = [
        (kernel_cpu().conv2d(x, W, s, p), reference.conv2d(x, W, s, p)),
        (kernel_cpu().conv_transpose2d(x, Wt, s, p, op), reference.conv_transpose2d(x, Wt, s, p, op)),
        (kernel_cpu().conv2d_weight(x, gy, k, s, p), reference.conv2d_weight(x, gy, k, s, p)),
    ]
    assert calls == ["run", "run", "gW"]  # all three went through kernels/winograd.py
    for name, (got, want) in zip(("conv2d", "conv_transpose2d", "conv2d_weight"), pairs):
        assert got.shape == want.shape and got.dtype == want.dtype == dtype and got.flags.c_contiguous, name
        scale = np.abs(want).max()
        atol = 1e-5 * scale if dtype == np.float32 else 1e-12 * scale
        np.testing.assert_allclose(got, want, rtol=0, atol=atol, err_msg=name)


@needs_cpu
@needs_private_blas
@pytest.mark.parametrize("case", WINOGRAD_CASES, ids=WINOGRAD_IDS)
def test_winograd_adjoint_identity_and_gradcheck(case, monkeypatch):
    """<conv2d(x, W), y> = <x, conv_transpose2d(y, W)> with both sides by Winograd, and the engine's gradcheck and
    gradgradcheck of a conv layer whose forward and input gradient take the Winograd path."""
    import minigan as mg

    calls = _force_winograd(monkeypatch, "parallel")
    N, C, O, H, W_, k, s, p, _ = case
    rng = np.random.default_rng(8)
    x, W = rng.standard_normal((N, C, H, W_)), rng.standard_normal((O, C, k, k))
    y = kernel_cpu().conv2d(x, W, s, p)
    gy = rng.standard_normal(y.shape)
    op = tuple(n - reference.conv_transpose_output_size(m, k, s, p, 0, 1) for n, m in zip((H, W_), y.shape[2:]))
    np.testing.assert_allclose(np.vdot(x, kernel_cpu().conv_transpose2d(gy, W, s, p, op)), np.vdot(y, gy), rtol=1e-10)
    # <conv2d(x, W), gy> is linear in W too: = <W, conv2d_weight(x, gy)>
    np.testing.assert_allclose(np.vdot(W, kernel_cpu().conv2d_weight(x, gy, k, s, p)), np.vdot(y, gy), rtol=1e-10)
    assert calls == ["run", "run", "gW"]
    if C * O > 64:
        return  # the numerical checks below are for the small cases
    tensors = [mg.tensor(x[:1], dtype="float64", requires_grad=True), mg.tensor(W, dtype="float64", requires_grad=True)]
    conv_layer = lambda a, w: mg.functional.conv2d(a, w, stride=s, padding=p)  # noqa: E731
    assert mg.gradcheck(conv_layer, tensors) and mg.gradgradcheck(conv_layer, tensors)


@needs_cpu
def test_winograd_choice_is_visible_and_can_be_switched_off():
    """kernels.info() says whether Winograd serves the large layers; MINIGAN_WINOGRAD=0 (fresh process) turns it off."""
    info = kernels.info()
    if runtime.FUSED:
        assert info["winograd"].startswith("F(4x4, 2x2)") and str(conv.WINOGRAD_MIN_CHANNELS) in info["winograd"]
        assert conv._winograd_pays(64, 128, 411_041_792) and not conv._winograd_pays(16, 16, 1 << 40)
    code = (
        "import minigan_kernels as kernels, minigan_kernels.conv as c\n"
        "assert kernels.info()['winograd'].startswith('off'), kernels.info()['winograd']\n"
        "assert not c._winograd_pays(128, 128, 1 << 40)\n"
        "print('off')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, MINIGAN_WINOGRAD="0"),
        cwd=ROOT,
    )
    assert out.returncode == 0 and out.stdout.split() == ["off"], out.stderr


@needs_cpu
@needs_private_blas
def test_winograd_reuses_transformed_weights_only_while_they_are_unchanged(monkeypatch):
    """A layer called again with the same weights reuses their transform (a cache hit); weights changed in
    place, as an optimizer does, are transformed again (the output follows the new weights); the cache holds
    at most `capacity` entries and `max_bytes`."""
    _force_winograd(monkeypatch, "parallel")
    cache = winograd.TransformedWeightCache(capacity=2)
    monkeypatch.setattr(winograd, "TRANSFORMED_WEIGHTS", cache)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 8, 8))
    W = rng.standard_normal((4, 3, 4, 4))
    first = kernel_cpu().conv2d(x, W, 2, 1)
    np.testing.assert_array_equal(kernel_cpu().conv2d(x, W, 2, 1), first)
    assert (cache.hits, cache.misses) == (1, 1)
    W *= -0.5  # an in-place update at the same address
    np.testing.assert_allclose(kernel_cpu().conv2d(x, W, 2, 1), reference.conv2d(x, W, 2, 1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(kernel_cpu().conv2d(x, W, 2, 1), -0.5 * first, rtol=0, atol=1e-12)
    assert (cache.hits, cache.misses) == (2, 2)
    kernel_cpu().conv_transpose2d(x, rng.standard_normal((3, 4, 4, 4)), 2, 1)
    kernel_cpu().conv_transpose2d(x, rng.standard_normal((3, 5, 4, 4)), 2, 1)
    assert len(cache._entries) == 2 and cache.misses == 4
    assert cache._bytes == sum(w.nbytes + u.nbytes for w, u in cache._entries.values())
    small = winograd.TransformedWeightCache(max_bytes=W.nbytes)  # no room for W and its U: nothing is kept
    small.get(W, 2, False, 1)
    assert small._entries == {} and small._bytes == 0
