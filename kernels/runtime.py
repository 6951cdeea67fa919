"""The process set-up the CPU kernels need, in one place, and how many threads a job gets.

`configure()` does the set-up.  It must run before the first parallel kernel (Numba fixes its threading
layer at the first parallel region) and it runs once per process; kernels.select() calls it when it hands
out kernels.cpu, which is how minigan reaches the CPU kernels (code that imports kernels.cpu directly, as
the kernel tests and benchmarks do, calls kernels.select("numpy") or configure() first).  Four steps:

1. Numba's threading layer.  Two thread pools that spin-wait after each call fight over a small machine's
   cores.  With the private BLAS (kernels/blas.py, FUSED below) every product and loop of a training step
   runs on Numba's threads, so nothing competes with them and the spinning `omp` layer is the fast one: a
   parallel region starts in microseconds, where `workqueue`, which parks its threads, takes 70-130 us --
   more than a small product takes.  `workqueue` is the fallback when libgomp cannot be loaded.  Without
   the private BLAS ($MINIGAN_PRIVATE_BLAS=0 or the wheel missing) the products run on NumPy's spinning
   OpenBLAS pool, and only `workqueue` is safe next to it.  A user's $NUMBA_THREADING_LAYER always wins.
   Another spinning OpenMP pool in the same process (PyTorch's, for one) still competes, which is why the
   benchmarks time PyTorch in a separate process.
2. glibc's malloc (kernels/allocator.py): a step's freed activations are reused by the next step instead
   of being unmapped and faulted in again.  $MINIGAN_MALLOC_TUNING=0 leaves glibc alone.
3. Forks: GNU OpenMP (the `omp` layer) cannot run in a process forked from one that used it (Numba's pool
   prints "Terminating: fork() called from a process already using GNU OpenMP" and the child dies at its
   first parallel region).  So a forked child -- multiprocessing's default start method on Linux -- runs
   every kernel on its calling thread (`forked()`, `threads()`); the parent is unaffected.
4. The compile helper (kernels/precompile.py): on a cold Numba cache, a helper process compiles the
   float32 workers beside this one.

The measurements behind these choices are in bench/README.md, history 3-6 and 12.
"""

import os

import numba

from . import allocator, blas

__all__ = [
    "configure",
    "threading_layer",
    "threads",
    "forked",
    "use_threads",
    "use_worker_threads",
    "FUSED",
    "PARALLEL_MIN",
    "FUSED_PARALLEL_MIN",
]

# Whether the channels-last conv layers and the products run as fused per-thread pipelines on the private
# BLAS (kernels/fused.py, kernels/products.py).  Tests switch it off to check the unfused path too.
FUSED = blas.available()

# prange loops (kernels/im2col.py's unfused path) and, without the private BLAS, the pointwise kernels go
# parallel only from this many elements: waking and joining the `workqueue` layer's threads costs more than
# a smaller job takes serially (bench/README.md, history 12).  It also keeps prange loops that the fused
# path rarely needs serial, so that they cost no parallel compile on first use.
PARALLEL_MIN = 1 << 20

# With the `omp` layer of the fused path a region starts in microseconds: fused pipelines and the loop
# workers (whose parallel case costs no compile of its own: the shared driver) go parallel from this many
# column elements.
FUSED_PARALLEL_MIN = 1 << 16

_state = {"configured": False, "forked": False}


def configure():
    """The process set-up of the module docstring, once per process (later calls do nothing)."""
    if _state["configured"]:
        return
    _state["configured"] = True
    _choose_threading_layer()
    allocator.tune()
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
    from . import precompile

    precompile.start_if_cold()


def _choose_threading_layer():
    # Both the config attribute and the environment variable are set: Numba re-reads the NUMBA_* variables
    # whenever one of them changes, which would otherwise reset the attribute.
    if "NUMBA_THREADING_LAYER" in os.environ:
        return
    if blas.available():
        os.environ["NUMBA_THREADING_LAYER_PRIORITY"] = "omp workqueue tbb"  # must name all three
        os.environ["NUMBA_THREADING_LAYER"] = "default"
        numba.config.THREADING_LAYER_PRIORITY = ["omp", "workqueue", "tbb"]
        numba.config.THREADING_LAYER = "default"
    else:
        os.environ["NUMBA_THREADING_LAYER"] = "workqueue"
        numba.config.THREADING_LAYER = "workqueue"


def _after_fork_in_child():
    _state["forked"] = True


def threading_layer():
    """Numba's threading layer in use (or the one requested, before the first parallel call)."""
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel region has run yet
        return f"{numba.config.THREADING_LAYER} (requested)"


def forked():
    """Whether this process is a forked child of one that configured the kernels (then: no threads)."""
    return _state["forked"]


def threads():
    """Numba threads a kernel may use: 1 in a forked child."""
    return 1 if _state["forked"] else numba.get_num_threads()


def use_threads(n_elements):
    """Whether a prange loop over n_elements is worth a parallel region (see PARALLEL_MIN)."""
    return n_elements >= PARALLEL_MIN and not _state["forked"]


def use_worker_threads(n_elements):
    """The same for a loop worker (kernels/loops.py): from FUSED_PARALLEL_MIN elements on the fused path,
    PARALLEL_MIN otherwise."""
    return n_elements >= (FUSED_PARALLEL_MIN if FUSED else PARALLEL_MIN) and not _state["forked"]
