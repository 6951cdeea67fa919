"""Kernel-level convolution benchmark: minigan's kernels against PyTorch CPU, in one run.

    /work/venv/bin/python bench/bench_conv.py [--repeats 30] [--kernels cpu|reference] [--no-coldstart]

For each DCGAN shape (issue 4) it prints, as medians over `--repeats` timed calls after warm-up:
  - minigan's time and PyTorch's time (torch.set_num_threads = Numba's thread count), their ratio;
  - achieved GFLOP/s (2*MACs / time) and the machine's float32 matmul peak (measured here, 2048^3);
  - the time of the bare BLAS matrix products the im2col method needs (the floor of that method), and
    minigan's time divided by it (below 1 where kernels/winograd.py serves the layer: the 64- and
    128-channel conv2d / conv_transpose2d passes, which do 2-2.6x fewer multiply-adds than im2col);
for the forward pass ("fwd") and forward + backward ("fwd+bwd").  minigan, PyTorch and the bare products
each run in their OWN worker process, which the parent asks in turn for one block of timed calls (three
rounds per shape and pass, median of the block medians): two thread pools that spin after each call
(minigan's Numba `omp` pool, PyTorch's OpenMP pool, NumPy's OpenBLAS) slowed each other by up to 20x in one
process on this 2-core machine (bench/README.md).  Backward of a conv layer is
conv_transpose2d (gx) + conv2d_weight (gW); of a conv_transpose layer, conv2d (gx) + conv2d_weight(gy, x) (gW).
Then the JIT cold start (a fresh process with an empty NUMBA_CACHE_DIR: import + first fwd+bwd in float32)
and the warm start (the same, with the cache filled).
Timing never appears in a test's assertion; this script is where speed is judged.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# Timed processes start no compile helper (kernels/precompile.py); only the cold-start child does, as a
# user's process would.
os.environ.setdefault("MINIGAN_PRECOMPILE", "0")

import numpy as np  # noqa: E402

import minigan_kernels as kernels  # noqa: E402
import machine  # noqa: E402
from worker_process import WorkerProcess, worker_environment  # noqa: E402

# (name, kind, N, C_in, C_out, H_in): all k4 s2 p1
SHAPES = [
    ("mnist D conv 1->64 28->14", "conv", 64, 1, 64, 28),
    ("mnist D conv 64->128 14->7", "conv", 64, 64, 128, 14),
    ("mnist G convT 128->64 7->14", "convT", 64, 128, 64, 7),
    ("mnist G convT 64->1 14->28", "convT", 64, 64, 1, 14),
    ("64x64 D conv 3->64 64->32", "conv", 16, 3, 64, 64),
    ("64x64 D conv 64->128 32->16", "conv", 16, 64, 128, 32),
]
K, S, P = 4, 2, 1


def median_ms(f, repeats, warmup=3):
    for _ in range(warmup):
        f()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(ts))


def layer(kind, N, Cin, Cout, H, rng):
    """Arrays of one layer: x, W (PyTorch layout for the kind), gy (gradient of its output)."""
    x = rng.standard_normal((N, Cin, H, H)).astype(np.float32)
    if kind == "conv":
        W = (0.1 * rng.standard_normal((Cout, Cin, K, K))).astype(np.float32)
        Ho = (H + 2 * P - K) // S + 1
    else:
        W = (0.1 * rng.standard_normal((Cin, Cout, K, K))).astype(np.float32)
        Ho = (H - 1) * S - 2 * P + K
    gy = rng.standard_normal((N, Cout, Ho, Ho)).astype(np.float32)
    return x, W, gy


def forget_transformed_weights():
    """Empty kernels/winograd.py's cache of transformed weights, so that every timed call transforms its
    weights as the first call after an optimizer update does (the weights here never change, and PyTorch
    caches nothing)."""
    from minigan_kernels import winograd

    winograd.TRANSFORMED_WEIGHTS.clear()


def minigan_fns(mod, kind, x, W, gy):
    s, p = (S, S), (P, P)
    if kind == "conv":

        def fwd():
            forget_transformed_weights()
            return mod.conv2d(x, W, s, p)

        def fwdbwd():
            forget_transformed_weights()
            mod.conv2d(x, W, s, p)
            mod.conv_transpose2d(gy, W, s, p, (0, 0))  # gx (H even: no output_padding)
            mod.conv2d_weight(x, gy, (K, K), s, p)  # gW
    else:

        def fwd():
            forget_transformed_weights()
            return mod.conv_transpose2d(x, W, s, p, (0, 0))

        def fwdbwd():
            forget_transformed_weights()
            mod.conv_transpose2d(x, W, s, p, (0, 0))
            mod.conv2d(gy, W, s, p)  # gx
            mod.conv2d_weight(gy, x, (K, K), s, p)  # gW (C_in, C_out, k, k)

    return fwd, fwdbwd


def torch_fns(torch, kind, x, W, gy):
    F = torch.nn.functional
    xt = torch.from_numpy(x).requires_grad_()
    Wt = torch.from_numpy(W).requires_grad_()
    gyt = torch.from_numpy(gy)
    op = (
        (lambda: F.conv2d(xt, Wt, stride=S, padding=P))
        if kind == "conv"
        else (lambda: F.conv_transpose2d(xt, Wt, stride=S, padding=P))
    )

    def fwd():
        with torch.no_grad():
            return op()

    def fwdbwd():
        torch.autograd.grad(op(), (xt, Wt), gyt)

    return fwd, fwdbwd


def gemm_fns(kind, N, Cin, Cout, H, rng):
    """The bare matrix products of the im2col method for this layer, on preallocated matrices of the
    same shapes and orientations as kernels.cpu uses: (fwd, [fwd, gx, gW]) and the MAC count of one."""
    kk = K * K
    Ho = (H + 2 * P - K) // S + 1 if kind == "conv" else (H - 1) * S - 2 * P + K
    if kind == "conv":
        O, Kc, NL = Cout, Cin * kk, N * Ho * Ho  # y_m = W_(O,K) @ cols(K,NL)
        small = Cout  # the 'O' side of the backward products
    else:
        O, Kc, NL = Cin, Cout * kk, N * H * H  # the conv this layer is the adjoint of
        small = Cin
    r = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    Wm, cols, gm = r(O, Kc), r(Kc, NL), r(small, NL)
    f_conv = lambda: Wm @ cols  # noqa: E731  conv2d forward
    f_convT = lambda: Wm.T @ gm  # noqa: E731  conv_transpose2d forward
    f_gW = lambda: gm @ cols.T  # noqa: E731  conv2d_weight
    macs = O * Kc * NL
    if kind == "conv":
        return f_conv, [f_conv, f_convT, f_gW], macs
    return f_convT, [f_convT, f_conv, f_gW], macs


def matmul_peak(repeats):
    n = 2048
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)).astype(np.float32), rng.standard_normal((n, n)).astype(np.float32)
    ms = median_ms(lambda: a @ b, max(5, repeats // 3))
    return 2 * n**3 / (ms * 1e-3) / 1e9


COLD_CODE = r"""
import time, sys
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
import numpy as np
import minigan_kernels as kernels
mod = kernels.select("numpy")
t1 = time.perf_counter()
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32); W = rng.standard_normal((4, 3, 4, 4)).astype(np.float32)
y = mod.conv2d(x, W, (2, 2), (1, 1))
mod.conv_transpose2d(y, W, (2, 2), (1, 1), (0, 0))
mod.conv2d_weight(x, y, (4, 4), (2, 2), (1, 1))
t2 = time.perf_counter()
print(f"{{t1 - t0:.3f}} {{t2 - t1:.3f}} {{mod.__name__}}", flush=True)
from minigan_kernels import precompile
precompile.wait_for_helper()      # (a cold cache starts one: let it finish before the warm-cache run)
"""


def cold_start():
    """(import s, first fwd+bwd s) in a fresh process: with an empty Numba cache, then with it warm."""
    code = COLD_CODE.format(root=ROOT)
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, MINIGAN_PRECOMPILE="1")
        for label in ("cold", "warm"):
            t0 = time.perf_counter()
            child = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
            line = child.stdout.readline()  # the process's work is done when it prints
            total = time.perf_counter() - t0
            if child.wait() != 0 or not line:
                raise RuntimeError(f"cold-start child failed (exit status {child.returncode})")
            imp, first, name = line.split()
            out[label] = (float(imp), float(first), total, name)
    return out


# Pause before each block of timed calls: NumPy's OpenBLAS threads spin for up to ~0.1 s after a product,
# the OpenMP pools of minigan and PyTorch ~10 ms (measured as CPU time used by an idle process).
QUIET_S = 0.25


def worker(role, kernel_mode, nthreads):
    """Run in a subprocess: answer requests on stdin, one per line, with one number on stdout.
      `time I PASS N` -> median ms of N calls (after warm-up) of pass PASS (0 fwd, 1 fwd+bwd) of SHAPES[I];
      `peak N`        -> float32 matmul GFLOP/s (gemm worker);   `info` -> a description;   `quit`.
    role: "minigan" (kernels), "torch" (torch.nn.functional) or "gemm" (the bare products, NumPy's BLAS)."""
    import numba

    numba.set_num_threads(nthreads)
    if role == "torch":
        import torch

        torch.set_num_threads(nthreads)
    mod = kernels.select("numpy", kernel_mode)
    if role == "minigan":  # warm every kernel (JIT or cache load) before timing
        for kind, N, Cin, Cout, H in [(k, 2, ci, co, 8) for k in ("conv", "convT") for ci, co in ((1, 64), (64, 64))]:
            for f in minigan_fns(mod, kind, *layer(kind, N, Cin, Cout, H, np.random.default_rng(0))):
                f()
    fns = {}
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[0] == "quit":
            break
        if words[0] == "info":
            if role == "torch":
                import torch

                print(f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
            else:
                print(str(kernels.info("numpy", kernel_mode)).replace("\n", " "), flush=True)
            continue
        if words[0] == "peak":
            print(f"{matmul_peak(int(words[1])):.1f}", flush=True)
            continue
        i, passno, n = (int(w) for w in words[1:])
        if i not in fns:
            _, kind, N, Cin, Cout, H = SHAPES[i]
            x, W, gy = layer(kind, N, Cin, Cout, H, np.random.default_rng(i))
            if role == "minigan":
                fns[i] = minigan_fns(mod, kind, x, W, gy)
            elif role == "torch":
                import torch

                fns[i] = torch_fns(torch, kind, x, W, gy)
            else:
                g_fwd, g_all, _ = gemm_fns(kind, N, Cin, Cout, H, np.random.default_rng(i))
                fns[i] = (g_fwd, lambda g_all=g_all: [g() for g in g_all])
        print(f"{median_ms(fns[i][passno], n):.4f}", flush=True)


def macs_of(kind, N, Cin, Cout, H):
    return gemm_fns(kind, N, Cin, Cout, H, np.random.default_rng(0))[2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--kernels", default=None, help="reference|numba (default: $MINIGAN_KERNELS or numba)")
    ap.add_argument("--no-coldstart", action="store_true")
    ap.add_argument(
        "--threads", type=int, default=None, help="threads for Numba, the products and PyTorch; default: Numba's count"
    )
    ap.add_argument(
        "--torch-malloc-tuned",
        action="store_true",
        help="give PyTorch's process minigan's malloc settings too (default: glibc's, as its users run it)",
    )
    ap.add_argument(
        "--without-blas-overrides",
        action="store_true",
        help="start the timed processes without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (bench/machine.py)",
    )
    ap.add_argument("--worker", choices=["minigan", "torch", "gemm"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    import numba

    nthreads = args.threads or numba.get_num_threads()
    if args.worker:
        return worker(args.worker, args.kernels, nthreads)

    mode = ["--kernels", args.kernels] if args.kernels else []
    workers = {
        role: WorkerProcess(
            os.path.abspath(__file__),
            ["--worker", role, "--threads", str(nthreads)] + mode,
            role,
            worker_environment(role, args.torch_malloc_tuned, args.without_blas_overrides),
        )
        for role in ("minigan", "torch", "gemm")
    }
    print(machine.describe(worker_environment("minigan", without_blas_overrides=args.without_blas_overrides)))
    peak = float(workers["gemm"].ask(f"peak {args.repeats}"))
    print(f"minigan kernels: {workers['minigan'].ask('info')}")
    print(f"{workers['torch'].ask('info')}; numpy {np.__version__}")
    print(f"load average at start (other processes share these cores): {os.getloadavg()}")
    print(
        f"float32 matmul peak (2048^3, numpy/BLAS): {peak:.0f} GFLOP/s;  median of {args.repeats} repeats, "
        "minigan / torch / bare products each in its own process\n"
    )

    hdr = (
        f"{'shape':30s} {'pass':8s} {'minigan ms':>10s} {'torch ms':>9s} {'ratio':>6s} "
        f"{'mg GF/s':>8s} {'pt GF/s':>8s} {'matmul ms':>9s} {'mg/matmul':>9s}"
    )
    print(hdr)
    print("-" * len(hdr))
    totals = {"fwd": [0.0, 0.0, 0.0], "fwd+bwd": [0.0, 0.0, 0.0]}
    worst = {"fwd": 0.0, "fwd+bwd": 0.0}
    block = max(1, args.repeats // 3)
    for i, (name, kind, N, Cin, Cout, H) in enumerate(SHAPES):
        macs = macs_of(kind, N, Cin, Cout, H)
        for passno, (passname, nprod) in enumerate((("fwd", 1), ("fwd+bwd", 3))):
            # three rounds, each worker in turn, so that drift in the machine's load hits all of them alike
            t = {role: [] for role in workers}
            for _ in range(3):
                for role, w in workers.items():
                    time.sleep(QUIET_S)  # let the previous worker's spinning threads go to sleep
                    t[role].append(float(w.ask(f"time {i} {passno} {block}")))
            a, b, c = (float(np.median(t[role])) for role in ("minigan", "torch", "gemm"))
            flop = 2.0 * macs * nprod
            print(
                f"{name:30s} {passname:8s} {a:10.2f} {b:9.2f} {a / b:6.2f} {flop / a / 1e6:8.1f} "
                f"{flop / b / 1e6:8.1f} {c:9.2f} {a / c:9.2f}",
                flush=True,
            )
            for j, v in enumerate((a, b, c)):
                totals[passname][j] += v
            worst[passname] = max(worst[passname], a / b)
    for w in workers.values():
        w.close()
    print("-" * len(hdr))
    for passname, (a, b, c) in totals.items():
        print(
            f"{'SUM over six shapes':30s} {passname:8s} {a:10.2f} {b:9.2f} {a / b:6.2f} {'':8s} {'':8s} "
            f"{c:9.2f} {a / c:9.2f}   (worst single-shape ratio {worst[passname]:.2f})"
        )
    print("targets (fwd+bwd): sum <= 0.8x torch, no shape > 1.2x, each shape <= 1.5x its bare matmuls")
    print(f"load average at end: {os.getloadavg()}")

    if not args.no_coldstart and kernels.select("numpy", args.kernels).__name__ == "minigan_kernels.cpu":
        cs = cold_start()
        print("\nJIT start-up, fresh process (import kernels + first conv2d/conv_transpose2d/conv2d_weight, float32):")
        for label, (imp, first, total, name) in cs.items():
            print(f"  {label:4s} cache: import {imp:6.2f} s, first calls {first:6.2f} s, whole process {total:6.2f} s")


if __name__ == "__main__":
    main()
