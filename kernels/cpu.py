"""Fast CPU kernels: convolutions as Numba im2col/col2im loops (njit(parallel=True)) around BLAS products,
minigan's matrix product, and one-pass Numba versions of the hottest elementwise primitives (leaky ReLU,
batch norm with its affine step, Adam, per-channel add/multiply/sum; at the end of this file).

Same functions, signatures, math and shapes as kernels/reference.py (read that first: it is the spec).  What differs is the data layout, chosen so that the work is BLAS matrix products plus Numba loops
with long contiguous inner loops.  There are two layouts, picked per call by channel count
(_CHANNELS_LAST_MIN; all measurements in bench/README.md):

Many channels (the C of conv2d / conv2d_weight's input, the O of conv_transpose2d's output >= 16):
channels-last columns, one batched product.  K' = kh*kw*C, L = Ho*Wo, "cols" is (N*L, K'): row (n,h,w),
column (i,j,c), so one tap of one pixel is a contiguous C-vector (a strided 7-element loop in NCHW).

    conv2d:            cols = im2col_cl(x)       y_t  = cols @ W_(O,K').T          (N*L, O) -> y (N, O, L)
    conv2d_weight:     cols = im2col_cl(x)       gW   = gy_t(N*L, O).T @ cols       (O, K') -> (O, C, kh, kw)
    conv_transpose2d:  x_t (N*H*W, C)            cols = x_t @ W_(C, kh*kw*O)        -> y = col2im_cl(cols)

im2col_cl and col2im_cl transpose each sample between (C, H*W) and (H*W, C) inside their per-sample
task (in cache); the other transposes ((N, L, O) <-> (N, O, L)) are separate Numba loops.

Few channels (1- and 3-channel layers): NCHW columns, where the long inner loop is a row of pixels.
K = C*kh*kw.  conv2d and conv_transpose2d use one small product per sample (np.matmul on a stack),
which reads and writes the (N, C, L) layouts directly; conv2d_weight one product for the batch:

    conv2d:            cols (N, K, L) = im2col(x)                  y[n] = W_(O,K) @ cols[n]
    conv2d_weight:     per worker: sum over its n of gy[n] (O, L) @ cols_n(K, L).T   (unfused: one product
                       gy_(O, N*L) @ im2col(x)(K, N*L).T after a copy of gy)
    conv_transpose2d:  cols[n] = W_(C, O*kh*kw).T @ x[n]           y    = col2im(cols)

col2im is a Numba loop with one task per output plane (n, c) (col2im_cl: per sample), so the
scatter-add has no write conflicts (np.add.at on a multi-dimensional index is ~10x slower).

The im2col / col2im / transpose loops run serially or in parallel by size (_use_threads): on this VM
starting and joining a parallel region of the workqueue layer costs 70-100 us, more than small jobs take
serially.  The fused pipelines and the products are workers run by kernels/loops.py's run_workers.

Winograd (kernels/winograd.py): conv2d and conv_transpose2d layers whose kernel is twice the stride (the
4x4 stride-2 layers of a DCGAN) with >= 32 channels on both sides are computed by F(4x4, 2x2) after
space-to-depth -- 2-2.6x fewer multiply-adds than the im2col product, which alone took as long as
PyTorch's whole convolution on the large layers (_winograd_pays: large layers only), and so is their weight
gradient while its per-thread sums fit in the cache (winograd.weight_gradient_pays).

Fused pipelines (the default when kernels/blas.py's private OpenBLAS loads): the channels-last layers run
as one pipeline per Numba worker thread -- its slice of the batch, in chunks whose columns stay in cache,
im2col -> one single-threaded product on the private BLAS -> transpose/col2im -- and the few-channel
layers and minigan's matmul primitive (`matmul` below) also call the private BLAS from Numba threads.  So a
training step uses exactly one thread pool, Numba's.

Threading set-up (the library does this itself; users should not have to):
  Two thread pools that spin-wait after each call fight over this machine's 2 cores: with NumPy's
  OpenBLAS (2 threads) next to Numba's `omp` layer one DCGAN-size conv took 16-24 ms instead of 3-14 ms,
  and a fused conv right after a NumPy product 12 ms instead of 6.7 ms.  With the fused pipelines
  nothing else runs, so the module picks Numba's spinning `omp` layer (a parallel region starts in ~3 us;
  `workqueue`, which parks its threads, takes 70-130 us, which is more than a small product takes), and
  `workqueue` if libgomp cannot be loaded.  Without the private BLAS (MINIGAN_PRIVATE_BLAS=0 or the wheel
  missing) the products run on NumPy's spinning pool, so the module picks `workqueue`, which is immune.
  A user's $NUMBA_THREADING_LAYER always wins.  A forked child runs every kernel serially (_FORKED).  Caveat: another spinning OpenMP pool in the same process
  (PyTorch's, for one) still competes; bench/bench_training_steps.py therefore times PyTorch in a
  separate process.  Measurements in bench/README.md.

Memory set-up (also the library's job): importing this module tunes glibc's malloc (kernels/allocator.py)
so that a step's freed activations are reused by the next step rather than unmapped and faulted in again
(~5 400 page faults and ~10% of a DCGAN step before).  MINIGAN_MALLOC_TUNING=0 leaves glibc alone.

Compiled kernels are cached on disk (cache=True; $NUMBA_CACHE_DIR relocates the cache), so the JIT cost
is paid once per machine (bench/bench_conv.py reports cold and warm start times), and on a cold cache
kernels/precompile.py compiles the float32 workers in a helper process beside this one.  To keep that cost down
the parallel work is written as workers, worker(w, n_workers, ...), that kernels/loops.py's run_workers
starts on the Numba threads through a function pointer (a parfor that calls a worker by name compiles it
twice more); the workers share two argument lists, so that the one parallel driver compiles twice per
dtype, not once per worker; and the elementwise and per-channel kernels are one worker each, switched by
an `op` code.
"""
import os

import numba
import numpy as np
from numba import njit, prange, uint64

from . import allocator
from . import blas
from . import precompile
from . import reference
from . import winograd
from .loops import copy_or_zero, ints as _ints, reals as _reals, run_workers as _run_workers, split as _split
from .loops import transpose_into as _transpose_into
from .reference import conv_output_size, conv_transpose_output_size, _pair

__all__ = ["conv2d", "conv_transpose2d", "conv2d_weight", "matmul", "leaky_relu", "leaky_relu_backward", "add", "multiply", "channel_sum",
           "batch_norm_forward", "batch_norm_backward", "batch_norm_affine_backward", "adam_update", "threading_layer", "winograd_info"]

_ROW_MAJOR, _NO_TRANS, _TRANS = blas.ROW_MAJOR, blas.NO_TRANS, blas.TRANS

# Whether the channels-last layers use the fused per-thread pipelines (needs kernels/blas.py's private
# BLAS).  Tests switch it off to check the unfused path too.
_FUSED = blas.available()

# Choose the threading layer before Numba launches its first parallel region (see module docstring).
# Both the config attribute and the environment variable are set: Numba re-reads NUMBA_* variables when
# any of them changes, which would otherwise reset the attribute.
#
# With the private BLAS (kernels/blas.py) every product and every loop of a training step runs on Numba's
# threads, so nothing competes with them and the spinning `omp` layer is the fast one: a parallel region
# starts in microseconds (workqueue: 70-100 us), which decides the speed of products under ~40M
# multiply-adds.  `workqueue` is the fallback when libgomp cannot be loaded.  Without the private BLAS
# the products run on NumPy's spinning OpenBLAS pool and only the non-spinning `workqueue` is safe.
if "NUMBA_THREADING_LAYER" not in os.environ:
    if blas.available():
        os.environ["NUMBA_THREADING_LAYER_PRIORITY"] = "omp workqueue tbb"    # must name all three
        os.environ["NUMBA_THREADING_LAYER"] = "default"
        numba.config.THREADING_LAYER_PRIORITY = ["omp", "workqueue", "tbb"]
        numba.config.THREADING_LAYER = "default"
    else:
        os.environ["NUMBA_THREADING_LAYER"] = "workqueue"
        numba.config.THREADING_LAYER = "workqueue"


# glibc's malloc keeps a step's freed arrays for the next step instead of unmapping them (kernels/allocator.py:
# ~5 400 page faults per DCGAN step otherwise, ~10% of its time).
allocator.tune()


def threading_layer():
    """Numba's threading layer in use (or the one requested, before the first parallel call)."""
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel region has run yet
        return f"{numba.config.THREADING_LAYER} (requested)"


# ---------------------------------------------------------------- Numba loops (memory-bound)
#
# The few-channel layers' im2col and col2im (used by the fused path too) are loop workers, worker(w,
# n_workers, ...), run by kernels/loops.py's run_workers: one compiled function for the serial and the
# parallel case (n_workers = 1 runs it on the calling thread), with the shared parallel driver calling it
# through a pointer.  The channels-last loops and transposes below serve only the unfused path (no private
# BLAS); each is split into a task body (an @njit function doing one independent piece of the work) and
# two compiled drivers, `_X_serial` with a plain range and `_X_parallel` with prange, which a Python
# function `_X` picks by its last argument.  Serial for small jobs: a parallel region of Numba's
# workqueue layer costs 70-100 us to wake its threads and collect them on this 2-vCPU VM (measured: a
# 2-element prange kernel, 67-100 us per call, against 0.2 us serial); see _use_threads.  Two compiled
# functions rather than one with an `if parallel:` inside, because a parallel=True function costs ~2 s to
# compile (the parfor passes), which a workload of small layers must not pay.

@njit(inline="always")
def _valid_range(n_out, start, step, size):
    """[lo, hi): the output indices o in [0, n_out) whose input index start + o*step lies in [0, size)."""
    lo = 0
    if start < 0:
        lo = (-start + step - 1) // step
    hi = n_out
    last = size - 1 - start          # need start + o*step <= size - 1
    if last < 0:
        hi = 0
    elif last // step + 1 < hi:
        hi = last // step + 1
    if lo > hi:
        lo = hi
    return lo, hi


# The loops below index flattened arrays with unsigned (uint64) offsets.  With signed indices Numba adds a
# negative-index wrap-around test to every access, which blocks vectorisation: the uint64 version of
# _im2col measured 3.3 ms against 5-8 ms for the 4-D-indexed one (64x64x14x14 input, k4 s2 p1).

@njit(cache=True)
def _im2col_row(r, xf, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cf, rs, ns):
    """Row r = (c, i, j) of _im2col's cols, all samples: row r of sample n starts at cf[r*rs + n*ns]."""
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
def _im2col_worker(w, n_workers, ints, reals, xf, cf, unused_c, unused_d, unused_e, unused_f):
    """Worker w's share of _im2col's rows (a loop worker, kernels/loops.py);
    ints = (N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, rs, ns)."""
    N, C, H, W, kh, kw, sh, sw = ints[0], ints[1], ints[2], ints[3], ints[4], ints[5], ints[6], ints[7]
    ph, pw, dh, dw, Ho, Wo, rs, ns = ints[8], ints[9], ints[10], ints[11], ints[12], ints[13], ints[14], ints[15]
    r0, r1 = _split(w, n_workers, C * kh * kw)
    for r in range(r0, r1):
        _im2col_row(r, xf, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cf, rs, ns)


def _im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols, parallel):
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
    _run_workers(_im2col_worker, _threads() if parallel else 1,
                 (_ints(N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, rs, ns), _reals(), xf, cf, xf, xf, xf, xf))


@njit(cache=True)
def _col2im_plane(nc, cf, N, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, C, Ho, Wo, of, rs, ns):
    """Output plane nc = (n, c) of _col2im: zero it, then add its kh*kw taps (row r of sample n of the
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
def _col2im_worker(w, n_workers, ints, reals, cf, of, unused_c, unused_d, unused_e, unused_f):
    """Worker w's share of _col2im's output planes (a loop worker, kernels/loops.py);
    ints = (N, C, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, Ho, Wo, rs, ns)."""
    N, C, kh, kw, sh, sw, ph, pw = ints[0], ints[1], ints[2], ints[3], ints[4], ints[5], ints[6], ints[7]
    dh, dw, Hi, Wi, Ho, Wo, rs, ns = ints[8], ints[9], ints[10], ints[11], ints[12], ints[13], ints[14], ints[15]
    p0, p1 = _split(w, n_workers, N * C)
    for nc in range(p0, p1):
        _col2im_plane(nc, cf, N, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, C, Ho, Wo, of, rs, ns)


def _col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, out, parallel):
    """out[n, c, h*sh - ph + i*dh, w*sw - pw + j*dw] += cols[(c*kh + i)*kw + j, n, h*Wi + w].

    cols C-contiguous, (C*kh*kw, N*Hi*Wi) or (N, C*kh*kw, Hi*Wi) (strides as in _im2col); out (N, C, Ho, Wo)
    C-contiguous, overwritten.  (Hi, Wi) is the grid of column positions (the transposed conv's input
    size).  One task per output plane (n, c): no two tasks write the same element, so no atomics.
    """
    N, C, Ho, Wo = out.shape
    L = Hi * Wi
    rs, ns = (L, C * kh * kw * L) if cols.ndim == 3 else (N * L, L)
    cf, of = cols.reshape(-1), out.reshape(-1)
    _run_workers(_col2im_worker, _threads() if parallel else 1,
                 (_ints(N, C, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, Ho, Wo, rs, ns), _reals(), cf, of, cf, cf, cf, cf))


@njit(cache=True)
def _copy_block(af, a0, of, o0, L):
    """of[o0 : o0+L] = af[a0 : a0+L]."""
    for l in range(L):
        of[o0 + uint64(l)] = af[a0 + uint64(l)]


@njit(cache=True)
def _swap_first_serial(af, P, Q, L, of):
    for q in range(Q):
        for p in range(P):
            _copy_block(af, uint64((p * Q + q) * L), of, uint64((q * P + p) * L), L)


@njit(parallel=True, cache=True)
def _swap_first_parallel(af, P, Q, L, of):
    for q in prange(Q):
        for p in range(P):
            _copy_block(af, uint64((p * Q + q) * L), of, uint64((q * P + p) * L), L)


def _swap_first(a, out, parallel):
    """out[q, p, l] = a[p, q, l]:  a (P, Q, L) -> out (Q, P, L), both C-contiguous: swaps the two leading
    axes, moving contiguous L-blocks.  (N, O, L) <-> (O, N, L) = (O, N*L).  One task per out[q]."""
    P, Q, L = a.shape
    loop = _swap_first_parallel if parallel else _swap_first_serial
    loop(a.reshape(-1), P, Q, L, out.reshape(-1))


def _to_onl(a):
    """(N, O, L) array -> C-contiguous (O, N*L) matrix (a copy unless N == 1 or O == 1)."""
    N, O, L = a.shape
    if N == 1 or O == 1:
        return a.reshape(O, N * L)
    out = np.empty((O, N, L), dtype=a.dtype)
    _swap_first(a, out, _use_threads(a.size))
    return out.reshape(O, N * L)


def _prepare(a, dtype):
    """C-contiguous array of `dtype` (copies only when needed)."""
    return np.ascontiguousarray(a, dtype=dtype)


# ---------------------------------------------------------------- channels-last kernels (many channels)
#
# For layers with many channels the NCHW loops above are limited by loop overhead, not memory: with
# k4 s2 on a 14x14 image their innermost loop is Wo = 7 strided elements long (measured: _im2col of a
# 64x64x14x14 batch 3.0 ms, _col2im back 2.5-2.8 ms, i.e. ~1 ns per element, while a 12.8 MB fill takes
# 0.2 ms).  In channels-last order (N, H, W, C) one tap of one output pixel is C CONTIGUOUS elements, so
# the innermost loop is a C-long vectorised copy or add: 0.5 ms and ~1 ms for the same two jobs.  The
# price is a transpose of each sample between (C, H*W) and (H*W, C), which we fuse into the same
# per-sample task (the sample's plane is 50-250 kB: it stays in L2), and reordering W, which is small.
#
#     K' = kh*kw*C,  "cols_cl" is (N*L, K'): row (n,h,w), column (i,j,c) -- im2col's matrix transposed

@njit(cache=True)
def _im2col_cl_sample(n, row, xf, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cf, buf):
    """Sample n of x into sample slot `row` of channels-last columns cf: transpose x[n] to (H, W, C) in
    buf (H*W*C elements, the caller's scratch), then copy one C-vector per (output pixel, tap)."""
    HW = H * W
    K = kh * kw * C
    _transpose_into(xf, uint64(n * C * HW), C, HW, buf, uint64(0))
    for h in range(Ho):
        for w in range(Wo):
            dst = uint64(((row * Ho + h) * Wo + w) * K)
            for i in range(kh):
                hh = h * sh - ph + i * dh
                for j in range(kw):
                    ww = w * sw - pw + j * dw
                    inside = 0 <= hh < H and 0 <= ww < W
                    copy_or_zero(inside, buf, uint64((hh * W + ww) * C) if inside else uint64(0),
                                 cf, dst + uint64((i * kw + j) * C), C)


@njit(cache=True)
def _im2col_cl_serial(xf, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cf):
    buf = np.empty(H * W * C, dtype=xf.dtype)
    for n in range(N):
        _im2col_cl_sample(n, n, xf, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cf, buf)


@njit(parallel=True, cache=True)
def _im2col_cl_parallel(xf, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cf):
    for n in prange(N):
        buf = np.empty(H * W * C, dtype=xf.dtype)
        _im2col_cl_sample(n, n, xf, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cf, buf)


def _im2col_cl(x, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols, parallel):
    """cols[n*L + h*Wo + w, (i*kw + j)*C + c] = xpad[n, c, h*sh + i*dh, w*sw + j*dw],  L = Ho*Wo.

    x (N, C, H, W) C-contiguous (NCHW, as everywhere in the API); cols (N*L, kh*kw*C) C-contiguous.
    One task per sample.
    """
    N, C, H, W = x.shape
    loop = _im2col_cl_parallel if parallel else _im2col_cl_serial
    loop(x.reshape(-1), N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols.reshape(-1))


@njit(cache=True)
def _col2im_cl_sample(row, n, cf, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, O, Ho, Wo, of, buf):
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
    _transpose_into(buf, uint64(0), P, O, of, uint64(n * O * P))


@njit(cache=True)
def _col2im_cl_serial(cf, N, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, O, Ho, Wo, of):
    buf = np.empty(Ho * Wo * O, dtype=of.dtype)
    for n in range(N):
        _col2im_cl_sample(n, n, cf, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, O, Ho, Wo, of, buf)


@njit(parallel=True, cache=True)
def _col2im_cl_parallel(cf, N, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, O, Ho, Wo, of):
    for n in prange(N):
        buf = np.empty(Ho * Wo * O, dtype=of.dtype)
        _col2im_cl_sample(n, n, cf, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, O, Ho, Wo, of, buf)


def _col2im_cl(cols, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, out, parallel):
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


def _swap_last(a):
    """(B, R, S) array -> C-contiguous (B, S, R) copy."""
    B, R, S = a.shape
    out = np.empty((B, S, R), dtype=a.dtype)
    _swap_last_into(a, out, _use_threads(a.size))
    return out


# ---------------------------------------------------------------- fused pipelines (kernels/blas.py)
#
# The channels-last layers above, done as one pipeline per worker thread: worker w takes samples
# [w*N/n_workers, (w+1)*N/n_workers) and walks them in chunks of `chunk` samples, each chunk going
# through im2col -> one single-threaded BLAS product -> scatter/transpose while its columns are still in
# the core's cache.  The products come from kernels/blas.py's private OpenBLAS (1 thread per caller), so
# no BLAS thread pool spins next to Numba's (the reason is in kernels/blas.py).  Buffers are allocated
# once per worker and call.  `gemm` is a ctypes CBLAS function passed as an argument (sgemm or dgemm:
# Numba compiles one version per dtype and can cache it).
#
# They are BLAS workers (kernels/loops.py): worker(w, n_workers, gemm, ints, a, b, c), and the four conv
# workers read the same geometry from `ints` (_conv_ints below):
#     (chunk, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O)
# with (H, W) the input size, (Ho, Wo) the output size, C / O the input / output channels, `chunk` the
# samples per chunk.

def _conv_ints(chunk, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O):
    return _ints(chunk, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O)


@njit(cache=True)
def _conv_geometry(ints):
    """The tuple _conv_ints packed."""
    return (ints[0], ints[1], ints[2], ints[3], ints[4], ints[5], ints[6], ints[7], ints[8], ints[9], ints[10],
            ints[11], ints[12], ints[13], ints[14], ints[15])


@njit(cache=True)
def _conv2d_cl_worker(w, n_workers, gemm, ints, xf, Wcl, yf):
    """y[n] = (cols_n @ Wcl.T).T for this worker's samples; Wcl (O, K') C-contiguous, yf = y (N, O, L)."""
    chunk, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O = _conv_geometry(ints)
    n0, n1 = w * N // n_workers, (w + 1) * N // n_workers
    L, K = Ho * Wo, kh * kw * C
    cols = np.empty(chunk * L * K, dtype=xf.dtype)
    y_t = np.empty(chunk * L * O, dtype=xf.dtype)
    buf = np.empty(H * W * C, dtype=xf.dtype)
    for c0 in range(n0, n1, chunk):
        nb = min(chunk, n1 - c0)
        for r in range(nb):
            _im2col_cl_sample(c0 + r, r, xf, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols, buf)
        # y_t (nb*L, O) = cols (nb*L, K') @ Wcl.T
        gemm(_ROW_MAJOR, _NO_TRANS, _TRANS, nb * L, O, K, 1.0, cols.ctypes.data, K, Wcl.ctypes.data, K,
             0.0, y_t.ctypes.data, O)
        for r in range(nb):
            _transpose_into(y_t, uint64(r * L * O), L, O, yf, uint64((c0 + r) * O * L))


@njit(cache=True)
def _conv_transpose2d_cl_worker(w, n_workers, gemm, ints, xf, Wcl, yf):
    """y[n] = col2im_cl(x[n].T @ Wcl) for this worker's samples; Wcl (C, K' = kh*kw*O), yf = y (N, O, Ho, Wo)."""
    chunk, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O = _conv_geometry(ints)
    n0, n1 = w * N // n_workers, (w + 1) * N // n_workers
    HW, K = H * W, kh * kw * O
    x_t = np.empty(chunk * HW * C, dtype=xf.dtype)
    cols = np.empty(chunk * HW * K, dtype=xf.dtype)
    buf = np.empty(Ho * Wo * O, dtype=xf.dtype)
    for c0 in range(n0, n1, chunk):
        nb = min(chunk, n1 - c0)
        for r in range(nb):
            _transpose_into(xf, uint64((c0 + r) * C * HW), C, HW, x_t, uint64(r * HW * C))
        # cols (nb*H*W, K') = x_t (nb*H*W, C) @ Wcl (C, K')
        gemm(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, nb * HW, K, C, 1.0, x_t.ctypes.data, C, Wcl.ctypes.data, K,
             0.0, cols.ctypes.data, K)
        for r in range(nb):
            _col2im_cl_sample(r, c0 + r, cols, kh, kw, sh, sw, ph, pw, dh, dw, H, W, O, Ho, Wo, yf, buf)


@njit(cache=True)
def _conv2d_weight_cl_worker(w, n_workers, gemm, ints, xf, gyf, partial):
    """partial[w*O*K' : (w+1)*O*K'] = sum over this worker's samples n of gy[n] (O, L) @ cols_n (L, K'),
    partial a flat (n_workers*O*K',) array."""
    chunk, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O = _conv_geometry(ints)
    n0, n1 = w * N // n_workers, (w + 1) * N // n_workers
    L, K = Ho * Wo, kh * kw * C
    mine = partial[w * O * K:(w + 1) * O * K]        # this worker's (O, K') partial sum
    if n1 == n0:
        mine[:] = 0
        return
    cols = np.empty(chunk * L * K, dtype=xf.dtype)
    g = np.empty(O * chunk * L, dtype=xf.dtype)
    buf = np.empty(H * W * C, dtype=xf.dtype)
    beta = 0.0
    for c0 in range(n0, n1, chunk):
        nb = min(chunk, n1 - c0)
        for r in range(nb):
            _im2col_cl_sample(c0 + r, r, xf, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols, buf)
        # g (O, nb*L): g[o, r*L + l] = gy[c0 + r, o, l]  (contiguous L-blocks; no transpose needed)
        for o in range(O):
            for r in range(nb):
                _copy_block(gyf, uint64(((c0 + r) * O + o) * L), g, uint64((o * nb + r) * L), L)
        # partial[w] (O, K') (+)= g (O, nb*L) @ cols (nb*L, K')
        gemm(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, O, K, nb * L, 1.0, g.ctypes.data, nb * L, cols.ctypes.data, K,
             beta, mine.ctypes.data, K)
        beta = 1.0


# The workers run on the Numba threads through kernels/loops.py's run_workers (one prange over the
# workers, which receives each worker as a function pointer: compiled once, not linked into the parfor).


@njit(cache=True)
def _conv2d_weight_nchw_worker(w, n_workers, gemm, ints, xf, gyf, partial):
    """Few-channel conv2d_weight, worker w: partial[w] (O, K) = sum over its samples n of
    gy[n] (O, L) @ cols_n (K, L).T, with K = C*kh*kw and cols_n the NCHW columns of sample n alone (built
    here, in cache).  gy is read in place: no (O, N*L) copy of it.  (`chunk` unused.)"""
    chunk, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O = _conv_geometry(ints)
    n0, n1 = w * N // n_workers, (w + 1) * N // n_workers
    K, L = C * kh * kw, Ho * Wo
    mine = partial[w * O * K:(w + 1) * O * K]
    if n1 == n0:
        mine[:] = 0
        return
    cols = np.empty(K * L, dtype=xf.dtype)
    sample, item = C * H * W, xf.itemsize
    one_sample = np.int64(1)      # typed int64 as in _im2col's calls (a literal 1 compiled _im2col_row again)
    beta = 0.0
    for n in range(n0, n1):
        x_n = xf[n * sample:(n + 1) * sample]
        for r in range(K):
            _im2col_row(r, x_n, one_sample, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols, L, K * L)
        gemm(_ROW_MAJOR, _NO_TRANS, _TRANS, O, K, L, 1.0, gyf.ctypes.data + n * O * L * item, L, cols.ctypes.data, L,
             beta, mine.ctypes.data, K)
        beta = 1.0


# Chunk size of the fused pipelines: about this many bytes of columns per chunk (at least one sample).
# Small enough that a chunk's columns stay in a core's L2 between im2col and the product, large enough
# that the product is efficient; see bench/README.md.
_FUSED_CHUNK_BYTES = 1 << 20


# Fused pipelines of at least this many column elements run on all threads.  Lower than _PARALLEL_MIN:
# a fused call is mostly a product, which two threads halve, and its parallel driver is compiled anyway.
# (Source 000's WGAN-GP step, batch 8: ~1 300 of its ~1 600 conv calls per 3 steps were under 1M.)
_FUSED_PARALLEL_MIN = 1 << 16


def _fused_plan(N, bytes_per_sample, n_elements):
    """(n_workers, chunk) for a fused pipeline over N samples: one worker per Numba thread for big jobs
    (one worker on the calling thread below _FUSED_PARALLEL_MIN elements), chunks of ~_FUSED_CHUNK_BYTES."""
    n_workers = min(N, _threads()) if n_elements >= _FUSED_PARALLEL_MIN else 1
    per_worker = -(-N // n_workers)
    chunk = max(1, min(per_worker, _FUSED_CHUNK_BYTES // max(1, bytes_per_sample)))
    return n_workers, chunk


def _fused_gemm(dtype, *dims):
    """The private BLAS's gemm for this dtype when the fused path applies, else None."""
    if not _FUSED or not blas.fits_int32(*dims):
        return None
    return blas.gemm_for(np.dtype(dtype))


# ---------------------------------------------------------------- matrix product on the private BLAS
#
# minigan's matmul primitive (NumPy backend) comes here too, not to NumPy's BLAS: one product on NumPy's
# 2-thread OpenBLAS leaves its worker spinning for ~0.1 s, and a fused conv that follows (a linear layer
# feeding a transposed conv, as in every DCGAN generator) ran 2x slower for it (6.7 -> 12 ms, measured).
# Large products are split in row or column blocks over the Numba threads; small ones run on the calling
# thread (a parallel region costs 70-100 us here).

@njit(cache=True)
def _gemm_worker(w, n_workers, gemm, ints, a_array, b_array, c_array):
    """Worker w's share of C[i] (M, N) = op(A[i]) @ op(B[i]), i < batch, where A[i] starts i*stride_a
    elements into a_array's memory (stride 0: one A for all), likewise B and C; a BLAS worker
    (kernels/loops.py) with ints = (batch, trans_a, trans_b, M, N, K, lda, stride_a, ldb, stride_b, ldc,
    stride_c).  A batch is split by items; a single product (batch 1) in blocks of rows of C when M >= N,
    else of columns.  (One worker for both cases: one compiled function fewer on first use.)"""
    batch, trans_a, trans_b, M, N, K = ints[0], ints[1], ints[2], ints[3], ints[4], ints[5]
    lda, stride_a, ldb, stride_b, ldc, stride_c = ints[6], ints[7], ints[8], ints[9], ints[10], ints[11]
    a, b, c = a_array.ctypes.data, b_array.ctypes.data, c_array.ctypes.data
    itemsize = a_array.itemsize
    if batch > 1:
        for i in range(w * batch // n_workers, (w + 1) * batch // n_workers):
            gemm(_ROW_MAJOR, trans_a, trans_b, M, N, K, 1.0, a + i * stride_a * itemsize, lda,
                 b + i * stride_b * itemsize, ldb, 0.0, c + i * stride_c * itemsize, ldc)
    elif M >= N:
        m0, m1 = w * M // n_workers, (w + 1) * M // n_workers
        if m1 > m0:
            a_off = m0 * lda if trans_a == _NO_TRANS else m0
            gemm(_ROW_MAJOR, trans_a, trans_b, m1 - m0, N, K, 1.0, a + a_off * itemsize, lda, b, ldb,
                 0.0, c + m0 * ldc * itemsize, ldc)
    else:
        n0, n1 = w * N // n_workers, (w + 1) * N // n_workers
        if n1 > n0:
            b_off = n0 if trans_b == _NO_TRANS else n0 * ldb
            gemm(_ROW_MAJOR, trans_a, trans_b, M, n1 - n0, K, 1.0, a, lda, b + b_off * itemsize, ldb,
                 0.0, c + n0 * itemsize, ldc)


# Products below this many multiply-adds (per matrix) go to NumPy (see matmul).
_NUMPY_MATMUL_MAX = 1 << 18

# Products of at least this many multiply-adds are split over the Numba threads (see bench/README.md).
_MATMUL_PARALLEL_MIN = 1 << 19


def _blas_operand(m):
    """(its memory as a flat array, trans flag, leading dimension) for a 2-D operand, without copying when
    m or m.T is C-contiguous."""
    if m.flags.c_contiguous:
        return m.reshape(-1), _NO_TRANS, max(1, m.shape[1])
    if m.flags.f_contiguous:
        return m.T.reshape(-1), _TRANS, max(1, m.shape[0])
    m = np.ascontiguousarray(m)
    return m.reshape(-1), _NO_TRANS, max(1, m.shape[1])


def _matmul_2d(a, b, gemm, out):
    """out (M, N) = a (M, K) @ b (K, N) on the private BLAS."""
    (M, K), N = a.shape, b.shape[1]
    a, trans_a, lda = _blas_operand(a)
    b, trans_b, ldb = _blas_operand(b)
    args = (gemm, _ints(1, trans_a, trans_b, M, N, K, lda, 0, ldb, 0, max(1, N), 0), a, b, out.reshape(-1))
    parallel = M * N * K >= _MATMUL_PARALLEL_MIN and max(M, N) > 1
    _run_workers(_gemm_worker, _threads() if parallel else 1, args)


def _matmul_batch(a, b, gemm, out):
    """out[i] (M, N) = a[i] (M, K) @ b[i] (K, N) for 3-D C-contiguous a, b, out; a batch axis of length 1
    in a or b is shared by every item (stride 0)."""
    B, M, N = out.shape
    K = a.shape[2]
    stride_a = 0 if a.shape[0] == 1 else M * K
    stride_b = 0 if b.shape[0] == 1 else K * N
    args = (gemm, _ints(B, _NO_TRANS, _NO_TRANS, M, N, K, max(1, K), stride_a, max(1, N), stride_b, max(1, N), M * N),
            a.reshape(-1), b.reshape(-1), out.reshape(-1))
    n_workers = min(B, _threads()) if B * M * N * K >= _MATMUL_PARALLEL_MIN else 1
    _run_workers(_gemm_worker, n_workers, args)


def matmul(a, b):
    """a @ b with NumPy's broadcasting rules, for arrays of at least 2 dimensions.

    Products of fewer than _NUMPY_MATMUL_MAX multiply-adds per matrix are NumPy's: OpenBLAS runs those on
    the calling thread (its threshold is 65536 * 4), so no BLAS pool wakes up, and NumPy's call costs ~1 us
    where ours costs several.  Larger float32/float64 products of 2-D matrices, of a C-contiguous stack with a matrix, and of two stacks
    with the same batch shape run on kernels/blas.py's private BLAS; everything else (mixed or integer
    dtypes, broadcasting between different batch shapes, empty matrices, no private BLAS) is NumPy's `@`.
    """
    if a.ndim < 2 or b.ndim < 2 or a.shape[-2] * a.shape[-1] * b.shape[-1] < _NUMPY_MATMUL_MAX:
        return a @ b
    dtype = np.result_type(a, b)
    gemm = _fused_gemm(dtype, *a.shape[-2:], b.shape[-1]) if a.dtype == b.dtype else None
    if gemm is None or 0 in a.shape or 0 in b.shape:
        return a @ b
    M, K, N = a.shape[-2], a.shape[-1], b.shape[-1]
    if b.ndim == 2 and a.ndim > 2 and a.flags.c_contiguous:       # a stack times one matrix: one product
        out = np.empty(a.shape[:-1] + (N,), dtype=dtype)
        _matmul_2d(a.reshape(-1, K), b, gemm, out.reshape(-1, N))
        return out
    if a.ndim == 2 and b.ndim == 2:
        out = np.empty((M, N), dtype=dtype)
        _matmul_2d(a, b, gemm, out)
        return out
    if a.shape[:-2] == b.shape[:-2]:
        out = np.empty(a.shape[:-1] + (N,), dtype=dtype)
        _matmul_batch(np.ascontiguousarray(a).reshape(-1, M, K), np.ascontiguousarray(b).reshape(-1, K, N),
                      gemm, out.reshape(-1, M, N))
        return out
    return a @ b


# Parallel Numba loops only for jobs of at least this many elements (see the comment above the loops).
# The break-even estimate: a parallel region costs 70-100 us to start and join here, and the serial
# loops move 1M float32 in 0.1-0.25 ms (transpose of a (16, 64, 1024) batch: 0.10 ms serial, 0.18-0.28 ms
# parallel), so below ~1M elements the second thread cannot win back its start-up.  On the DCGAN shapes
# this keeps the cols of the 64- and 128-channel layers (3-4M elements) parallel, the rest serial.
# (With the fused path's `omp` layer a region starts in microseconds, and 64K elements would do; but each
# parallel loop costs 1.5-2.5 s to compile on first use, and the 1M threshold keeps the few-channel layers'
# loops serial: the cold first DCGAN step compiles ~5 s less, for ~0.3 ms per step.)
_PARALLEL_MIN = 1 << 20


def _use_threads(n_elements):
    """Whether a Numba loop over n_elements is worth a parallel region (~0.1 ms to start and join)."""
    return n_elements >= _PARALLEL_MIN and not _FORKED


def _use_worker_threads(n_elements):
    """The same for the loop workers _im2col and _col2im: with the `omp` layer of the fused path a parallel
    region starts in microseconds, and their parallel case costs no extra compile (the shared driver), so
    from _FUSED_PARALLEL_MIN elements (the few-channel layers' columns: 0.2-0.8M elements)."""
    return n_elements >= (_FUSED_PARALLEL_MIN if _FUSED else _PARALLEL_MIN) and not _FORKED


# GNU OpenMP (the `omp` layer) cannot run in a process forked from one that used it: Numba's pool prints
# "Terminating: fork() called from a process already using GNU OpenMP, this is unsafe." and the child dies
# at its first parallel region.  So a forked child (multiprocessing's default start method on Linux) runs
# every kernel on its calling thread: the serial drivers, the reference array code for the elementwise
# kernels.  The parent is unaffected.
_FORKED = False


def _after_fork_in_child():
    global _FORKED
    _FORKED = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _threads():
    """Numba threads a kernel may use: 1 in a forked child (see _FORKED)."""
    return 1 if _FORKED else numba.get_num_threads()


# conv2d and conv_transpose2d layers whose kernel is twice the stride (DCGAN's k4 s2) go to
# kernels/winograd.py (with the private BLAS) when they are large: at least _WINOGRAD_MIN_CHANNELS channels
# on both sides and _WINOGRAD_MIN_MACS multiply-adds in the direct convolution.  F(4x4, 2x2) after
# space-to-depth does 1.96-2.56x fewer multiply-adds than im2col's product, but its weight transform costs
# 25/4 of the weights per call and its 25 products are small: measured (bench/README.md, fourth round),
# conv2d / conv_transpose2d forward time against the im2col pipeline, 2 threads:
#     64 x 64->64 14->7 (206M MACs) 0.86 / 0.98     16 x 64->64 32->16 (268M) 0.63 / 0.86
#     16 x 32->64 32->16 (134M)     0.92 / 0.94     64 x 32->64 14->7 (103M)  1.12 / 1.29
#     64 x 16->16 14->7 (13M)       1.64 / 1.65     8 x 64->128 8->4 (17M)    3.1 / 3.3  (source 000's critic)
# Tests set the thresholds to 1 / 0 or to huge values to run cases through both paths; MINIGAN_WINOGRAD=0 in
# the environment switches the path off (for comparisons).
_WINOGRAD_MIN_CHANNELS = 32 if os.environ.get("MINIGAN_WINOGRAD", "1").strip() != "0" else 1 << 62
_WINOGRAD_MIN_MACS = 1 << 27


def winograd_info():
    """One line for kernels.info(): whether and for which layers kernels/winograd.py is used."""
    if not _FUSED:
        return "off (needs the private BLAS)"
    if _WINOGRAD_MIN_CHANNELS >= 1 << 62:
        return "off ($MINIGAN_WINOGRAD=0)"
    return (f"F(4x4, 2x2) for kernel = 2 x stride layers with >= {_WINOGRAD_MIN_CHANNELS} channels and "
            f">= 2^{_WINOGRAD_MIN_MACS.bit_length() - 1} multiply-adds (forward, input gradient, and weight gradient "
            f"up to {winograd._GRADIENT_MAX_SUMS_BYTES >> 20} MiB of sums per thread)")


def _winograd_pays(C, O, direct_macs):
    """Whether a layer with C input and O output channels and this many direct multiply-adds is large
    enough for kernels/winograd.py (see the thresholds above)."""
    return min(C, O) >= _WINOGRAD_MIN_CHANNELS and direct_macs >= _WINOGRAD_MIN_MACS


def _winograd_gemm(dtype, C, O, direct_macs, kernel_size, stride, dilation):
    """The private BLAS's gemm for kernels/winograd.py when it should serve this layer (large enough, a kernel
    twice the stride), else None."""
    if not (_winograd_pays(C, O, direct_macs) and winograd.applies(kernel_size, stride, dilation)):
        return None
    return _fused_gemm(dtype, 25 * stride[0] * stride[1] * max(C, O))   # the largest leading dimension

# The channel count from which the channels-last kernels are used: the C of conv2d / conv2d_weight's
# input (im2col copies C-vectors), the O of conv_transpose2d's output (col2im adds O-vectors).  Below it
# the vectors are too short and the NCHW loops win (1- and 3-channel layers).  Tests set it to 1 or to a
# huge value to run every case through both paths.
_CHANNELS_LAST_MIN = 16


def _product(a, b):
    """a @ b for 2-D operands: the private BLAS when it is there, else NumPy's."""
    gemm = _fused_gemm(a.dtype, *a.shape, b.shape[1])
    if gemm is None or 0 in a.shape or 0 in b.shape:
        return a @ b
    out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    _matmul_2d(a, b, gemm, out)
    return out


def _batched_product(a, b):
    """a @ b for C-contiguous 3-D stacks (a batch axis of 1 is shared): the private BLAS when it is there."""
    gemm = _fused_gemm(a.dtype, *a.shape[1:], b.shape[2])
    if gemm is None or 0 in a.shape or 0 in b.shape:
        return np.matmul(a, b)
    out = np.empty((max(a.shape[0], b.shape[0]), a.shape[1], b.shape[2]), dtype=a.dtype)
    _matmul_batch(a, b, gemm, out)
    return out


# ---------------------------------------------------------------- the three operations

def conv2d(x, W, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """2-D cross-correlation: x (N, C, H, W), W (O, C, kh, kw) -> y (N, O, Ho, Wo).  See reference.conv2d."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation, "dilation")
    N, C, H, Wd = x.shape
    O, C_w, kh, kw = W.shape
    if C_w != C:
        raise ValueError(f"conv2d: x has {C} channels but W expects {C_w} (W is (O, C, kh, kw))")
    Ho, Wo = conv_output_size(H, kh, sh, ph, dh), conv_output_size(Wd, kw, sw, pw, dw)
    if Ho <= 0 or Wo <= 0:
        raise ValueError(f"conv2d output would be empty: input {(H, Wd)}, kernel {(kh, kw)}")
    dtype = np.result_type(x, W)
    x, W = _prepare(x, dtype), _prepare(W, dtype)
    gemm = _winograd_gemm(dtype, C, O, N * Ho * Wo * C * O * kh * kw, (kh, kw), (sh, sw), (dh, dw))
    if gemm is not None:
        return winograd.conv2d(x, W, (sh, sw), (ph, pw), Ho, Wo, gemm, _threads())
    if C >= _CHANNELS_LAST_MIN:
        W_cl = _prepare(W.transpose(0, 2, 3, 1), dtype).reshape(O, kh * kw * C)   # columns (i, j, c)
        L, K = Ho * Wo, kh * kw * C
        gemm = _fused_gemm(dtype, N * L, K, O)
        if gemm is not None:
            y = np.empty((N, O, Ho, Wo), dtype=dtype)
            n_workers, chunk = _fused_plan(N, L * K * x.itemsize, N * L * K)
            _run_workers(_conv2d_cl_worker, n_workers,
                         (gemm, _conv_ints(chunk, N, C, H, Wd, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O),
                          x.reshape(-1), W_cl.reshape(-1), y.reshape(-1)))
            return y
        cols = np.empty((N * Ho * Wo, kh * kw * C), dtype=dtype)
        _im2col_cl(x, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols, _use_threads(cols.size))
        y_t = cols @ W_cl.T                                     # (N*L, O): one BLAS call for the batch
        return _swap_last(y_t.reshape(N, Ho * Wo, O)).reshape(N, O, Ho, Wo)
    # Few channels: K = C*kh*kw is small, so the product is cheap and the (O, N*L) -> (N, O, L) transpose
    # of one batched product would cost as much as the product itself.  One product per sample writes
    # y's layout directly (conv 1->64 on 64 MNIST images: 0.35 ms against 0.45-0.9 ms, 1 thread).
    cols = np.empty((N, C * kh * kw, Ho * Wo), dtype=dtype)
    _im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols, _use_worker_threads(cols.size))
    y = _batched_product(W.reshape(1, O, C * kh * kw), cols)    # (N, O, L): one BLAS call per sample
    return y.reshape(N, O, Ho, Wo)


def conv_transpose2d(x, W, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1)):
    """Transposed convolution: x (N, C, H, W), W (C, O, kh, kw) -> y (N, O, Ho, Wo).
    See reference.conv_transpose2d."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation, "dilation")
    oph, opw = _pair(output_padding, "output_padding")
    N, C, H, Wd = x.shape
    C_w, O, kh, kw = W.shape
    if C_w != C:
        raise ValueError(f"conv_transpose2d: x has {C} channels but W expects {C_w} (W is (C, O, kh, kw))")
    if min(oph, opw) < 0:
        raise ValueError(f"output_padding must be >= 0, got {(oph, opw)}")
    Ho = conv_transpose_output_size(H, kh, sh, ph, oph, dh)
    Wo = conv_transpose_output_size(Wd, kw, sw, pw, opw, dw)
    if Ho <= 0 or Wo <= 0:
        raise ValueError(f"conv_transpose2d output would be empty: {(Ho, Wo)}")
    dtype = np.result_type(x, W)
    x, W = _prepare(x, dtype), _prepare(W, dtype)
    gemm = _winograd_gemm(dtype, C, O, N * H * Wd * C * O * kh * kw, (kh, kw), (sh, sw), (dh, dw))
    if gemm is not None:
        return winograd.conv_transpose2d(x, W, (sh, sw), (ph, pw), Ho, Wo, gemm, _threads(), _product)
    y = np.empty((N, O, Ho, Wo), dtype=dtype)
    if O >= _CHANNELS_LAST_MIN:
        W_cl = _prepare(W.transpose(0, 2, 3, 1), dtype).reshape(C, kh * kw * O)   # columns (i, j, o)
        HW, K = H * Wd, kh * kw * O
        gemm = _fused_gemm(dtype, N * HW, K, C)
        if gemm is not None:
            n_workers, chunk = _fused_plan(N, HW * K * x.itemsize, N * HW * K)
            _run_workers(_conv_transpose2d_cl_worker, n_workers,
                         (gemm, _conv_ints(chunk, N, C, H, Wd, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O),
                          x.reshape(-1), W_cl.reshape(-1), y.reshape(-1)))
            return y
        x_t = _swap_last(x.reshape(N, C, H * Wd)).reshape(N * H * Wd, C)
        cols = x_t @ W_cl                                       # (N*H*W, kh*kw*O)
        _col2im_cl(cols, kh, kw, sh, sw, ph, pw, dh, dw, H, Wd, y, _use_threads(cols.size))
        return y
    # Few output channels: per-sample products read x in its own layout (no transpose of x; 64->1 on
    # 64 14x14 maps: 0.36 ms against 0.63 ms with a batched product, 1 thread).
    W_t = np.ascontiguousarray(W.reshape(C, O * kh * kw).T)
    cols = _batched_product(W_t.reshape(1, O * kh * kw, C), x.reshape(N, C, H * Wd))   # (N, O*kh*kw, H*W)
    _col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, H, Wd, y, _use_worker_threads(cols.size))
    return y


def conv2d_weight(x, gy, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Gradient of conv2d w.r.t. its weight: x (N, C, H, W), gy (N, O, Ho, Wo) -> gW (O, C, kh, kw).
    See reference.conv2d_weight."""
    kh, kw = _pair(kernel_size, "kernel_size")
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation, "dilation")
    N, C, H, Wd = x.shape
    Ng, O, Ho, Wo = gy.shape
    if Ng != N:
        raise ValueError(f"conv2d_weight: batch of x ({N}) and gy ({Ng}) differ")
    if Ho > conv_output_size(H, kh, sh, ph, dh) or Wo > conv_output_size(Wd, kw, sw, pw, dw):
        raise ValueError(f"conv2d_weight: gy spatial size {(Ho, Wo)} exceeds conv2d's output size")
    dtype = np.result_type(x, gy)
    x, gy = _prepare(x, dtype), _prepare(gy, dtype)
    gemm = _winograd_gemm(dtype, C, O, N * Ho * Wo * C * O * kh * kw, (kh, kw), (sh, sw), (dh, dw))
    threads = _threads()
    if gemm is not None and winograd.weight_gradient_pays(N, C, O, Ho, Wo, sh, x.itemsize, threads):
        return winograd.conv2d_weight(x, gy, (sh, sw), (ph, pw), gemm, threads)
    if C >= _CHANNELS_LAST_MIN:
        L, K = Ho * Wo, kh * kw * C
        gemm = _fused_gemm(dtype, N * L, K, O)
        if gemm is not None:
            n_workers, chunk = _fused_plan(N, L * K * x.itemsize, N * L * K)
            partial = np.empty((n_workers, O * K), dtype=dtype)
            _run_workers(_conv2d_weight_cl_worker, n_workers,
                         (gemm, _conv_ints(chunk, N, C, H, Wd, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O),
                          x.reshape(-1), gy.reshape(-1), partial.reshape(-1)))
            gW_cl = partial.sum(axis=0) if n_workers > 1 else partial[0]
            return np.ascontiguousarray(gW_cl.reshape(O, kh, kw, C).transpose(0, 3, 1, 2))
        cols = np.empty((N * Ho * Wo, kh * kw * C), dtype=dtype)
        _im2col_cl(x, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols, _use_threads(cols.size))
        gy_t = _swap_last(gy.reshape(N, O, Ho * Wo)).reshape(N * Ho * Wo, O)
        gW_cl = gy_t.T @ cols                                   # (O, N*L) @ (N*L, K'): columns (i, j, c)
        return np.ascontiguousarray(gW_cl.reshape(O, kh, kw, C).transpose(0, 3, 1, 2))
    K, L = C * kh * kw, Ho * Wo
    gemm = _fused_gemm(dtype, O, K, L)
    if gemm is not None:          # per-worker sums of per-sample products (no copy of gy, columns in cache)
        n_workers = min(N, _threads()) if N * K * L >= _FUSED_PARALLEL_MIN else 1
        partial = np.empty((n_workers, O * K), dtype=dtype)
        _run_workers(_conv2d_weight_nchw_worker, n_workers,
                     (gemm, _conv_ints(1, N, C, H, Wd, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O),
                      x.reshape(-1), gy.reshape(-1), partial.reshape(-1)))
        gW = partial.sum(axis=0) if n_workers > 1 else partial[0]
        return gW.reshape(O, C, kh, kw)
    cols = np.empty((K, N * L), dtype=dtype)
    _im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols, _use_worker_threads(cols.size))
    gW = _product(_to_onl(gy.reshape(N, O, L)), cols.T)         # (O, N*L) @ (N*L, K)
    return gW.reshape(O, C, kh, kw)


# ---------------------------------------------------------------- elementwise and per-channel kernels
#
# One parallel pass each where the array code of kernels/reference.py (the spec: same functions, same
# results up to rounding) takes several single-threaded NumPy passes.  In the DCGAN step these were ~40%
# of the time outside the convolutions (leaky ReLU forward 1.1 ms per (64, 64, 14, 14) call).  Inputs that
# are not C-contiguous float32/float64, or too small to be worth a parallel region, go to the reference.

# Elementwise jobs below this many elements run the reference code (with the spinning `omp` layer a
# parallel region costs a few microseconds; with `workqueue` 70-130 us, hence its larger threshold).
_ELEMENTWISE_MIN = (1 << 15) if _FUSED else _PARALLEL_MIN


# The Adam update runs on every parameter, however small: below ~30K elements the kernel's few
# microseconds beat NumPy's ten passes of ~10 us each (with `omp`; with `workqueue` the region costs more).
_ADAM_MIN = 0 if _FUSED else _PARALLEL_MIN

# Adam updates of at least this many elements are split over the Numba threads (smaller ones run on the
# calling thread: a parallel region and the worker's pointer cost ~10 us).
_ADAM_PARALLEL_MIN = 1 << 12


def _fast_ok(*arrays, min_size=None):
    a0 = arrays[0]
    min_size = _ELEMENTWISE_MIN if min_size is None else min_size
    return (not _FORKED and a0.dtype.kind == "f" and a0.dtype.itemsize in (4, 8) and a0.size >= min_size
            and all(a.dtype == a0.dtype and a.flags.c_contiguous and a.shape == a0.shape for a in arrays))


# One loop worker (kernels/loops.py) for the six elementwise operations (one function to compile, not
# six); the branch on `op` is loop-invariant.  The work is cut in blocks: the (n, c) planes for the
# per-channel operations (block = plane size, b = the channel's value), blocks of _ELEMENTWISE_BLOCK
# elements for the others; each worker takes a contiguous range of blocks.
_ADD, _MULTIPLY, _LEAKY_RELU, _LEAKY_RELU_BACKWARD, _CHANNEL_ADD, _CHANNEL_MULTIPLY = range(6)
_ELEMENTWISE_BLOCK = 1 << 13


@njit(cache=True, error_model="numpy")
def _elementwise_worker(w, n_workers, ints, reals, af, bf, bc, outf, coef, unused_f):
    """out = a + b | a * b | leaky_relu(a) (b unused) | a * leaky_relu'(b) | a + b[c] | a * b[c], by op;
    af, bf, outf flat, bc (C,) per-channel values, coef[0] the slope (in the arrays' dtype, as NumPy
    computes x * slope); ints = (op, size, block, C), block = the plane size L of an (N, C, L) array for
    the per-channel operations."""
    op, size, block, C = ints[0], ints[1], ints[2], ints[3]
    scalar = coef[0]
    b0, b1 = _split(w, n_workers, (size + block - 1) // block)
    for blk in range(b0, b1):
        lo = uint64(blk * block)                  # unsigned indices: no negative-index wraparound checks
        n = min(size, (blk + 1) * block) - blk * block
        v = bc[blk % C]
        if op == _ADD:
            for i in range(n):
                outf[lo + uint64(i)] = af[lo + uint64(i)] + bf[lo + uint64(i)]
        elif op == _MULTIPLY:
            for i in range(n):
                outf[lo + uint64(i)] = af[lo + uint64(i)] * bf[lo + uint64(i)]
        elif op == _LEAKY_RELU:
            for i in range(n):
                a = af[lo + uint64(i)]
                outf[lo + uint64(i)] = a if a > 0 else a * scalar
        elif op == _LEAKY_RELU_BACKWARD:
            for i in range(n):
                a = af[lo + uint64(i)]
                outf[lo + uint64(i)] = a if bf[lo + uint64(i)] > 0 else a * scalar
        elif op == _CHANNEL_ADD:
            for i in range(n):
                outf[lo + uint64(i)] = af[lo + uint64(i)] + v
        else:
            for i in range(n):
                outf[lo + uint64(i)] = af[lo + uint64(i)] * v


def _elementwise(op, a, b, scalar=0.0, per_channel=None):
    """out of _elementwise_worker for same-shape C-contiguous a, b, or (per_channel: a (C,) vector) for
    a (N, C, ...) and b[c] broadcast over the other axes."""
    out = np.empty_like(a)
    coef = np.full(1, scalar, dtype=a.dtype)
    af = a.reshape(-1)
    if per_channel is None:
        ints = _ints(op, a.size, _ELEMENTWISE_BLOCK, 1)
        bf, bc = b.reshape(-1), coef
    else:
        ints = _ints(op, a.size, max(1, a.size // max(1, a.shape[0] * a.shape[1])), a.shape[1])
        bf, bc = af, per_channel
    _run_workers(_elementwise_worker, _threads(), (ints, _reals(), af, bf, bc, out.reshape(-1), coef, coef))
    return out


def leaky_relu(x, slope):
    """See reference.leaky_relu."""
    if not _fast_ok(x):
        return reference.leaky_relu(x, slope)
    return _elementwise(_LEAKY_RELU, x, x, slope)


def leaky_relu_backward(gy, x, slope):
    """See reference.leaky_relu_backward (one pass, no slope map)."""
    if not _fast_ok(gy, x):
        return reference.leaky_relu_backward(gy, x, slope)
    return _elementwise(_LEAKY_RELU_BACKWARD, gy, x, slope)


# One loop worker (kernels/loops.py) over channels for batch norm's forward and backward passes and the
# per-channel sum (one function to compile, not four).  Sums in float64, vectorised (reassociation allowed).
_BATCH_NORM_FORWARD, _BATCH_NORM_BACKWARD, _BATCH_NORM_AFFINE_BACKWARD, _CHANNEL_SUM = range(4)


@njit(cache=True, fastmath={"reassoc"}, error_model="numpy")
def _channel_worker(w, n_workers, ints, reals, af, bf, outf, stats_flat, unused_e, unused_f):
    """Worker w's range of channels c of the (N, C, L) arrays af, bf, outf (flat), M = N*L;
    ints = (op, N, C, L), reals = (eps,); stats = stats_flat viewed (5, C) (the arrays' dtype, statistics
    accumulated in float64) carries the per-channel inputs and outputs:

    _BATCH_NORM_FORWARD   (a = x; stats[3, c] = weight, stats[4, c] = bias):
        stats[:3, c] = (mean, var, inv_std = 1/sqrt(var + eps)),  out = (x - mean) * inv_std * weight + bias
    _BATCH_NORM_BACKWARD  (a = g, b = x_hat; stats[0, c] = inv_std):
        out = inv_std * (g - mean(g) - x_hat * mean(g * x_hat))
    _BATCH_NORM_AFFINE_BACKWARD  (a = g, b = x; stats[0..2, c] = mean, inv_std, weight), x_hat from x:
        stats[3, c] = sum(g * x_hat), stats[4, c] = sum(g),
        out = inv_std * weight * (g - mean(g) - x_hat * mean(g * x_hat))
    _CHANNEL_SUM          (a = x):  stats[0, c] = sum of x[:, c]
    """
    op, N, C, L = ints[0], ints[1], ints[2], ints[3]
    eps = reals[0]
    stats = stats_flat.reshape((5, C))
    M = N * L
    c0, c1 = _split(w, n_workers, C)
    for c in range(c0, c1):
        s = 0.0
        sab = 0.0
        for n in range(N):
            base = uint64((n * C + c) * L)
            if op == _BATCH_NORM_BACKWARD:
                for i in range(L):
                    g = af[base + uint64(i)]
                    s += g
                    sab += g * bf[base + uint64(i)]
            elif op == _BATCH_NORM_AFFINE_BACKWARD:
                m, inv = stats[0, c], stats[1, c]
                for i in range(L):
                    g = af[base + uint64(i)]
                    s += g
                    sab += g * ((bf[base + uint64(i)] - m) * inv)
            else:
                for i in range(L):
                    s += af[base + uint64(i)]
        if op == _CHANNEL_SUM:
            stats[0, c] = s
        elif op == _BATCH_NORM_FORWARD:
            m = s / M
            ss = 0.0
            for n in range(N):
                base = uint64((n * C + c) * L)
                for i in range(L):
                    d = af[base + uint64(i)] - m
                    ss += d * d
            v = ss / M
            inv = (v + eps) ** -0.5
            scale, shift = inv * stats[3, c], stats[4, c]
            for n in range(N):
                base = uint64((n * C + c) * L)
                for i in range(L):
                    outf[base + uint64(i)] = (af[base + uint64(i)] - m) * scale + shift
            stats[0, c], stats[1, c], stats[2, c] = m, v, inv
        elif op == _BATCH_NORM_BACKWARD:
            mg, mgh, inv = s / M, sab / M, stats[0, c]
            for n in range(N):
                base = uint64((n * C + c) * L)
                for i in range(L):
                    outf[base + uint64(i)] = inv * (af[base + uint64(i)] - mg - bf[base + uint64(i)] * mgh)
        else:
            mg, mgh = s / M, sab / M
            m, inv = stats[0, c], stats[1, c]
            scale = inv * stats[2, c]
            stats[3, c], stats[4, c] = sab, s
            for n in range(N):
                base = uint64((n * C + c) * L)
                for i in range(L):
                    h = (bf[base + uint64(i)] - m) * inv
                    outf[base + uint64(i)] = scale * (af[base + uint64(i)] - mg - h * mgh)


def batch_norm_forward(x, eps, weight=None, bias=None):
    """See reference.batch_norm_forward (statistics accumulated in float64 here; the affine step, when
    weight and bias are given, in the normalising pass)."""
    if not _fast_ok(x) or x.ndim < 2:
        return reference.batch_norm_forward(x, eps, weight, bias)
    N, C = x.shape[:2]
    L = x.size // max(1, N * C)
    y = np.empty_like(x)
    stats = np.empty((5, C), dtype=x.dtype)
    stats[3] = 1.0 if weight is None else weight
    stats[4] = 0.0 if bias is None else bias
    _channel_job(_BATCH_NORM_FORWARD, x, x, y, stats, eps)
    mean, var, inv_std = stats[:3].copy()
    return y, mean, var, inv_std


def _channel_job(op, a, b, out, stats, eps=0.0):
    """_channel_worker on every thread for the (N, C, ...) arrays a, b, out (out may be empty) and stats (5, C)."""
    N, C = a.shape[:2]
    L = a.size // max(1, N * C)
    stats_flat = stats.reshape(-1)
    _run_workers(_channel_worker, _threads(), (_ints(op, N, C, L), _reals(float(eps)), a.reshape(-1), b.reshape(-1),
                                               out.reshape(-1), stats_flat, stats_flat, stats_flat))


def batch_norm_backward(g, x_hat, inv_std):
    """See reference.batch_norm_backward."""
    if not _fast_ok(g, x_hat) or g.ndim < 2:
        return reference.batch_norm_backward(g, x_hat, inv_std)
    gx = np.empty_like(g)
    stats = np.empty((5, g.shape[1]), dtype=g.dtype)
    stats[0] = inv_std
    _channel_job(_BATCH_NORM_BACKWARD, g, x_hat, gx, stats)
    return gx


def batch_norm_affine_backward(g, x, mean, inv_std, weight):
    """See reference.batch_norm_affine_backward (two passes over g and x: the sums, then gx)."""
    if not _fast_ok(g, x) or g.ndim < 2:
        return reference.batch_norm_affine_backward(g, x, mean, inv_std, weight)
    gx = np.empty_like(g)
    stats = np.empty((5, g.shape[1]), dtype=g.dtype)
    stats[0], stats[1], stats[2] = mean, inv_std, weight
    _channel_job(_BATCH_NORM_AFFINE_BACKWARD, g, x, gx, stats)
    return gx, stats[3].copy(), stats[4].copy()


@njit(cache=True, error_model="numpy")
def _adam_worker(w, n_workers, ints, reals, p, g, m, v, vmax, coef):
    """Worker w's range of reference.adam_update's elementwise step; ints = (size, amsgrad), coef =
    (1 - beta1, beta2, 1 - beta2, step_size, bias_correction2_sqrt, eps) in the parameters' dtype."""
    size, amsgrad = ints[0], ints[1]
    one_minus_beta1, beta2, one_minus_beta2, step_size, bc2_sqrt, eps = coef[0], coef[1], coef[2], coef[3], coef[4], coef[5]
    i0, i1 = _split(w, n_workers, size)
    for k in range(i1 - i0):
        i = uint64(i0 + k)
        gi = g[i]
        mi = m[i] + (gi - m[i]) * one_minus_beta1
        vi = v[i] * beta2 + one_minus_beta2 * gi * gi
        m[i], v[i] = mi, vi
        if amsgrad:
            if vi > vmax[i]:
                vmax[i] = vi
            vi = vmax[i]
        p[i] -= step_size * (mi / (np.sqrt(vi) / bc2_sqrt + eps))


def adam_update(p, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1, beta2, step_size, bias_correction2_sqrt,
                eps):
    """See reference.adam_update (one fused pass; the same arithmetic per element)."""
    if grad.dtype == p.dtype and not grad.flags.c_contiguous:    # e.g. a linear layer's weight gradient
        grad = np.ascontiguousarray(grad)
    arrays = (p, grad, exp_avg, exp_avg_sq) + ((max_exp_avg_sq,) if max_exp_avg_sq is not None else ())
    if not _fast_ok(*arrays, min_size=_ADAM_MIN):
        return reference.adam_update(p, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1, beta2, step_size,
                                     bias_correction2_sqrt, eps)
    vmax = max_exp_avg_sq.reshape(-1) if max_exp_avg_sq is not None else exp_avg_sq.reshape(-1)
    coef = np.array([1 - beta1, beta2, 1 - beta2, step_size, bias_correction2_sqrt, eps], dtype=p.dtype)
    n_workers = _threads() if p.size >= _ADAM_PARALLEL_MIN else 1
    _run_workers(_adam_worker, n_workers, (_ints(p.size, max_exp_avg_sq is not None), _reals(), p.reshape(-1),
                                           grad.reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1), vmax, coef))


def _channel_vector(big, small):
    """small as a (C,) vector if it broadcasts against big (N, C, ...) along axis 1 only, else None."""
    if big.ndim < 2 or small.ndim > big.ndim:
        return None
    shape = (1,) * (big.ndim - small.ndim) + small.shape
    if shape[1] != big.shape[1] or any(n != 1 for i, n in enumerate(shape) if i != 1):
        return None
    return np.ascontiguousarray(small).reshape(-1)


def _binary_op(a, b, op, fallback):
    """a (op) b on the Numba path for same-shape arrays and for an (N, C, ...) array with a per-channel
    vector (a bias, a batch-norm scale), in either order; everything else is NumPy's (fallback)."""
    if (a.size < _ELEMENTWISE_MIN and b.size < _ELEMENTWISE_MIN) or a.dtype != b.dtype \
            or a.dtype.kind != "f" or a.dtype.itemsize not in (4, 8):
        return fallback(a, b)
    if a.shape == b.shape:
        if not _fast_ok(a, b):
            return fallback(a, b)
        return _elementwise(op, a, b)
    big, small = (a, b) if a.size >= b.size else (b, a)
    vector = _channel_vector(big, small) if _fast_ok(big) else None
    if vector is None:
        return fallback(a, b)
    return _elementwise(_CHANNEL_ADD if op == _ADD else _CHANNEL_MULTIPLY, big, big, per_channel=vector)


def add(a, b):
    """See reference.add (same-shape or per-channel operands: one parallel pass)."""
    return _binary_op(a, b, _ADD, reference.add)


def multiply(a, b):
    """See reference.multiply (same-shape or per-channel operands: one parallel pass)."""
    return _binary_op(a, b, _MULTIPLY, reference.multiply)


def channel_sum(x):
    """See reference.channel_sum (float64 accumulation, one task per channel)."""
    if x.ndim < 2 or not _fast_ok(x):
        return reference.channel_sum(x)
    stats = np.empty((5, x.shape[1]), dtype=x.dtype)
    _channel_job(_CHANNEL_SUM, x, x, np.empty(0, dtype=x.dtype), stats)     # (no output array: an empty one)
    return stats[0].copy()


# On a cold cache, compile the float32 workers in a helper process beside this one (kernels/precompile.py).
precompile.start_if_cold()
