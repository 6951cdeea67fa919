"""glibc's malloc set up so that a training step's arrays reuse memory instead of faulting in fresh pages.

Why.  A training step allocates the same few-megabyte activations and gradients every step and frees them
again.  With glibc's defaults, blocks above the mmap threshold (128 KiB, raised adaptively) come from
mmap and go back to the kernel when freed, and the heap's free top is trimmed back: so the next step
maps the memory again and takes one page fault per 4 KiB page on first touch: thousands of faults and
about a tenth of an MNIST DCGAN step, most of it in the elementwise kernels, which touch their output
once (bench/README.md, history 24).

What.  When the CPU kernels are set up (kernels/runtime.py's configure), on glibc only, `tune()` calls
mallopt(3):

    M_MMAP_THRESHOLD  32 MiB   blocks below this come from the heap (32 MiB is glibc's maximum)
    M_TRIM_THRESHOLD  256 MiB  the heap's free top is returned to the kernel only beyond this
    M_TOP_PAD         64 MiB   extra room taken per heap growth

The price: memory freed by the process stays mapped (up to the trim threshold of free memory at the top
of the heap), so its resident size does not shrink after a peak -- as with a caching allocator.  The
settings are process-wide; MINIGAN_MALLOC_TUNING=0 leaves glibc's defaults alone.  `describe()` says
what was done (kernels.info(), `minigan info`).
"""

import ctypes
import os
import platform

__all__ = ["tune", "describe", "SETTINGS"]

# mallopt(3) parameter numbers (glibc's malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3

SETTINGS = {"M_MMAP_THRESHOLD": 32 << 20, "M_TRIM_THRESHOLD": 256 << 20, "M_TOP_PAD": 64 << 20}
_NUMBERS = {"M_MMAP_THRESHOLD": _M_MMAP_THRESHOLD, "M_TRIM_THRESHOLD": _M_TRIM_THRESHOLD, "M_TOP_PAD": _M_TOP_PAD}

_state = {"done": False, "description": "glibc defaults (not tuned yet)"}


def tune():
    """Apply SETTINGS through mallopt once per process (glibc only, unless MINIGAN_MALLOC_TUNING=0);
    returns the description that describe() gives afterwards."""
    if _state["done"]:
        return _state["description"]
    _state["done"] = True
    if os.environ.get("MINIGAN_MALLOC_TUNING", "1").strip() == "0":
        _state["description"] = "glibc defaults (MINIGAN_MALLOC_TUNING=0)"
    elif platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        _state["description"] = (
            f"the C library's defaults (not glibc: {platform.system()} {platform.libc_ver()[0] or ''})"
        )
    else:
        mallopt = ctypes.CDLL(None).mallopt
        mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
        refused = [name for name, value in SETTINGS.items() if mallopt(_NUMBERS[name], value) != 1]
        applied = ", ".join(
            f"{name.lower()[2:]} {value >> 20} MiB" for name, value in SETTINGS.items() if name not in refused
        )
        _state["description"] = f"glibc malloc tuned ({applied})" + (f"; refused: {refused}" if refused else "")
    return _state["description"]


def describe():
    """What tune() did in this process."""
    return _state["description"]
