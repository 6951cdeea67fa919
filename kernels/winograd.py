"""Winograd convolution for the strided 4x4 layers of DCGAN-style networks (CPU, Numba + the private BLAS).

Why.  A DCGAN's big layers are 4x4 convolutions with stride 2 (and their transposes).  By im2col each is
one matrix product of 2*Ho*Wo*O*C*16 multiply-adds per sample, and the matrix products alone already take
as long as PyTorch's whole convolution (oneDNN runs these layers near the CPU's peak; bench/README.md,
history 17).  Doing fewer multiplications is the only way past that floor.

Two steps (Lavin & Gray 2016, "Fast algorithms for convolutional neural networks"):

1. Space-to-depth.  A k x k convolution with stride s, k = r*s, is a stride-1 r x r convolution on the
   "s2d" image S[R, Q, (u, v, c)] = xpad[c, R*s + u, Q*s + v] (s*s*C channels): writing the tap i = a*s + u,
       y[o, h, w] = sum_{a,b < r} sum_{(u,v,c)} W[o, c, a*s+u, b*s+v] * S[h + a, w + b, (u, v, c)].
   For DCGAN's k = 4, s = 2 that is a 2 x 2 convolution over 4C channels.  The transposed convolution is
   the same with the roles swapped: its output in s2d form,
       Y[R, Q, (u, v, o)] = sum_{a,b < r} sum_c W[c, o, a*s+u, b*s+v] * x[c, R - a, Q - b],
   is a stride-1 r x r correlation of x (zero-padded by r-1) with the flipped kernel, and
   y[o, R*s + u - p, Q*s + v - p] = Y[R, Q, (u, v, o)].

2. Winograd's minimal filtering F(m x m, r x r).  For a tile of m x m outputs of a stride-1 r x r
   correlation, with alpha = m + r - 1 and the alpha x alpha input patch d:
       Y = A^T [ (G g G^T) (.) (B^T d B) ] A           ((.) elementwise; A^T m x alpha, G alpha x r, B^T alpha x alpha)
   Summed over input channels, the elementwise products become alpha^2 matrix products over the tiles,
       M_e (tiles, O) = V_e (tiles, K) @ U_e (K, O),   e = (xi, nu) < alpha^2,
   with V = B^T d B per tile and channel and U = G g G^T per channel pair.  F(4x4, 2x2) needs 25 products
   per 16 outputs where direct convolution needs 64: 2.56x fewer multiply-adds (on a 7 x 7 output, which
   tiles as 8 x 8, 1.96x).  The transforms are additions and scalings of channel vectors.

The matrices come from Toom-Cook interpolation at the points (0, 1, -1, 2, infinity) (transform_matrices
below solves for B^T exactly from A^T and G); in float32 the outputs differ from the direct sum by up to
~4e-6 of the output's scale (tests/test_kernels_winograd.py allows 1e-5), against ~1e-7 for im2col -- the usual
price of Winograd.  In float64 they agree to ~1e-15, so gradcheck and gradgradcheck run through this path.

Shapes used in this module: K = s*s*C (conv2d) or C (transposed), Kout = O (conv2d) or s*s*O
(transposed); T = tiles in a chunk.  Work per Numba worker thread, on its slice of the batch, in chunks of
_TILES_PER_CHUNK (sample, tile) pairs (small, so that V and M stay in cache, and the same size for any
image): gather + input transform -> alpha^2 single-threaded products on kernels/blas.py's BLAS -> output
transform + scatter into y.

The weight gradient (conv2d_weight, _weight_gradient_worker) uses the same identity the other way round:
dg = G^T [ sum over tiles of (A gy_t A^T) (.) (B^T d_t B) ] G (the bilinear form of F(4, 2)), with 25
products per chunk that reduce over the chunk's tiles into per-worker sums.  A conv_transpose2d output
grid of 4q + 1 cells (16 -> 32 with padding 1: 17) runs 4q cells through the tiles and its last row and
column of cells by one matrix product per kernel row (_edge_lines) instead of a fifth, mostly empty, tile.

It serves only the layers where it measured faster than the im2col pipeline (kernels/conv.py's thresholds,
weight_gradient_pays below; bench/README.md, history 18).  What makes the weight gradient pay: chunks of
tiles whose V and Gy stay in the core's cache, G^T Z G per output channel inside the worker, and the batch
read as one stream (kernels/loops.py's transpose_reading_rows_into).  The price is compile time: the two
workers are the largest of the package (cached afterwards; kernels/precompile.py compiles them in a helper
process; kernels/loops.py runs them on the threads through a function pointer, which keeps the parallel
driver from compiling them again).
"""

import numpy as np
from numba import njit, uint64

from . import blas
from . import loops
from .loops import (
    copy_or_zero,
    run_blas_workers,
    run_loop_workers,
    transpose_into,
    transpose_reading_rows_into,
    transpose_rows_into,
    transpose_writing_rows_into,
)

__all__ = [
    "transform_matrices",
    "f4x4_2x2_matrices",
    "applies",
    "conv2d",
    "conv_transpose2d",
    "conv2d_weight",
    "weight_gradient_pays",
    "TransformedWeightCache",
    "TRANSFORMED_WEIGHTS",
]

_ROW_MAJOR, _NO_TRANS, _TRANS = blas.ROW_MAJOR, blas.NO_TRANS, blas.TRANS


def transform_matrices(m, r, points):
    """(A^T (m, alpha), G (alpha, r), B^T (alpha, alpha)) of Winograd's F(m, r) by Toom-Cook at `points`
    (alpha - 1 finite points; the last row/column is the point at infinity), float64.

    A^T[i, j] = p_j^i and G[j, k] = p_j^k evaluate polynomials at the points; B^T is the unique matrix with
        sum_j A^T[i, j] G[j, k] B^T[j, l] = [l == i + k]     for all i < m, k < r, l < alpha,
    which is the statement that y = A^T [(G g) (.) (B^T d)] is the correlation y_i = sum_k g_k d_{i+k}."""
    alpha = m + r - 1
    if len(points) != alpha - 1:
        raise ValueError(f"F({m}, {r}) needs {alpha - 1} finite points, got {len(points)}")
    AT, G = np.zeros((m, alpha)), np.zeros((alpha, r))
    for j, p in enumerate(points):
        AT[:, j] = [p**i for i in range(m)]
        G[j, :] = [p**k for k in range(r)]
    AT[m - 1, alpha - 1] = G[alpha - 1, r - 1] = 1.0
    # One equation per (i, k, l), unknowns B^T[j, l]; the columns l are independent systems of m*r
    # equations in alpha unknowns, consistent (Toom-Cook guarantees a solution), solved by least squares.
    coeffs = np.array([[AT[i, j] * G[j, k] for j in range(alpha)] for i in range(m) for k in range(r)])
    rhs = np.array([[1.0 if l == i + k else 0.0 for l in range(alpha)] for i in range(m) for k in range(r)])
    BT = np.linalg.lstsq(coeffs, rhs, rcond=None)[0]
    if np.abs(coeffs @ BT - rhs).max() > 1e-9:
        raise ValueError(f"no Winograd F({m}, {r}) at points {points}")
    return AT, G, BT


def f4x4_2x2_matrices():
    """F(4, 2) at the points (0, 1, -1, 2, infinity), with the rows of B^T scaled to small integers and G's
    rows divided by the same factors (which leaves A^T [(G g) (.) (B^T d)] unchanged):

        A^T = [[1, 1,  1, 1, 0],      B^T = [[2, -1, -2,  1, 0],
               [0, 1, -1, 2, 0],             [0,  2,  1, -1, 0],
               [0, 1,  1, 4, 0],             [0, -2,  3, -1, 0],
               [0, 1, -1, 8, 1]]             [0, -1,  0,  1, 0],
                                             [0,  2, -1, -2, 1]]
    The input transform (the per-tile work) is then additions only; _input_rows and _output_rows spell
    these two matrices out.  Returns float64 (A^T, G, B^T)."""
    AT, G, BT = transform_matrices(4, 2, (0.0, 1.0, -1.0, 2.0))
    scale = np.array([1.0 / np.abs(row[np.abs(row) > 1e-12]).min() for row in BT])
    return AT, G / scale[:, None], np.round(BT * scale[:, None])


_M, _ALPHA = 4, 5  # F(4x4, 2x2): 4 x 4 output tiles from 5 x 5 input patches
_G = f4x4_2x2_matrices()[1]
_KRON_G = np.kron(_G, _G)  # (25, 4): G g G^T of a 2 x 2 g, as one matrix acting on g's 4 entries


def applies(kernel_size, stride, dilation):
    """Whether this module computes the layer: a square kernel twice the (square) stride, no dilation --
    DCGAN's k4 s2, and k2 s1, k6 s3 -- reduced by space-to-depth to a 2 x 2 correlation."""
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    return dh == 1 and dw == 1 and sh == sw and kh == kw == 2 * sh


@njit(cache=True)
def _input_rows(a, a0, astep, b, b0, bstep, K):
    """b[b0 + j*bstep : +K] = sum_q B^T[j, q] a[a0 + q*astep : +K], with f4x4_2x2_matrices' B^T (doublings
    as additions, so that float32 stays float32; slices, so that the loop vectorises)."""
    d0, d1, d2 = a[a0 : a0 + K], a[a0 + astep : a0 + astep + K], a[a0 + 2 * astep : a0 + 2 * astep + K]
    d3, d4 = a[a0 + 3 * astep : a0 + 3 * astep + K], a[a0 + 4 * astep : a0 + 4 * astep + K]
    b0_, b1_, b2_ = b[b0 : b0 + K], b[b0 + bstep : b0 + bstep + K], b[b0 + 2 * bstep : b0 + 2 * bstep + K]
    b3_, b4_ = b[b0 + 3 * bstep : b0 + 3 * bstep + K], b[b0 + 4 * bstep : b0 + 4 * bstep + K]
    for k in range(K):
        x0, x1, x2, x3, x4 = d0[k], d1[k], d2[k], d3[k], d4[k]
        b0_[k] = (x0 - x2) + (x0 - x2) - x1 + x3
        b1_[k] = x1 + x1 + x2 - x3
        b2_[k] = (x2 - x1) + (x2 - x1) + x2 - x3
        b3_[k] = x3 - x1
        b4_[k] = (x1 - x3) + (x1 - x3) - x2 + x4


@njit(cache=True)
def _output_rows(a, a0, astep, b, b0, bstep, K):
    """b[b0 + i*bstep : +K] = sum_q A^T[i, q] a[a0 + q*astep : +K], with f4x4_2x2_matrices' A^T."""
    m0, m1, m2 = a[a0 : a0 + K], a[a0 + astep : a0 + astep + K], a[a0 + 2 * astep : a0 + 2 * astep + K]
    m3, m4 = a[a0 + 3 * astep : a0 + 3 * astep + K], a[a0 + 4 * astep : a0 + 4 * astep + K]
    y0, y1, y2 = b[b0 : b0 + K], b[b0 + bstep : b0 + bstep + K], b[b0 + 2 * bstep : b0 + 2 * bstep + K]
    y3 = b[b0 + 3 * bstep : b0 + 3 * bstep + K]
    for k in range(K):
        plus, minus, x3 = m1[k] + m2[k], m1[k] - m2[k], m3[k]
        x3x2 = x3 + x3
        x3x4 = x3x2 + x3x2
        y0[k] = m0[k] + plus + x3
        y1[k] = minus + x3x2
        y2[k] = plus + x3x4
        y3[k] = minus + x3x4 + x3x4 + m4[k]


@njit(cache=True)
def _patch_transform(xcl, C, H, W, s_in, off_h, off_w, ti, tj, D, tmp, V, v0, e_stride):
    """V[v0 + e*e_stride : +K] = (B^T d B)[e], e < 25, for the 5 x 5 patch d of input-grid cells starting at
    (4*ti, 4*tj) (the worker lays V out (T, 25, K): v0 = t*25*K, e_stride = K), where cell
    (R, Q) is the K = s_in*s_in*C vector xcl[R*s_in + u + off_h, Q*s_in + v + off_w, c] in order (u, v, c),
    zero outside the (H, W) image; xcl is one sample channels-last.  D and tmp are (25*K) scratch."""
    m, a = _M, _ALPHA
    K = s_in * s_in * C
    for xi in range(a):  # gather the 5 x 5 patch of K-vectors
        for nu in range(a):
            for u in range(s_in):
                hh = (ti * m + xi) * s_in + u + off_h
                for v in range(s_in):
                    ww = (tj * m + nu) * s_in + v + off_w
                    inside = 0 <= hh < H and 0 <= ww < W
                    copy_or_zero(
                        inside,
                        xcl,
                        uint64((hh * W + ww) * C) if inside else uint64(0),
                        D,
                        uint64(((xi * a + nu) * s_in * s_in + u * s_in + v) * C),
                        C,
                    )
    # tmp[j, nu, :] = sum_xi B^T[j, xi] D[xi, nu, :];  V[(j, l)] = sum_nu B^T[l, nu] tmp[j, nu, :]
    for nu in range(a):
        _input_rows(D, nu * K, a * K, tmp, nu * K, a * K, K)
    for j in range(a):
        _input_rows(tmp, j * a * K, K, V, v0 + j * a * e_stride, e_stride, K)


@njit(cache=True)
def _winograd_worker(w, n_workers, gemm, ints, arrays):
    """Worker w of n_workers: y[n] for its samples n of a stride-1 2 x 2 correlation by F(4x4, 2x2); a
    BLAS worker (kernels/loops.py) with
        ints = (chunk, N, C, H, W, s_in, off_h, off_w, Hg, Wg, Oc, s_out, out_h, out_w, Ho, Wo, Kout).

    Input grid: cell (R, Q) holds the K = s_in*s_in*C vector x[c, R*s_in + u + off_h, Q*s_in + v + off_w]
    in order (u, v, c) (zero outside x).  Output grid Hg x Wg: cell (R, Q) holds Kout = s_out*s_out*Oc
    values in order (u, v, o), written to y[n, o, R*s_out + u + out_h, Q*s_out + v + out_w] where that lies
    inside (Ho, Wo).  Uf: the transformed weights U (25, K, Kout), flat.  The worker's (sample, tile) pairs, in order,
    go in chunks of `chunk` tiles (a chunk may hold several small samples or part of a large one):
        V (T, 25, K) = B^T d B of every tile's 5 x 5 patch d,   M[:, e] (T, Kout) = V[:, e] @ U_e,
        output tile (4, 4, Kout) = A^T M A, scattered into the sample's channels-last ycl, which goes to y
        once the sample's last tile is in."""
    chunk, N, C, H, W, s_in, off_h, off_w = ints[0], ints[1], ints[2], ints[3], ints[4], ints[5], ints[6], ints[7]
    Hg, Wg, Oc, s_out, out_h, out_w, Ho, Wo = (
        ints[8],
        ints[9],
        ints[10],
        ints[11],
        ints[12],
        ints[13],
        ints[14],
        ints[15],
    )
    Kout = ints[16]
    xf, Uf, yf = arrays
    m, a = _M, _ALPHA
    K = s_in * s_in * C
    th, tw = (Hg + m - 1) // m, (Wg + m - 1) // m
    tiles = th * tw
    n0, n1 = w * N // n_workers, (w + 1) * N // n_workers
    dt = xf.dtype
    item = xf.itemsize
    xcl = np.empty(H * W * C, dtype=dt)  # one sample, channels last (H, W, C)
    D = np.empty(a * a * K, dtype=dt)  # one input patch (5, 5, K)
    tmp = np.empty(a * a * max(K, Kout), dtype=dt)
    V = np.empty(chunk * a * a * K, dtype=dt)  # (T, 25, K): one tile's 25 K-vectors together
    M = np.empty(chunk * a * a * Kout, dtype=dt)  # (T, 25, Kout)
    Y = np.empty(m * m * Kout, dtype=dt)  # one output tile (4, 4, Kout)
    ycl = np.empty(Ho * Wo * Oc, dtype=dt)  # one output sample, channels last (Ho, Wo, Oc)
    zero = uint64(0)
    in_xcl = -1  # the sample now in xcl
    for g0 in range(n0 * tiles, n1 * tiles, chunk):  # g = n * tiles + (tile index in sample n)
        T = min(chunk, n1 * tiles - g0)
        for t in range(T):
            n, tile = (g0 + t) // tiles, (g0 + t) % tiles
            if n != in_xcl:  # a new sample: x[n] channels last
                transpose_reading_rows_into(xf, uint64(n * C * H * W), C, H * W, xcl, zero)
                in_xcl = n
            _patch_transform(xcl, C, H, W, s_in, off_h, off_w, tile // tw, tile % tw, D, tmp, V, t * a * a * K, K)
        for e in range(a * a):  # M[:, e] (T, Kout) = V[:, e] (T, K) @ U_e (K, Kout): rows 25 vectors apart
            gemm(
                _ROW_MAJOR,
                _NO_TRANS,
                _NO_TRANS,
                T,
                Kout,
                K,
                1.0,
                V.ctypes.data + e * K * item,
                a * a * K,
                Uf.ctypes.data + e * K * Kout * item,
                Kout,
                0.0,
                M.ctypes.data + e * Kout * item,
                a * a * Kout,
            )
        for t in range(T):
            n, tile = (g0 + t) // tiles, (g0 + t) % tiles
            ti, tj = tile // tw, tile % tw
            # tmp[i, nu, :] = sum_xi A^T[i, xi] M[t, (xi, nu), :];  Y[i, j, :] = sum_nu A^T[j, nu] tmp[i, nu, :]
            for nu in range(a):
                _output_rows(M, (t * a * a + nu) * Kout, a * Kout, tmp, nu * Kout, a * Kout, Kout)
            for i in range(m):
                _output_rows(tmp, i * a * Kout, Kout, Y, i * m * Kout, Kout, Kout)
            for i in range(m):  # scatter the tile's cells (R, Q) into ycl
                R = ti * m + i
                for j in range(m):
                    Q = tj * m + j
                    if R >= Hg or Q >= Wg:
                        continue
                    for u in range(s_out):
                        hy = R * s_out + u + out_h
                        if hy < 0 or hy >= Ho:
                            continue
                        for v in range(s_out):
                            wy = Q * s_out + v + out_w
                            if wy < 0 or wy >= Wo:
                                continue
                            src = uint64((i * m + j) * Kout + (u * s_out + v) * Oc)
                            dst = uint64((hy * Wo + wy) * Oc)
                            for o in range(Oc):
                                ycl[dst + uint64(o)] = Y[src + uint64(o)]
            if tile == tiles - 1:  # the sample is complete: ycl (Ho*Wo, Oc) -> y[n]
                transpose_writing_rows_into(ycl, zero, Ho * Wo, Oc, yf, uint64(n * Oc * Ho * Wo))


@njit(cache=True)
def _gradient_rows(a, a0, astep, b, b0, bstep, K):
    """b[b0 + j*bstep : +K] = sum_i A[j, i] a[a0 + i*astep : +K], j < 5, i < 4: the transform A g A^T of a
    4 x 4 output-gradient tile, one direction at a time (A = (A^T)^T of f4x4_2x2_matrices; doublings as
    additions, so that float32 stays float32)."""
    g0, g1 = a[a0 : a0 + K], a[a0 + astep : a0 + astep + K]
    g2, g3 = a[a0 + 2 * astep : a0 + 2 * astep + K], a[a0 + 3 * astep : a0 + 3 * astep + K]
    b0_, b1_, b2_ = b[b0 : b0 + K], b[b0 + bstep : b0 + bstep + K], b[b0 + 2 * bstep : b0 + 2 * bstep + K]
    b3_, b4_ = b[b0 + 3 * bstep : b0 + 3 * bstep + K], b[b0 + 4 * bstep : b0 + 4 * bstep + K]
    for k in range(K):
        x0, x1, x2, x3 = g0[k], g1[k], g2[k], g3[k]
        even, odd = x0 + x2, x1 + x3
        b0_[k] = x0
        b1_[k] = even + odd
        b2_[k] = even - odd
        x3x2 = x3 + x3
        x2x3 = x2 + x3x2  # x2 + 2 x3
        x1x2x3 = x1 + x2x3 + x2x3  # x1 + 2 x2 + 4 x3
        b3_[k] = x0 + x1x2x3 + x1x2x3  # x0 + 2 x1 + 4 x2 + 8 x3
        b4_[k] = x3


@njit(cache=True)
def _weight_gradient_worker(w, n_workers, gemm, ints, arrays):
    """Worker w of n_workers: its samples' share of the weight gradient, gWf[w] (O, C, 2s, 2s); a BLAS worker
    (kernels/loops.py) with
        ints = (chunk, N, C, H, W, s, off_h, off_w, Ho, Wo, O).

    The weight gradient of the s2d 2 x 2 correlation y[R, Q] = sum_{a,b} g[a, b] . S[R + a, Q + b] is
    dg[a, b] = sum_{R,Q} gy[R, Q] S[R + a, Q + b]: a 2 x 2 correlation of S with gy.  Per 4 x 4 tile of gy
    (zero beyond (Ho, Wo)) and the 5 x 5 patch d of S under it, F(4x4, 2x2)'s bilinear identity gives
        dg = G^T [ (A gy_t A^T) (.) (B^T d B) ] G,
    summed over tiles inside the brackets: Z_e = sum_t Gy_t[e] V_t[e] with V = B^T d B (as the forward's
    input transform, _patch_transform) and Gy = A gy_t A^T (_gradient_rows).  The worker's (sample, tile)
    pairs go in chunks of `chunk` tiles:
        V (T, 25, K), Gy (T, 25, O),   Z_e^T (O, K) += Gy[:, e]^T (O, T) @ V[:, e] (T, K)   (25 products),
    and at the end, one output channel o at a time, dg[a, b] = sum_e GG[e, 2a + b] Z_e^T[o] (GG = kron(G, G)),
    whose entry (u, v, c) is gW[o, c, a*s + u, b*s + v]."""
    chunk, N, C, H, W, s_in, off_h, off_w = ints[0], ints[1], ints[2], ints[3], ints[4], ints[5], ints[6], ints[7]
    Ho, Wo, O = ints[8], ints[9], ints[10]
    xf, gyf, gWf = arrays
    m, a = _M, _ALPHA
    K = s_in * s_in * C
    th, tw = (Ho + m - 1) // m, (Wo + m - 1) // m
    tiles = th * tw
    n0, n1 = w * N // n_workers, (w + 1) * N // n_workers
    dt = xf.dtype
    item = xf.itemsize
    xcl = np.empty(H * W * C, dtype=dt)  # one sample, channels last (H, W, C)
    gcl = np.empty(Ho * Wo * O, dtype=dt)  # its output gradient, channels last (Ho, Wo, O)
    D = np.empty(a * a * K, dtype=dt)  # one input patch (5, 5, K)
    Dg = np.empty(m * m * O, dtype=dt)  # one gradient tile (4, 4, O)
    tmp = np.empty(a * a * max(K, O), dtype=dt)
    V = np.empty(chunk * a * a * K, dtype=dt)  # (T, 25, K)
    Gy = np.empty(chunk * a * a * O, dtype=dt)  # (T, 25, O)
    KO = K * O
    Zf = np.empty(a * a * KO, dtype=dt)  # (25, O, K); every worker has a chunk (N >= n_workers)
    zero = uint64(0)
    beta = 0.0  # the first chunk's products overwrite Z
    in_cl = -1  # the sample now in xcl and gcl
    for g0 in range(n0 * tiles, n1 * tiles, chunk):  # g = n * tiles + (tile index in sample n)
        T = min(chunk, n1 * tiles - g0)
        for t in range(T):
            n, tile = (g0 + t) // tiles, (g0 + t) % tiles
            if n != in_cl:
                transpose_reading_rows_into(xf, uint64(n * C * H * W), C, H * W, xcl, zero)
                transpose_reading_rows_into(gyf, uint64(n * O * Ho * Wo), O, Ho * Wo, gcl, zero)
                in_cl = n
            ti, tj = tile // tw, tile % tw
            _patch_transform(xcl, C, H, W, s_in, off_h, off_w, ti, tj, D, tmp, V, t * a * a * K, K)
            for i in range(m):  # gather the 4 x 4 tile of gy's O-vectors
                R = ti * m + i
                for j in range(m):
                    Q = tj * m + j
                    inside = R < Ho and Q < Wo
                    copy_or_zero(
                        inside, gcl, uint64((R * Wo + Q) * O) if inside else zero, Dg, uint64((i * m + j) * O), O
                    )
            # tmp[j, q, :] = sum_i A[j, i] Dg[i, q, :];  Gy[t, (j, l), :] = sum_q A[l, q] tmp[j, q, :]
            for q in range(m):
                _gradient_rows(Dg, q * O, m * O, tmp, q * O, m * O, O)
            for j in range(a):
                _gradient_rows(tmp, j * m * O, O, Gy, (t * a + j) * a * O, O, O)
        for e in range(a * a):  # Z_e^T (O, K) (+)= Gy[:, e]^T (O, T) @ V[:, e] (T, K): rows 25 vectors apart
            gemm(
                _ROW_MAJOR,
                _TRANS,
                _NO_TRANS,
                O,
                K,
                T,
                1.0,
                Gy.ctypes.data + e * O * item,
                a * a * O,
                V.ctypes.data + e * K * item,
                a * a * K,
                beta,
                Zf.ctypes.data + e * KO * item,
                K,
            )
        beta = 1.0
    k = 2 * s_in
    kk = k * k
    dg = np.empty(4 * K, dtype=dt)  # one output channel's (a, b, (u, v, c)) = G^T Z G
    for o in range(O):
        dg[:] = 0
        for e in range(a * a):
            z = Zf[e * KO + o * K : e * KO + (o + 1) * K]
            for ab in range(4):
                g = dt.type(_KRON_G[e, ab])
                if g != 0:
                    out = dg[ab * K : (ab + 1) * K]
                    for i in range(K):
                        out[i] += g * z[i]
        row = (w * O + o) * C * kk  # gW[o, c, a*s + u, b*s + v] = dg[a, b, (u, v, c)]
        for ab in range(4):
            for u in range(s_in):
                for v in range(s_in):
                    tap = (ab // 2 * s_in + u) * k + ab % 2 * s_in + v
                    src = ab * K + (u * s_in + v) * C
                    for c in range(C):
                        gWf[row + c * kk + tap] = dg[src + c]


@njit(cache=True)
def _transform_weights_worker(w, n_workers, ints, reals, arrays):
    """Worker w's share (a range of input channels c) of the transformed weights U = G g G^T of every
    channel pair, g the 2 x 2 sub-kernel of the taps (a*s + u, b*s + v), a, b < 2, of the sub-pixel (u, v):

        conv2d      (W (O, C, k, k)):  U[e, (u, v, c), o] = sum_{a,b} GG[e, 2a+b] W[o, c, a*s+u, b*s+v]
        transposed  (W (C, O, k, k)):  U[e, c, (u, v, o)] = sum_{a,b} GG[e, 2a+b] W[c, o, (1-a)*s+u, (1-b)*s+v]

    GG = kron(G, G) (25, 4), e = xi*5 + nu; a loop worker (kernels/loops.py) with arrays = (W, GG, U) flat and
    ints = (s, transposed, Ci, Co).  The worker first copies its channels' taps
    tap-major, Wt (c, k*k, C_out), so that the inner loop runs over contiguous output channels."""
    s, transposed, Ci, Co = ints[0], ints[1] != 0, ints[2], ints[3]
    Wf, GGf, Uf = arrays[0], arrays[1], arrays[2]
    GG = GGf.reshape((GGf.size // 4, 4))
    k = 2 * s
    kk = k * k
    c0, c1 = w * Ci // n_workers, (w + 1) * Ci // n_workers
    Wt = np.empty(max(1, (c1 - c0) * kk * Co), dtype=Wf.dtype)
    if transposed:  # W[c] (O, k*k) -> (k*k, O), channel by channel
        for c in range(c0, c1):
            transpose_into(Wf, uint64(c * Co * kk), Co, kk, Wt, uint64((c - c0) * kk * Co))
    elif c1 > c0:  # W[:, c0:c1] (O, (c1-c0)*k*k), rows Ci*k*k apart -> transposed
        transpose_rows_into(Wf, uint64(c0 * kk), Co, (c1 - c0) * kk, Ci * kk, Wt, uint64(0))
    E = GG.shape[0]
    for e in range(E):
        for u in range(s):
            for v in range(s):
                for c in range(c0, c1):
                    if transposed:
                        d0 = ((e * Ci + c) * s * s + u * s + v) * Co
                    else:
                        d0 = ((e * s * s + u * s + v) * Ci + c) * Co
                    out = Uf[d0 : d0 + Co]
                    out[:] = 0
                    for ab in range(4):
                        g = GG[e, ab]
                        if g == 0:
                            continue
                        a_, b_ = ab // 2, ab % 2
                        if transposed:
                            a_, b_ = 1 - a_, 1 - b_
                        s0 = ((c - c0) * kk + (a_ * s + u) * k + b_ * s + v) * Co
                        tap = Wt[s0 : s0 + Co]
                        for o in range(Co):
                            out[o] += g * tap[o]


# Tiles per chunk (rows of each of the 25 products): small, so that a chunk's V and M stay in the core's
# cache between the transforms and the products, whatever the image size (a chunk may hold part of a
# sample).  16 measured fastest (bench/README.md, history 19).
_TILES_PER_CHUNK = 16


class TransformedWeightCache:
    """The transformed weights U of the last few weight arrays, each kept with a copy of the weights it was
    computed from, and reused only while the weights are bit-for-bit those (np.array_equal: ~30 us for a
    64x128x4x4 layer, against ~0.5 ms for the transform).

    Why: a training step calls a layer several times between two optimizer updates -- a GAN's
    discriminator sees the real and the fake batch, its convolutions run forward and, transposed, for the
    input gradient, and the generator step runs it again -- and each call used to transform the same
    weights anew.  Comparing contents, not identities, keeps it right when an optimizer updates the
    weights in place or a freed array's address is reused.  Entries are keyed by the weight array's
    address, shape, dtype, stride and direction; the oldest go when `capacity` entries or `max_bytes` (of
    U and the copies together) would be exceeded, and a layer whose U alone is larger is not kept.  The
    MNIST DCGAN's four Winograd layers take ~15 MB; a 512-channel layer's U is ~50 MB."""

    def __init__(self, capacity=16, max_bytes=128 << 20):
        self.capacity, self.max_bytes = capacity, max_bytes
        self._entries = {}  # key -> (copy of W, U); insertion order = age
        self._bytes = 0
        self.hits = self.misses = 0

    def get(self, W, s, transposed, n_threads):
        key = (W.ctypes.data, W.shape, W.dtype.str, s, transposed)
        entry = self._entries.get(key)
        if entry is not None and np.array_equal(entry[0], W):
            self.hits += 1
            return entry[1]
        self.misses += 1
        U = _transformed_weights(W, s, transposed, n_threads)
        self._drop(key)
        size = W.nbytes + U.nbytes
        if size <= self.max_bytes:
            while self._entries and (len(self._entries) >= self.capacity or self._bytes + size > self.max_bytes):
                self._drop(next(iter(self._entries)))
            self._entries[key] = (W.copy(), U)
            self._bytes += size
        return U

    def _drop(self, key):
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[0].nbytes + entry[1].nbytes

    def clear(self):
        self._entries.clear()
        self._bytes = 0


def _transformed_weights(W, s, transposed, n_threads):
    """U (25, K, Kout) of _transform_weights_worker for the C-contiguous weight W, on up to n_threads."""
    Ci, Co = (W.shape[0], W.shape[1]) if transposed else (W.shape[1], W.shape[0])
    shape = (_ALPHA * _ALPHA, Ci, s * s * Co) if transposed else (_ALPHA * _ALPHA, s * s * Ci, Co)
    U = np.empty(shape, dtype=W.dtype)
    Uf = U.reshape(-1)
    n_workers = n_threads if U.size >= _PARALLEL_MIN_MACS // 16 else 1
    run_loop_workers(
        _transform_weights_worker,
        n_workers,
        loops.ints(s, transposed, Ci, Co),
        loops.reals(),
        W.reshape(-1),
        _KRON_G.astype(W.dtype).reshape(-1),
        Uf,
    )
    return U


# The module's cache of transformed weights (read-only U: callers never write into it).
TRANSFORMED_WEIGHTS = TransformedWeightCache()


# Layers with fewer multiply-adds in their products run on the calling thread (as kernels/runtime.py's
# FUSED_PARALLEL_MIN: ~64K column elements of a 64-channel layer).
_PARALLEL_MIN_MACS = 1 << 22


def _run(x, U, geometry, out_shape, gemm, n_threads):
    """y (N, Oc, Ho, Wo) from x by _winograd_worker on up to n_threads workers."""
    N, C, H, W = x.shape
    s_in, off_h, off_w, Hg, Wg, Oc, s_out, out_h, out_w = geometry
    Ho, Wo = out_shape
    tiles = -(-Hg // _M) * -(-Wg // _M)
    macs = N * tiles * U.shape[0] * U.shape[1] * U.shape[2]
    n_workers = min(N, n_threads) if macs >= _PARALLEL_MIN_MACS else 1
    chunk = max(1, min(-(-N // n_workers) * tiles, _TILES_PER_CHUNK))  # tiles per chunk
    y = np.empty((N, Oc, Ho, Wo), dtype=x.dtype)
    run_blas_workers(
        _winograd_worker,
        n_workers,
        gemm,
        loops.ints(chunk, N, C, H, W, s_in, off_h, off_w, Hg, Wg, Oc, s_out, out_h, out_w, Ho, Wo, U.shape[2]),
        x.reshape(-1),
        U.reshape(-1),
        y.reshape(-1),
    )
    return y


def conv2d(x, W, stride, padding, Ho, Wo, gemm, n_threads):
    """conv2d (kernels/reference.py) of C-contiguous x (N, C, H, W) and W (O, C, 2s, 2s), stride (s, s),
    no dilation (`applies`), output (Ho, Wo): the s2d 2 x 2 correlation by F(4x4, 2x2)."""
    (s, _), (ph, pw) = stride, padding
    O = W.shape[0]
    U = TRANSFORMED_WEIGHTS.get(W, s, False, n_threads)  # (25, (u, v, c), o)
    geometry = (s, -ph, -pw, Ho, Wo, O, 1, 0, 0)
    return _run(x, U, geometry, (Ho, Wo), gemm, n_threads)


def conv_transpose2d(x, W, stride, padding, Ho, Wo, gemm, n_threads, product):
    """conv_transpose2d (kernels/reference.py) of C-contiguous x (N, C, H, W) and W (C, O, 2s, 2s), stride
    (s, s), no dilation, output size (Ho, Wo) (output_padding included): its output in s2d form is a
    stride-1 2 x 2 correlation of x with the flipped kernel (module docstring), by F(4x4, 2x2).

    A grid of 4q + 1 cells (8 -> 16 or 16 -> 32 with padding 1: 9 or 17 cells, the first and last half
    outside the image) would take q + 1 tiles per side, mostly wasted in the last; its last row and column
    of cells are instead computed by _edge_lines (one (N*W, C) @ (C, O*k) product per kernel row that reaches
    them), with `product` (the caller's 2-D matrix product): faster than running the whole grid by tiles, or as
    fast (bench/README.md, history 20)."""
    (s, _), (ph, pw) = stride, padding
    O = W.shape[1]
    U = TRANSFORMED_WEIGHTS.get(W, s, True, n_threads)  # (25, c, (u, v, o))
    # Output row Yo = R*s + u - ph, so R runs over ph // s .. (Ho - 1 + ph) // s; likewise for columns.
    # The correlation's input cell R' holds x row R' + R0 - 1 (x zero-padded by r - 1 = 1).
    R0, Q0 = ph // s, pw // s
    Hg, Wg = (Ho - 1 + ph) // s - R0 + 1, (Wo - 1 + pw) // s - Q0 + 1
    trim_h, trim_w = int(Hg % _M == 1 and Hg > 1), int(Wg % _M == 1 and Wg > 1)
    geometry = (1, R0 - 1, Q0 - 1, Hg - trim_h, Wg - trim_w, O, s, R0 * s - ph, Q0 * s - pw)
    y = _run(x, U, geometry, (Ho, Wo), gemm, n_threads)
    if trim_h:  # the output rows of the last cell row, R = R0 + Hg - 1: Yo = R*s + u - ph in [0, Ho)
        rows = [r for r in range((R0 + Hg - 1) * s - ph, (R0 + Hg) * s - ph) if 0 <= r < Ho]
        y[:, :, rows, :] = _edge_lines(x, W, rows, s, (ph, pw), Wo, product, along_rows=True)
    if trim_w:
        cols = [c for c in range((Q0 + Wg - 1) * s - pw, (Q0 + Wg) * s - pw) if 0 <= c < Wo]
        y[:, :, :, cols] = _edge_lines(x, W, cols, s, (ph, pw), Ho, product, along_rows=False)
    return y


def _edge_lines(x, W, lines, s, padding, length, product, along_rows):
    """Whole output rows (along_rows) or columns of conv_transpose2d(x, W, s, padding), stride s both ways:
    (N, O, len(lines), length) for rows, (N, O, length, len(lines)) for columns.  Output row Yo gets kernel
    row i from input row X where Yo = X*s + i - ph; each such pair is a 1-D transposed convolution along the
    row, out[n, o, X'*s + j - pw] += sum_c W[c, o, i, j] x[n, c, X, X'], as one product
    (N*W, C) @ (C, O*k) and k strided adds.  Columns: the same with the axes swapped."""
    ph, pw = padding
    if not along_rows:  # columns of y are rows of the problem with H and W swapped
        x, W, (ph, pw) = x.transpose(0, 1, 3, 2), W.transpose(0, 1, 3, 2), (pw, ph)
    N, C, H, L = x.shape
    O, k = W.shape[1], W.shape[2]
    out = np.zeros((N, O, len(lines), length), dtype=x.dtype)
    for li, Yo in enumerate(lines):
        for i in range(k):
            X, rem = divmod(Yo + ph - i, s)
            if rem or not 0 <= X < H:
                continue
            xr = np.ascontiguousarray(x[:, :, X, :].transpose(0, 2, 1)).reshape(N * L, C)
            P = product(xr, np.ascontiguousarray(W[:, :, i, :]).reshape(C, O * k)).reshape(N, L, O, k)
            for j in range(k):  # X' * s + j - pw in [0, length)
                first = max(0, -((j - pw) // s))
                last = min(L - 1, (length - 1 - j + pw) // s)
                if last >= first:
                    start = first * s + j - pw
                    out[:, :, li, start : last * s + j - pw + 1 : s] += P[:, first : last + 1, :, j].transpose(0, 2, 1)
    return out if along_rows else out.transpose(0, 1, 3, 2)


# Tiles per chunk of the weight gradient's products (their reduction dimension).
_GRADIENT_TILES_PER_CHUNK = 32

# Each worker accumulates 25 sums Z_e (O, K) across its chunks: the weight gradient pays only while they stay
# in the cache (up to 16 MiB: bench/README.md, history 21) and a worker has at least one full chunk of tiles
# to reduce over.
_GRADIENT_MAX_SUMS_BYTES = 16 << 20


def weight_gradient_pays(N, C, O, Ho, Wo, s, itemsize, n_threads):
    """Whether conv2d_weight below should serve a layer (kernel 2s, stride s; `applies`) with gy (N, O, Ho, Wo)."""
    tiles = -(-Ho // _M) * -(-Wo // _M)
    tiles_per_worker = -(-N // max(1, min(N, n_threads))) * tiles
    sums = _ALPHA * _ALPHA * s * s * C * O * itemsize
    return sums <= _GRADIENT_MAX_SUMS_BYTES and tiles_per_worker >= _GRADIENT_TILES_PER_CHUNK


def conv2d_weight(x, gy, stride, padding, gemm, n_threads):
    """conv2d_weight (kernels/reference.py) of C-contiguous x (N, C, H, W) and gy (N, O, Ho, Wo) for a kernel
    2s x 2s, stride (s, s), no dilation (`applies`): the weight gradient of the s2d 2 x 2 correlation by
    F(4x4, 2x2) (_weight_gradient_worker), summed over the workers' shares.  Returns gW (O, C, 2s, 2s)."""
    (s, _), (ph, pw) = stride, padding
    N, C, H, W = x.shape
    O, Ho, Wo = gy.shape[1:]
    K = s * s * C
    tiles = -(-Ho // _M) * -(-Wo // _M)
    macs = N * tiles * _ALPHA * _ALPHA * K * O
    n_workers = min(N, n_threads) if macs >= _PARALLEL_MIN_MACS else 1
    chunk = max(1, min(-(-N // n_workers) * tiles, _GRADIENT_TILES_PER_CHUNK))
    partial = np.empty((n_workers, O, C, 2 * s, 2 * s), dtype=x.dtype)
    run_blas_workers(
        _weight_gradient_worker,
        n_workers,
        gemm,
        loops.ints(chunk, N, C, H, W, s, -ph, -pw, Ho, Wo, O),
        x.reshape(-1),
        gy.reshape(-1),
        partial.reshape(-1),
    )
    return partial.sum(axis=0) if n_workers > 1 else partial[0]
