"""Profiles of what stands in the way of issue 17's remaining goals (bench/README.md,
"What stands in the way (profiles, 2026-12-05)"). One thread, CPU time; shares, not wall ratios, are the result on a shared machine.

    python bench/profile_obstacles.py wgan  [--steps 3]     # (a) one source-000 WGAN-GP step: minigan by op type + cProfile
    python bench/profile_obstacles.py torch [--steps 3]     # (a) PyTorch's same step under torch.profiler
    python bench/profile_obstacles.py memory MODEL [--side torch]  # (b) RSS after import / warm-up / one epoch, tracemalloc
    python bench/profile_obstacles.py chain                 # (c) cProfile of the 601-op chain's backward sweep
    python bench/profile_obstacles.py rbm [rbm-pcd] [--side torch]  # (d) one RBM CD-1 epoch: products, sampling...
    python bench/profile_obstacles.py mlp-gan [--side torch]        # (d) one MLP GAN epoch: by op type + cProfile

Kept because the closing note of issue 17 quotes its tables and the next round re-runs them.  The op-type
split wraps each Function subclass's `forward` (the arithmetic of a forward op and of every backward op,
which are primitives run through apply) with a CPU-time counter, in this process only; no library code changes.
"""

from __future__ import annotations

import argparse
import cProfile
import collections
import io
import os
import pstats
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
os.environ.setdefault("MINIGAN_PRECOMPILE", "0")


def _status_mib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def category(name):
    lowered = name.lower()
    if "conv" in lowered or "winograd" in lowered:
        return "conv kernels"
    if lowered in ("matmul", "linear", "addmm", "mm", "bmm") or "matmul" in lowered or "linear" in lowered:
        return "BLAS (matmul/linear)"
    if "norm" in lowered:
        return "batch norm"
    return "elementwise/reductions/shape"


def timed_forwards(totals, clock=time.thread_time):
    """Wrap every Function subclass's own forward with a counter of its time by `clock` (CPU time of this
    thread by default) keyed by the class name."""
    from minigan.function import Function

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    for cls in set(subclasses(Function)):
        if "forward" not in cls.__dict__:
            continue
        original = cls.__dict__["forward"]

        def wrapped(self, *arrays, _original=original, _name=cls.__name__):
            start = clock()
            try:
                return _original(self, *arrays)
            finally:
                entry = totals[_name]
                entry[0] += clock() - start
                entry[1] += 1

        cls.forward = wrapped


def wgan_models(width=16, batch=8):
    import numpy as np
    import minigan as mg
    from minigan.models import WGANCritic, WGANGenerator
    from minigan.trainers.wgan_gp import WGANGP
    from minigan.data import shapes_train

    mg.manual_seed(0)
    G, D = WGANGenerator(latent_dim=128, width=width), WGANCritic(width=width)
    images, _, _ = shapes_train(n_per_class=batch)
    real = images[np.random.default_rng(0).permutation(len(images))[:batch]]
    return G, D, WGANGP(G, D, n_critic=5), real


def profile_wgan(steps):
    import numba

    numba.set_num_threads(1)
    import minigan as mg

    G, D, model, real = wgan_models()
    real = mg.tensor(real)
    for _ in range(2):
        model.train_step(real)  # JIT and first allocations
    totals = collections.defaultdict(lambda: [0.0, 0])
    timed_forwards(totals)
    from minigan import optim

    opt_time = [0.0]
    original_step = optim.Adam.step

    def step(self, *a, **k):
        start = time.thread_time()
        try:
            return original_step(self, *a, **k)
        finally:
            opt_time[0] += time.thread_time() - start

    optim.Adam.step = step
    start = time.thread_time()
    for _ in range(steps):
        model.train_step(real)
    total = (time.thread_time() - start) / steps * 1e3
    by_cat = collections.defaultdict(float)
    for name, (seconds, _) in totals.items():
        by_cat[category(name)] += seconds / steps * 1e3
    arithmetic = sum(by_cat.values())
    adam = opt_time[0] / steps * 1e3
    print(f"minigan WGAN-GP step (width 16, batch 8, n_critic 5), one thread, CPU ms per step: {total:.1f}")
    for cat, ms in sorted(by_cat.items(), key=lambda kv: -kv[1]):
        print(f"  {cat:30s} {ms:8.1f} ms  {ms / total:6.1%}")
    print(f"  {'Adam steps':30s} {adam:8.1f} ms  {adam / total:6.1%}")
    rest = total - arithmetic - adam
    print(f"  {'engine Python (the rest)':30s} {rest:8.1f} ms  {rest / total:6.1%}")
    print("top op types (forward arrays of forward and backward ops), ms per step, calls per step:")
    for name, (seconds, calls) in sorted(totals.items(), key=lambda kv: -kv[1][0])[:18]:
        print(
            f"  {name:28s} {seconds / steps * 1e3:8.2f} ms {calls // steps:6d} calls  {seconds / calls * 1e6:8.1f} us/call"
        )
    optim.Adam.step = original_step
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    model.train_step(real)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    print(out.getvalue())


def profile_torch(steps):
    import torch
    from torch.profiler import ProfilerActivity, profile
    from bench_wgan_step import torch_networks, torch_step

    torch.set_num_threads(1)
    G, D, _, real = wgan_models()
    tG, tD = torch_networks(16, 128)
    for ours, theirs in ((G, tG), (D, tD)):
        theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    opt_g = torch.optim.Adam(tG.parameters(), lr=1e-4, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(tD.parameters(), lr=1e-4, betas=(0.0, 0.9))
    treal = torch.from_numpy(real.copy())
    for _ in range(2):
        torch_step(tG, tD, opt_g, opt_d, treal, 5, 10.0, 128)
    start = time.thread_time()
    for _ in range(steps):
        torch_step(tG, tD, opt_g, opt_d, treal, 5, 10.0, 128)
    print(f"PyTorch WGAN-GP step, one thread, CPU ms per step: {(time.thread_time() - start) / steps * 1e3:.1f}")
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            torch_step(tG, tD, opt_g, opt_d, treal, 5, 10.0, 128)
    print(f"(profiled {steps} steps; divide by {steps})")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))


def _resident_by_mapping():
    """Resident MiB per mapping (file name, [heap], [anonymous]...) from /proc/self/smaps."""
    mappings = collections.defaultdict(float)
    with open("/proc/self/smaps") as smaps:
        name = None
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and not fields[0].endswith(":"):
                name = fields[5] if len(fields) > 5 else "[anonymous]"
                name = os.path.basename(name) if name.startswith("/") else name
            elif fields[0] == "Rss:":
                mappings[name] += int(fields[1]) / 1024
    return mappings


def profile_memory(model_name, side):
    import tracemalloc

    lines = [f"after interpreter start: RSS {_status_mib('VmRSS'):.0f} MiB"]
    import numpy  # noqa: F401

    lines.append(f"after import numpy: RSS {_status_mib('VmRSS'):.0f} MiB")
    import numba

    numba.set_num_threads(1)
    import minigan  # noqa: F401
    import minigan_kernels as kernels

    kernels.select("numpy")
    lines.append(f"after import minigan + kernels.select: RSS {_status_mib('VmRSS'):.0f} MiB")
    from bench_models import minigan_epoch, torch_epoch

    epoch, weights = minigan_epoch(model_name)
    if side == "torch":
        import torch

        torch.set_num_threads(1)
        epoch = torch_epoch(model_name, weights)
        lines.append(f"after import torch: RSS {_status_mib('VmRSS'):.0f} MiB")
    built = _status_mib("VmRSS")
    before = _resident_by_mapping()
    lines.append(f"model and data built: RSS {built:.0f} MiB")
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    tracemalloc.start()
    epoch()
    current, peak = tracemalloc.get_traced_memory()
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    lines.append(
        f"after first epoch: RSS {_status_mib('VmRSS'):.0f} MiB, peak {_status_mib('VmHWM'):.0f} MiB "
        f"(peak above built {_status_mib('VmHWM') - built:.0f}); tracemalloc (NumPy arrays and Python "
        f"objects allocated during the epoch): still live {current / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB"
    )
    after = _resident_by_mapping()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    second = _status_mib("VmRSS")
    epoch()
    lines.append(
        f"second epoch: RSS {_status_mib('VmRSS'):.0f} MiB, peak above its start {_status_mib('VmHWM') - second:.0f} MiB"
    )
    print(f"[{model_name}, {side}]")
    print("\n".join(lines))
    print("tracemalloc, largest live allocation sites after the first epoch:")
    for stat in snapshot.statistics("lineno")[:6]:
        print(f"  {stat.size / 2**20:7.2f} MiB {stat.count:6d} blocks  {stat.traceback[0]}")
    print("resident growth over the first epoch by mapping (smaps), largest:")
    growth = {name: after[name] - before.get(name, 0.0) for name in after}
    for name, mib in sorted(growth.items(), key=lambda kv: -kv[1])[:6]:
        print(f"  {mib:+7.1f} MiB  {name} (now {after[name]:.1f})")


def _functions_of(loss):
    """Every Function in loss's graph."""
    seen, stack = {}, [loss.creator]
    while stack:
        function = stack.pop()
        if function is None or id(function) in seen:
            continue
        seen[id(function)] = function
        stack.extend(t.creator for t in function.inputs)
    return list(seen.values())


def profile_chain():
    import numba

    numba.set_num_threads(1)
    import minigan as mg
    import minigan.functional as F

    x = mg.randn(8, requires_grad=True)

    def forward():
        h = x
        for i in range(200):
            h = F.tanh(h * 1.01 + 0.1) if i % 2 else h * h * 0.5 + h
        return h.sum()

    for _ in range(3):
        forward().backward()
        x.grad = None
    runs = 200
    ops = 601 * runs
    losses = [forward() for _ in range(runs)]
    start = time.thread_time()
    for loss in losses:
        loss.backward()
    sweep = (time.thread_time() - start) / ops * 1e6
    x.grad = None
    # the same sweep with every op's backward method timed (its primitives' applies included)
    from minigan.function import Function

    inside = [0.0, 0]
    originals = {}
    for cls in {type(f) for f in _functions_of(forward())}:
        originals[cls] = cls.__dict__.get("backward")

        def timed(self, *grads, _original=cls.backward):
            start = time.thread_time()
            try:
                return _original(self, *grads)
            finally:
                inside[0] += time.thread_time() - start
                inside[1] += 1

        cls.backward = timed
    losses = [forward() for _ in range(runs)]
    start = time.thread_time()
    for loss in losses:
        loss.backward()
    timed_sweep = (time.thread_time() - start) / ops * 1e6
    clock = time.thread_time()
    for _ in range(100000):
        time.thread_time()
    clock = (time.thread_time() - clock) / 100000 * 1e6  # one clock read, us
    for cls, original in originals.items():
        if original is None:
            del cls.backward
        else:
            cls.backward = original
    x.grad = None
    in_backward = inside[0] / ops * 1e6
    print(
        f"backward sweep of the 601-op chain, no profiler, one thread: {sweep:.2f} us per op; with each op's "
        f"backward timed: {timed_sweep:.2f} us per op, of which the ops' backward methods (their primitive "
        f"applies included) {in_backward:.2f} us and the sweep's own bookkeeping "
        f"{timed_sweep - in_backward - 2 * clock:.2f} us (two clock reads of {clock:.2f} us taken out); "
        f"{inside[1] / runs:.0f} backward calls per run; {Function.__name__} subclasses: "
        f"{sorted(cls.__name__ for cls in originals)}"
    )
    losses = [forward() for _ in range(runs)]
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    for loss in losses:
        loss.backward()
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    print(
        f"backward sweep of the 601-op chain under cProfile: {total / ops * 1e6:.2f} us per op (profiled; "
        f"cProfile inflates, shares matter)"
    )
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:22]
    print(f"{'tottime us/op':>13s} {'cumtime us/op':>13s} {'calls/op':>8s}  function")
    for (filename, line, func), (cc, nc, tt, ct, _) in rows:
        where = f"{os.path.relpath(filename, os.path.dirname(HERE)) if filename.startswith('/') else filename}:{line}({func})"
        print(f"{tt / ops * 1e6:13.2f} {ct / ops * 1e6:13.2f} {nc / ops:8.2f}  {where}")


def timed_attribute(owner, attribute, totals, key, clock=time.thread_time):
    """Replace owner.attribute (a function looked up at call time) with one that adds its time by `clock`
    (CPU time of this thread by default) and calls to totals[key]; returns the function that puts the original
    back."""
    original = getattr(owner, attribute)

    def wrapped(*args, **kwargs):
        start = clock()
        try:
            return original(*args, **kwargs)
        finally:
            entry = totals[key]
            entry[0] += clock() - start
            entry[1] += 1

    setattr(owner, attribute, wrapped)
    return lambda: setattr(owner, attribute, original)


def _epoch_ms(epoch, clock=time.thread_time):
    start = clock()
    epoch()
    return (clock() - start) * 1e3


def _clock(threads):
    """CPU time of this thread for one thread; wall time for more (the BLAS workers' time is then
    elsewhere), which on a shared machine counts waiting for a core too."""
    return (time.thread_time, "CPU") if threads == 1 else (time.perf_counter, "wall")


def _print_cprofile(epoch, rows=22):
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    epoch()
    profiler.disable()
    stats = pstats.Stats(profiler)
    print(f"cProfile of one more epoch ({stats.total_tt * 1e3:.0f} ms profiled; cProfile inflates, shares matter):")
    print(f"{'tottime ms':>10s} {'cumtime ms':>10s} {'calls':>7s}  function")
    for (filename, line, func), (cc, nc, tt, ct, _) in sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:rows]:
        where = f"{os.path.relpath(filename, os.path.dirname(HERE)) if filename.startswith('/') else filename}:{line}({func})"
        print(f"{tt * 1e3:10.1f} {ct * 1e3:10.1f} {nc:7d}  {where}")


def _torch_epoch_profile(model, threads, epochs):
    """PyTorch's epoch of bench_models.py: CPU ms of one epoch, then torch.profiler's table of another."""
    import torch
    from torch.profiler import ProfilerActivity, profile
    from bench_models import minigan_epoch, torch_epoch

    torch.set_num_threads(threads)
    clock, kind = _clock(threads)
    epoch = torch_epoch(model, minigan_epoch(model)[1])
    epoch()  # first allocations
    times = [_epoch_ms(epoch, clock) for _ in range(epochs)]
    print(f"PyTorch {model} epoch, {threads} thread(s), {kind} ms: {sum(times) / epochs:.1f} (mean of {epochs})")
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        epoch()
    print("torch.profiler, one more epoch:")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=22))


def _minigan_products(totals, clock):
    """Time the kernel module's matmul (every product of the MLPs and the RBM) and, inside it, the private
    BLAS calls (the rest of matmul's time is NumPy's `@` for the small products and the checks)."""
    import minigan_kernels
    from minigan_kernels import products

    module = minigan_kernels.select("numpy")
    return [
        timed_attribute(module, "matmul", totals, "products (kernels matmul)", clock),
        timed_attribute(products, "_matmul_2d", totals, "  of which private BLAS", clock),
        timed_attribute(products, "_matmul_batch", totals, "  of which private BLAS", clock),
    ]


def _print_items(title, total, totals, epochs, outside):
    """Rows of totals (CPU s, calls over `epochs` epochs) as ms per epoch and shares; `outside` names the rows
    that do not overlap, whose sum is taken from the total to give "the rest"."""
    print(title)
    for key, (seconds, calls) in sorted(totals.items(), key=lambda kv: -kv[1][0]):
        ms = seconds / epochs * 1e3
        print(
            f"  {key:44s} {ms:8.1f} ms {ms / total:6.1%} {calls // epochs:7d} calls {seconds / max(calls, 1) * 1e6:8.1f} us/call"
        )
    rest = total - sum(totals[key][0] for key in outside) / epochs * 1e3
    print(f"  {'the rest (see the cProfile table)':44s} {rest:8.1f} ms {rest / total:6.1%}")


def profile_rbm(model, side, epochs, threads):
    if side == "torch":
        return _torch_epoch_profile(model, threads, epochs)
    import numba

    numba.set_num_threads(threads)
    clock, kind = _clock(threads)
    import numpy as np
    from minigan import optim
    from minigan.models import rbm as rbm_module
    from bench_models import minigan_epoch

    epoch, _ = minigan_epoch(model)
    epoch()  # JIT, first allocations, momentum buffers
    plain = sum(_epoch_ms(epoch, clock) for _ in range(epochs)) / epochs
    totals = collections.defaultdict(lambda: [0.0, 0])
    restore = _minigan_products(totals, clock)
    restore += [
        timed_attribute(rbm_module, "_sigmoid", totals, "sigmoid (0.5 * (1 + tanh(a / 2)))", clock),
        timed_attribute(rbm_module.RBM, "bernoulli", totals, "Bernoulli sampling (random < p, astype)", clock),
        timed_attribute(optim.SGD, "step", totals, "SGD step (momentum, weight decay)", clock),
        timed_attribute(rbm_module.RBM, "cd_gradients", totals, "cd_gradients (cumulative: 2 products...)", clock),
    ]
    timed = sum(_epoch_ms(epoch, clock) for _ in range(epochs)) / epochs
    for put_back in reversed(restore):
        put_back()
    print(
        f"minigan {model} epoch, {threads} thread(s), {kind} ms: {plain:.1f} (mean of {epochs}; with the items timed: {timed:.1f})"
    )
    outside = [
        "products (kernels matmul)",
        "sigmoid (0.5 * (1 + tanh(a / 2)))",
        "Bernoulli sampling (random < p, astype)",
        "SGD step (momentum, weight decay)",
    ]
    _print_items(f"items, {kind} ms per epoch (shares of the timed epoch):", timed, totals, epochs, outside)
    # what a Bernoulli draw of one batch costs, split: the uniform draw, then the comparison and the cast
    generator = np.random.default_rng(0)
    for shape in ((20, 500), (20, 784)):
        p = generator.random(shape, dtype=np.float32)
        reps = 2000
        start = time.thread_time()
        for _ in range(reps):
            u = generator.random(shape, dtype=np.float32)
        draw = (time.thread_time() - start) / reps * 1e6
        start = time.thread_time()
        for _ in range(reps):
            (u < p).astype(np.float32)
        cast = (time.thread_time() - start) / reps * 1e6
        start = time.thread_time()
        for _ in range(reps):
            0.5 * (1.0 + np.tanh(0.5 * p))
        sigmoid = (time.thread_time() - start) / reps * 1e6
        print(
            f"  one {shape} batch: uniform draw {draw:.1f} us, compare + astype {cast:.1f} us; "
            f"sigmoid by tanh {sigmoid:.1f} us"
        )
    _print_cprofile(epoch)


def profile_mlp_gan(side, epochs, threads):
    if side == "torch":
        return _torch_epoch_profile("mlp-gan", threads, epochs)
    import numba

    numba.set_num_threads(threads)
    clock, kind = _clock(threads)
    from minigan import optim
    from bench_models import minigan_epoch

    epoch, _ = minigan_epoch("mlp-gan")
    epoch()  # JIT, first allocations, Adam state
    plain = sum(_epoch_ms(epoch, clock) for _ in range(epochs)) / epochs
    print(f"minigan mlp-gan epoch, {threads} thread(s), {kind} ms: {plain:.1f} (mean of {epochs})")
    _print_cprofile(epoch)  # before the forwards are wrapped (for good, in this process)
    op_totals = collections.defaultdict(lambda: [0.0, 0])
    timed_forwards(op_totals, clock)
    totals = collections.defaultdict(lambda: [0.0, 0])
    restore = _minigan_products(totals, clock)
    restore.append(timed_attribute(optim.Adam, "step", totals, "Adam steps", clock))
    timed = sum(_epoch_ms(epoch, clock) for _ in range(epochs)) / epochs
    for put_back in reversed(restore):
        put_back()
    by_category = collections.defaultdict(lambda: [0.0, 0])
    for name, (seconds, calls) in op_totals.items():
        entry = by_category[f"ops: {category(name)}"]
        entry[0] += seconds
        entry[1] += calls
    print(f"with the items timed: {timed:.1f} ms per epoch")
    rows = dict(by_category)
    rows.update(totals)
    outside = [key for key in rows if key.startswith("ops:")] + ["Adam steps"]
    _print_items(
        f"items, {kind} ms per epoch (ops: the forward arrays of forward and backward ops; products: inside them):",
        timed,
        rows,
        epochs,
        outside,
    )
    print("top op types, ms per epoch, calls per epoch:")
    for name, (seconds, calls) in sorted(op_totals.items(), key=lambda kv: -kv[1][0])[:16]:
        print(
            f"  {name:28s} {seconds / epochs * 1e3:8.1f} ms {calls // epochs:7d} calls {seconds / calls * 1e6:8.1f} us/call"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["wgan", "torch", "memory", "chain", "rbm", "mlp-gan"])
    parser.add_argument("model", nargs="?", default=None, help="memory: vae-2 unless named; rbm: rbm-cd1 or rbm-pcd")
    parser.add_argument("--threads", type=int, default=1, help="rbm, mlp-gan: threads per side (more: wall time)")
    parser.add_argument("--epochs", type=int, default=2, help="rbm, mlp-gan: timed epochs (after one untimed)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument(
        "--side", choices=["minigan", "torch"], default="minigan", help="memory, rbm, mlp-gan: which side"
    )
    args = parser.parse_args()
    if args.what == "wgan":
        profile_wgan(args.steps)
    elif args.what == "torch":
        profile_torch(args.steps)
    elif args.what == "memory":
        profile_memory(args.model or "vae-2", args.side)
    elif args.what == "rbm":
        profile_rbm(args.model or "rbm-cd1", args.side, args.epochs, args.threads)
    elif args.what == "mlp-gan":
        profile_mlp_gan(args.side, args.epochs, args.threads)
    else:
        profile_chain()


if __name__ == "__main__":
    main()
