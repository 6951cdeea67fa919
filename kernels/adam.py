"""The Adam update as one fused parallel Numba pass over a parameter and its state (kernels/reference.py's
adam_update, the specification, takes about ten NumPy passes), with the same arithmetic per element."""

import numpy as np
from numba import njit, uint64

from . import loops, reference, runtime
from .loops import run_loop_workers, split
from .pointwise import fast_path_ok

__all__ = ["adam_update", "ADAM_MIN", "ADAM_PARALLEL_MIN"]

# The Adam update runs on every parameter, however small: below ~30K elements the kernel's few microseconds
# beat NumPy's ten passes of ~10 us each -- with the `omp` layer of the fused path; with `workqueue` a
# parallel region costs more, hence the larger threshold there.  Tests set it to 0.
ADAM_MIN = 0 if runtime.FUSED else runtime.PARALLEL_MIN

# Updates of at least this many elements are split over the Numba threads (smaller ones run on the calling
# thread: a parallel region and the worker's pointer cost ~10 us).
ADAM_PARALLEL_MIN = 1 << 12


@njit(cache=True, error_model="numpy")
def _adam_worker(w, n_workers, ints, reals, arrays):
    """Worker w's range of reference.adam_update's elementwise step; a loop worker (kernels/loops.py) with
    ints = (size, amsgrad), reals = (1 - beta1, beta2, 1 - beta2, step_size, bias_correction2_sqrt, eps)
    (each rounded to the parameters' dtype first, as the reference's NumPy arithmetic does), arrays =
    (p, g, m, v, v_max) flat, v_max only with amsgrad."""
    size, amsgrad = ints[0], ints[1]
    p, g, m, v, vmax = arrays[0], arrays[1], arrays[2], arrays[3], arrays[4]
    coef = np.empty(6, dtype=p.dtype)  # the constants rounded to the parameters' dtype
    for k in range(6):
        coef[k] = reals[k]
    one_minus_beta1, beta2, one_minus_beta2, step_size, bc2_sqrt, eps = (
        coef[0],
        coef[1],
        coef[2],
        coef[3],
        coef[4],
        coef[5],
    )
    i0, i1 = split(w, n_workers, size)
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


def adam_update(p, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1, beta2, step_size, bias_correction2_sqrt, eps):
    """See reference.adam_update (one fused pass; the same arithmetic per element)."""
    if grad.dtype == p.dtype and not grad.flags.c_contiguous:  # e.g. a linear layer's weight gradient
        grad = np.ascontiguousarray(grad)
    arrays = (p, grad, exp_avg, exp_avg_sq) + ((max_exp_avg_sq,) if max_exp_avg_sq is not None else ())
    if not fast_path_ok(*arrays, min_size=ADAM_MIN):
        return reference.adam_update(
            p, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1, beta2, step_size, bias_correction2_sqrt, eps
        )
    n_workers = runtime.threads() if p.size >= ADAM_PARALLEL_MIN else 1
    run_loop_workers(
        _adam_worker,
        n_workers,
        loops.ints(p.size, max_exp_avg_sq is not None),
        loops.reals(1 - beta1, beta2, 1 - beta2, step_size, bias_correction2_sqrt, eps),
        *(a.reshape(-1) for a in arrays),
    )
