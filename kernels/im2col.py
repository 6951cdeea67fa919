"""im2col and col2im: the gathers and scatter-adds that turn a convolution into matrix products, as Numba
loops, and the batch transposes around them.  kernels/conv.py says which layer uses which; the fused
pipelines (kernels/fused.py) call the per-sample pieces (`im2col_cl_sample`, `col2im_cl_sample`,
`im2col_row`) from their workers.

Two layouts (all with C-contiguous arrays, NCHW in and out as everywhere in the API):

* NCHW columns, for few-channel layers: row (c, i, j) of the columns holds, for every output pixel, the input
  pixel under tap (i, j) of channel c, so the long inner loop runs along a row of pixels.  `im2col`,
  `col2im`: loop workers (kernels/loops.py), one compiled function for the serial and the parallel case.
* Channels-last columns, for many channels: row (n, h, w), column (i, j, c), so one tap of one output pixel is
  a contiguous C-vector (in NCHW it would be a strided loop as long as the output row, 7 elements on a
  DCGAN's 14 -> 7 layer, where loop overhead dominates).  The price is a transpose of each sample between
  (C, H*W) and (H*W, C), fused into the same per-sample task (a sample's plane stays in L2).  `im2col_cl`,
  `col2im_cl` and the transposes `to_onl`, `swap_last` serve the unfused path (no private BLAS): each is a
  task body and two compiled drivers, `_X_serial` (plain range) and `_X_parallel` (prange), picked per call
  by size (kernels/runtime.py's use_threads) -- two functions rather than one with an `if parallel:`,
  because a parallel=True function costs ~2 s to compile, which a workload of small layers must not pay.

The loops index flattened arrays with unsigned (uint64) offsets: with signed indices Numba adds a
negative-index wrap-around test to every access, which blocks vectorisation.  (Measurements behind these
choices: bench/README.md, history 1, 7-9.)
"""

import numpy as np
from numba import njit, prange, uint64

from . import runtime
from . import loops
from .loops import copy_or_zero, run_loop_workers, split, transpose_into

__all__ = [
    "im2col",
    "col2im",
    "im2col_cl",
    "col2im_cl",
    "im2col_row",
    "im2col_cl_sample",
    "col2im_cl_sample",
    "copy_block",
    "swap_last",
    "to_onl",
]


@njit(inline="always")
def _valid_range(n_out, start, step, size):
    """[lo, hi): the output indices o in [0, n_out) whose input index start + o*step lies in [0, size)."""
    lo = 0
    if start < 0:
        lo = (-start + step - 1) // step
    hi = n_out
    last = size - 1 - start  # need start + o*step <= size - 1
    if last < 0:
        hi = 0
    elif last // step + 1 < hi:
        hi = last // step + 1
    if lo > hi:
        lo = hi
    return lo, hi


@njit(cache=True)
def im2col_row(r, xf, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cf, rs, ns):
    """Row r = (c, i, j) of im2col's cols, all samples: row r of sample n starts at cf[r*rs + n*ns]."""
    c = r // (kh * kw)
    i = (r // kw) % kh
    j = r % kw
    h_lo, h_hi = _valid_range(Ho, i * dh - ph, sh, H)
    w_lo, w_hi = _valid_range(Wo, j * dw - pw, sw, W)
    for n in range(N):
        for h in range(Ho):
            base = uint64(r * rs + n * ns + h * Wo)
            if h < h_lo or h >= h_hi:
                for w in range(Wo):
                    cf[base + uint64(w)] = 0
            else:
                # flat index of xpad[n, c, h*sh + i*dh, w_lo*sw + j*dw] in the unpadded x
                src = uint64(((n * C + c) * H + h * sh - ph + i * dh) * W + j * dw - pw + w_lo * sw)
                for w in range(w_lo):
                    cf[base + uint64(w)] = 0
                for w in range(w_hi - w_lo):
                    cf[base + uint64(w_lo + w)] = xf[src + uint64(w * sw)]
                for w in range(w_hi, Wo):
                    cf[base + uint64(w)] = 0


@njit(cache=True)
def _im2col_worker(w, n_workers, ints, reals, arrays):
    """Worker w's share of im2col's rows (a loop worker, kernels/loops.py);
    ints = (N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, rs, ns), arrays = (x, cols) flat."""
    N, C, H, W, kh, kw, sh, sw = ints[0], ints[1], ints[2], ints[3], ints[4], ints[5], ints[6], ints[7]
    ph, pw, dh, dw, Ho, Wo, rs, ns = ints[8], ints[9], ints[10], ints[11], ints[12], ints[13], ints[14], ints[15]
    xf, cf = arrays[0], arrays[1]
    r0, r1 = split(w, n_workers, C * kh * kw)
    for r in range(r0, r1):
        im2col_row(r, xf, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cf, rs, ns)


def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols, parallel):
    """cols[(c*kh + i)*kw + j, n, h*Wo + w] = xpad[n, c, h*sh + i*dh, w*sw + j*dw],  L = Ho*Wo.

    x (N, C, H, W) C-contiguous.  cols is C-contiguous, either (C*kh*kw, N*L) (the whole batch in one
    matrix: conv2d_weight) or (N, C*kh*kw, L) (one matrix per sample: conv2d, see there); the row and
    sample strides follow from its shape.  One task per row (c, i, j), so that each task reads only
    channel c of x.
    """
    N, C, H, W = x.shape
    K, L = C * kh * kw, Ho * Wo
    rs, ns = (L, K * L) if cols.ndim == 3 else (N * L, L)
    xf, cf = x.reshape(-1), cols.reshape(-1)
    run_loop_workers(
        _im2col_worker,
        runtime.threads() if parallel else 1,
        loops.ints(N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, rs, ns),
        loops.reals(),
        xf,
        cf,
    )


@njit(cache=True)
def _col2im_plane(nc, cf, N, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, C, Ho, Wo, of, rs, ns):
    """Output plane nc = (n, c) of col2im: zero it, then add its kh*kw taps (row r of sample n of the
    columns starts at cf[r*rs + n*ns])."""
    n = nc // C
    c = nc - n * C
    plane = uint64(nc * Ho * Wo)
    for a in range(Ho * Wo):
        of[plane + uint64(a)] = 0
    for i in range(kh):
        h_lo, h_hi = _valid_range(Hi, i * dh - ph, sh, Ho)
        for j in range(kw):
            r = (c * kh + i) * kw + j
            w_lo, w_hi = _valid_range(Wi, j * dw - pw, sw, Wo)
            for h in range(h_lo, h_hi):
                dst = plane + uint64((h * sh - ph + i * dh) * Wo + w_lo * sw + j * dw - pw)
                src = uint64(r * rs + n * ns + h * Wi + w_lo)
                for w in range(w_hi - w_lo):
                    of[dst + uint64(w * sw)] += cf[src + uint64(w)]


@njit(cache=True)
def _col2im_worker(w, n_workers, ints, reals, arrays):
    """Worker w's share of col2im's output planes (a loop worker, kernels/loops.py);
    ints = (N, C, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, Ho, Wo, rs, ns), arrays = (cols, out) flat."""
    N, C, kh, kw, sh, sw, ph, pw = ints[0], ints[1], ints[2], ints[3], ints[4], ints[5], ints[6], ints[7]
    dh, dw, Hi, Wi, Ho, Wo, rs, ns = ints[8], ints[9], ints[10], ints[11], ints[12], ints[13], ints[14], ints[15]
    cf, of = arrays[0], arrays[1]
    p0, p1 = split(w, n_workers, N * C)
    for nc in range(p0, p1):
        _col2im_plane(nc, cf, N, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, C, Ho, Wo, of, rs, ns)


def col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, out, parallel):
    """out[n, c, h*sh - ph + i*dh, w*sw - pw + j*dw] += cols[(c*kh + i)*kw + j, n, h*Wi + w].

    cols C-contiguous, (C*kh*kw, N*Hi*Wi) or (N, C*kh*kw, Hi*Wi) (strides as in im2col); out (N, C, Ho, Wo)
    C-contiguous, overwritten.  (Hi, Wi) is the grid of column positions (the transposed conv's input
    size).  One task per output plane (n, c): no two tasks write the same element, so no atomics.
    """
    N, C, Ho, Wo = out.shape
    L = Hi * Wi
    rs, ns = (L, C * kh * kw * L) if cols.ndim == 3 else (N * L, L)
    cf, of = cols.reshape(-1), out.reshape(-1)
    run_loop_workers(
        _col2im_worker,
        runtime.threads() if parallel else 1,
        loops.ints(N, C, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, Ho, Wo, rs, ns),
        loops.reals(),
        cf,
        of,
    )


@njit(cache=True)
def copy_block(af, a0, of, o0, L):
    """of[o0 : o0+L] = af[a0 : a0+L]."""
    for l in range(L):
        of[o0 + uint64(l)] = af[a0 + uint64(l)]


@njit(cache=True)
def _swap_first_serial(af, P, Q, L, of):
    for q in range(Q):
        for p in range(P):
            copy_block(af, uint64((p * Q + q) * L), of, uint64((q * P + p) * L), L)


@njit(parallel=True, cache=True)
def _swap_first_parallel(af, P, Q, L, of):
    for q in prange(Q):
        for p in range(P):
            copy_block(af, uint64((p * Q + q) * L), of, uint64((q * P + p) * L), L)


def _swap_first(a, out, parallel):
    """out[q, p, l] = a[p, q, l]:  a (P, Q, L) -> out (Q, P, L), both C-contiguous: swaps the two leading
    axes, moving contiguous L-blocks.  (N, O, L) <-> (O, N, L) = (O, N*L).  One task per out[q]."""
    P, Q, L = a.shape
    loop = _swap_first_parallel if parallel else _swap_first_serial
    loop(a.reshape(-1), P, Q, L, out.reshape(-1))


def to_onl(a):
    """(N, O, L) array -> C-contiguous (O, N*L) matrix (a copy unless N == 1 or O == 1)."""
    N, O, L = a.shape
    if N == 1 or O == 1:
        return a.reshape(O, N * L)
    out = np.empty((O, N, L), dtype=a.dtype)
    _swap_first(a, out, runtime.use_threads(a.size))
    return out.reshape(O, N * L)


@njit(cache=True)
def im2col_cl_sample(n, row, xf, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cf, buf):
    """Sample n of x into sample slot `row` of channels-last columns cf: transpose x[n] to (H, W, C) in
    buf (H*W*C elements, the caller's scratch), then copy one C-vector per (output pixel, tap)."""
    HW = H * W
    K = kh * kw * C
    transpose_into(xf, uint64(n * C * HW), C, HW, buf, uint64(0))
    for h in range(Ho):
        for w in range(Wo):
            dst = uint64(((row * Ho + h) * Wo + w) * K)
            for i in range(kh):
                hh = h * sh - ph + i * dh
                for j in range(kw):
                    ww = w * sw - pw + j * dw
                    inside = 0 <= hh < H and 0 <= ww < W
                    copy_or_zero(
                        inside,
                        buf,
                        uint64((hh * W + ww) * C) if inside else uint64(0),
                        cf,
                        dst + uint64((i * kw + j) * C),
                        C,
                    )


@njit(cache=True)
def _im2col_cl_serial(xf, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cf):
    buf = np.empty(H * W * C, dtype=xf.dtype)
    for n in range(N):
        im2col_cl_sample(n, n, xf, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cf, buf)


@njit(parallel=True, cache=True)
def _im2col_cl_parallel(xf, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cf):
    for n in prange(N):
        buf = np.empty(H * W * C, dtype=xf.dtype)
        im2col_cl_sample(n, n, xf, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cf, buf)


def im2col_cl(x, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols, parallel):
    """cols[n*L + h*Wo + w, (i*kw + j)*C + c] = xpad[n, c, h*sh + i*dh, w*sw + j*dw],  L = Ho*Wo.

    x (N, C, H, W) C-contiguous (NCHW, as everywhere in the API); cols (N*L, kh*kw*C) C-contiguous.
    One task per sample.
    """
    N, C, H, W = x.shape
    loop = _im2col_cl_parallel if parallel else _im2col_cl_serial
    loop(x.reshape(-1), N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols.reshape(-1))


@njit(cache=True)
def col2im_cl_sample(row, n, cf, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, O, Ho, Wo, of, buf):
    """Sample slot `row` of channels-last columns cf into out[n]: scatter-add whole O-vectors into buf
    (the caller's Ho*Wo*O scratch, zeroed here; it stays in L2), then transpose buf into out[n]."""
    K = kh * kw * O
    P = Ho * Wo
    buf[:] = 0
    for h in range(Hi):
        for i in range(kh):
            y = h * sh - ph + i * dh
            if y < 0 or y >= Ho:
                continue
            for w in range(Wi):
                src = uint64(((row * Hi + h) * Wi + w) * K + i * kw * O)
                for j in range(kw):
                    x = w * sw - pw + j * dw
                    if x < 0 or x >= Wo:
                        continue
                    d = uint64((y * Wo + x) * O)
                    s = src + uint64(j * O)
                    for o in range(O):
                        buf[d + uint64(o)] += cf[s + uint64(o)]
    transpose_into(buf, uint64(0), P, O, of, uint64(n * O * P))


@njit(cache=True)
def _col2im_cl_serial(cf, N, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, O, Ho, Wo, of):
    buf = np.empty(Ho * Wo * O, dtype=of.dtype)
    for n in range(N):
        col2im_cl_sample(n, n, cf, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, O, Ho, Wo, of, buf)


@njit(parallel=True, cache=True)
def _col2im_cl_parallel(cf, N, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, O, Ho, Wo, of):
    for n in prange(N):
        buf = np.empty(Ho * Wo * O, dtype=of.dtype)
        col2im_cl_sample(n, n, cf, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, O, Ho, Wo, of, buf)


def col2im_cl(cols, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, out, parallel):
    """out[n, o, h*sh - ph + i*dh, w*sw - pw + j*dw] += cols[n*Hi*Wi + h*Wi + w, (i*kw + j)*O + o].

    cols (N*Hi*Wi, kh*kw*O) C-contiguous; out (N, O, Ho, Wo) C-contiguous, overwritten.  One task per
    sample: no two tasks write the same element.
    """
    N, O, Ho, Wo = out.shape
    loop = _col2im_cl_parallel if parallel else _col2im_cl_serial
    loop(cols.reshape(-1), N, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, O, Ho, Wo, out.reshape(-1))


@njit(cache=True)
def _swap_last_block(t, af, R, S, nrb, of):
    """Task t = (b, block of 8 rows) of _swap_last_into."""
    b = t // nrb
    r0 = (t - b * nrb) * 8
    r1 = min(R, r0 + 8)
    base = uint64(b * R * S)
    for s in range(S):
        d = base + uint64(s * R)
        src = base + uint64(s)
        for r in range(r0, r1):
            of[d + uint64(r)] = af[src + uint64(r * S)]


@njit(cache=True)
def _swap_last_serial(af, R, S, nrb, of, n_tasks):
    for t in range(n_tasks):
        _swap_last_block(t, af, R, S, nrb, of)


@njit(parallel=True, cache=True)
def _swap_last_parallel(af, R, S, nrb, of, n_tasks):
    for t in prange(n_tasks):
        _swap_last_block(np.int64(t), af, R, S, nrb, of)


def _swap_last_into(a, out, parallel):
    """out[b, s, r] = a[b, r, s]:  a (B, R, S) -> out (B, S, R), both C-contiguous.  One task per
    (b, block of 8 rows): each pass over s reads 8 streams and writes 8 contiguous elements."""
    B, R, S = a.shape
    nrb = (R + 7) // 8
    loop = _swap_last_parallel if parallel else _swap_last_serial
    loop(a.reshape(-1), R, S, nrb, out.reshape(-1), B * nrb)


def swap_last(a):
    """(B, R, S) array -> C-contiguous (B, S, R) copy."""
    B, R, S = a.shape
    out = np.empty((B, S, R), dtype=a.dtype)
    _swap_last_into(a, out, runtime.use_threads(a.size))
    return out
