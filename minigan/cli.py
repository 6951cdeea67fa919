"""The ``minigan`` command.

    minigan train FAMILY --out RUN [--epochs N --batch-size N --seed N --checkpoint-every N --device cpu|cuda[:N]
                                    --resume | --overwrite] [the family's flags]     # e.g. minigan train wgan-gp --out runs/a
    minigan sample --run RUN [--n 64] [--seed 0] [--out samples.png] [--npy samples.npy]
    minigan evaluate --run RUN                # the family's measurement, printed and written to RUN/evaluation.json
    minigan demo [--quick] [--out DIR]        # source 000, shortened: figures + report.md in DIR
    minigan info                              # what minigan runs on (NumPy/CuPy, kernels, BLAS, threads)

Every family in ``minigan.trainers.FAMILIES`` trains on its built-in data with no other flag; ``minigan train
FAMILY --help`` lists its flags. Every flag is checked when it is parsed (``minigan.argtypes``): a bad value
is a usage error (exit status 2), as is a run directory that holds a run without --resume or --overwrite.
A loss that becomes NaN stops the run with exit status 3, the last good checkpoint kept.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

from . import argtypes

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["build_parser", "main"]

# flags that steer a run without defining it: not part of the settings compared on --resume
RUN_CONTROL = ("command", "out", "resume", "overwrite", "no_progress", "checkpoint_every", "sample_epochs", "epochs")


def _add_run_arguments(parser):
    """The flags every family shares; a family's ``add_arguments`` may change their defaults."""
    parser.add_argument(
        "--out",
        required=True,
        type=argtypes.output_path,
        help="run directory (config.json, checkpoint, metrics.jsonl, samples)",
    )
    parser.add_argument("--epochs", type=argtypes.positive_int, default=10)
    parser.add_argument("--batch-size", type=argtypes.positive_int, default=64)
    parser.add_argument("--seed", type=argtypes.seed, default=0)
    parser.add_argument("--checkpoint-every", type=argtypes.positive_int, default=100, help="steps between checkpoints")
    parser.add_argument("--device", type=argtypes.device, default="cpu", help="cpu, cuda or cuda:N")
    run = parser.add_mutually_exclusive_group()
    run.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    run.add_argument("--overwrite", action="store_true", help="delete the run in --out and start again")
    parser.add_argument(
        "--sample-epochs",
        type=argtypes.non_negative_int,
        nargs="*",
        default=None,
        help="epochs after which to save a grid of samples (default: 0 and the last)",
    )
    parser.add_argument("--no-progress", action="store_true")


def _summary(docstring, width=90):
    """A family's line in ``minigan train --help``: the first sentence of its docstring, at most ``width``
    characters (cut at a word, with "...")."""
    sentence = " ".join(docstring.strip().split("\n\n")[0].split()).split(". ")[0]
    return sentence if len(sentence) <= width else sentence[: width - 3].rsplit(" ", 1)[0] + "..."


def build_parser() -> argparse.ArgumentParser:
    from .trainers import FAMILIES

    parser = argparse.ArgumentParser(prog="minigan", description="generative models on minigan's autograd engine")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model family with checkpoints, a metrics log and --resume")
    families = train.add_subparsers(dest="family", required=True, metavar="FAMILY", help=", ".join(FAMILIES))
    for name, module in FAMILIES.items():
        family = families.add_parser(
            name,
            help=_summary(module.__doc__ or name),
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_run_arguments(family)
        module.add_arguments(family)

    for verb, text in (
        ("sample", "samples of a trained run, as an image grid"),
        ("evaluate", "the family's measurement of a trained run"),
    ):
        command = commands.add_parser(verb, help=text)
        source = command.add_mutually_exclusive_group(required=True)
        source.add_argument("--run", help="a run directory written by `minigan train`")
        source.add_argument("--checkpoint", help="a run's checkpoint.safetensors")
        command.add_argument("--device", type=argtypes.device, default="cpu")
        if verb == "sample":
            command.add_argument("--n", type=argtypes.int_in_range(1, 10_000), default=64)
            command.add_argument("--seed", type=argtypes.seed, default=0)
            command.add_argument(
                "--out", type=argtypes.output_path, default=None, help="PNG grid (default: RUN/samples.png)"
            )
            command.add_argument("--npy", type=argtypes.output_path, default=None, help="also save the samples as .npy")

    demo = commands.add_parser("demo", help="the shortened source-000 experiment: figures and a report")
    demo.add_argument("--quick", action="store_true", help="a seconds-long smoke run of every step")
    demo.add_argument("--out", type=argtypes.output_path, default="demo_out")
    demo.add_argument(
        "--epochs", type=argtypes.positive_int, default=None, help="main run (default 2; --quick: 2 tiny ones)"
    )
    demo.add_argument("--no-progress", action="store_true")

    commands.add_parser("info", help="print what minigan runs on")
    return parser


# --- train ----------------------------------------------------------------------------------------------


def _check_device(args, parser):
    """A usage error if ``--device`` names a GPU this machine cannot use (no CuPy, no CUDA device)."""
    if args.device == "cpu":
        return
    import minigan as mg

    try:
        mg.zeros(1, device=args.device)
    except (RuntimeError, ImportError, ValueError) as error:
        parser.error(f"{args.command}: --device {args.device}: {error}")


def _train(args, parser):
    import minigan as mg

    from .data import DataLoader
    from .trainers import FAMILIES
    from .training import NonFiniteLossError, RunDirectoryError, fit

    if args.sample_epochs and max(args.sample_epochs) > args.epochs:
        parser.error(
            f"train {args.family}: --sample-epochs {max(args.sample_epochs)} is after the last epoch "
            f"(--epochs {args.epochs})"
        )
    _check_device(args, parser)
    module = FAMILIES[args.family]
    mg.manual_seed(args.seed)
    try:
        trainer, dataset = module.build(args)
    except ValueError as error:  # settings that cannot go together (checked by the family)
        parser.error(f"train {args.family}: {error}")
    arrays = dataset if isinstance(dataset, tuple) else (dataset,)
    try:
        if hasattr(module, "make_loader"):  # data that need more than a shuffle (dynamic binarisation)
            loader = module.make_loader(arrays, args.batch_size, args.seed, args.device)
        else:
            loader = DataLoader(
                *arrays, batch_size=args.batch_size, shuffle=True, seed=args.seed, drop_last=True, device=args.device
            )
    except ValueError:  # DataLoader refuses a loader with no full batch
        if args.batch_size <= len(arrays[0]):
            raise
        loader = None
    if loader is None or len(loader) == 0:
        parser.error(
            f"train {args.family}: --batch-size {args.batch_size} is larger than the "
            f"{len(arrays[0])} training examples (every batch must be full)"
        )
    settings = {key: value for key, value in vars(args).items() if key not in RUN_CONTROL}
    sample_epochs = tuple(args.sample_epochs) if args.sample_epochs is not None else (0, args.epochs)
    try:
        result = fit(
            trainer,
            loader,
            args.epochs,
            args.out,
            checkpoint_every=args.checkpoint_every,
            resume=args.resume,
            overwrite=args.overwrite,
            sample_epochs=sample_epochs,
            progress=not args.no_progress,
            settings=settings,
            description=args.family,
        )
    except RunDirectoryError as error:
        parser.error(f"train {args.family}: {error}")
    except NonFiniteLossError as error:
        print(f"minigan train: {error}", file=sys.stderr)
        return 3
    from . import viz

    curves = tuple((getattr(trainer, "progress_fields", None) or {}).values())
    if curves:
        viz.loss_curves(os.path.join(args.out, "metrics.jsonl"), os.path.join(args.out, "losses.png"), keys=curves)
    print(f"trained {result['step']} steps in {result['elapsed']:.1f} s; checkpoint {result['checkpoint']}")
    return 0


# --- sample / evaluate: a trained run, rebuilt from its checkpoint -----------------------------------------


def _load_run(args, parser):
    """(module, trainer, settings, checkpoint state, run directory) of ``--run`` / ``--checkpoint``."""
    import minigan as mg

    from .serialization import SerializationError, load
    from .trainers import FAMILIES
    from .training import CHECKPOINT_NAME

    _check_device(args, parser)
    path = args.checkpoint or os.path.join(args.run, CHECKPOINT_NAME)
    if not os.path.isfile(path):
        parser.error(f"{args.command}: no checkpoint at {path} (is it a run directory written by `minigan train`?)")
    try:
        state = load(path, device=args.device)
    except (SerializationError, OSError) as error:
        parser.error(f"{args.command}: cannot read {path}: {error}")
    extra = state.get("extra") if isinstance(state, dict) else None
    settings = extra.get("config") if isinstance(extra, dict) else None
    if not isinstance(settings, dict) or "trainable" not in state or settings.get("family") not in FAMILIES:
        parser.error(
            f"{args.command}: {path} is not the checkpoint of a run of `minigan train` (it holds "
            f"{', '.join(map(str, list(state)[:8]))}); a file of mg.save holds no family or settings"
        )
    module = FAMILIES[settings["family"]]
    build_args = argparse.Namespace(**dict(settings, device=args.device))
    mg.manual_seed(int(settings.get("seed", 0)))
    trainer, _ = module.build(build_args)
    trainer.load_state_dict(state["trainable"])
    return module, trainer, build_args, state, os.path.dirname(os.path.abspath(path))


def _sample(args, parser):
    import numpy as np

    from .training import draw_samples, save_samples

    _, trainer, settings, state, run_dir = _load_run(args, parser)
    if not hasattr(trainer, "sample"):
        parser.error(f"sample: the family {settings.family!r} draws no samples")
    samples = draw_samples(trainer, args.n, args.seed)
    stem = os.path.splitext(args.out)[0] if args.out else os.path.join(run_dir, "samples")
    written = save_samples(
        samples,
        stem,
        f"{settings.family}: {args.n} samples, step {state['step']}",
        tuple(getattr(trainer, "sample_range", (0.0, 1.0))),
    )
    if args.npy:
        np.save(args.npy, samples.numpy() if hasattr(samples, "numpy") else np.asarray(samples))
    print(f"wrote {written}")
    return 0


def _evaluate(args, parser):
    module, trainer, settings, state, run_dir = _load_run(args, parser)
    if not hasattr(trainer, "evaluate"):
        parser.error(f"evaluate: the family {settings.family!r} has no measurement")
    if hasattr(module, "evaluation_data"):
        data = module.evaluation_data(settings)
    else:
        _, data = module.build(settings)
    results = {"family": settings.family, "step": int(state["step"]), **trainer.evaluate(data)}
    with open(os.path.join(run_dir, "evaluation.json"), "w") as file:
        json.dump(results, file, indent=1)
    print(json.dumps(results, indent=1))
    return 0


def _demo(args, parser):
    """Source 000's experiment, shortened (the full one is demos/wgan_shapes.py): ``minigan train wgan-gp``
    for a main run and a retraining from scratch for a shorter schedule (each resumed if its directory
    holds it), then the critic as a classifier of the 10 test classes (``minigan.critic_classifier``):
    separation tables beside the baselines, histograms, report.md and report.json in ``--out``."""
    from . import critic_classifier, report, viz
    from .data import shapes_test
    from .models import WGANCritic

    if args.quick:  # seconds: tiny networks and data, every step once
        epochs, short, width, baseline_seeds, test_per_class = 2, 1, 2, 1, 6
        sizes = ["--n-per-class", "8", "--n-critic", "1"]
    else:  # a few minutes on a 2-core CPU: width 8, 2 epochs (150 generator, 750 critic steps) + 1
        epochs, short, width, baseline_seeds, test_per_class = args.epochs or 2, 1, 8, 2, 40
        sizes = []
    runs = {f"{e}ep": e for e in sorted({short, epochs})}
    os.makedirs(args.out, exist_ok=True)
    trained = {}
    for name, e in runs.items():
        run_dir = os.path.join(args.out, f"run_{name}")
        seed = 0 if e == epochs else 100 + e  # demos/wgan_shapes.py's seeds
        status = main(
            [
                "train",
                "wgan-gp",
                "--out",
                run_dir,
                "--epochs",
                str(e),
                "--width",
                str(width),
                "--seed",
                str(seed),
                "--checkpoint-every",
                "50",
                "--resume",
                *sizes,
            ]
            + (["--no-progress"] if args.no_progress else [])
        )
        if status != 0:
            return status
        _, trainer, _, state, _ = _load_run(
            argparse.Namespace(run=run_dir, checkpoint=None, device="cpu", command="demo"), parser
        )
        trained[name] = (trainer, int(state["step"]), float(state["extra"]["elapsed"]))

    test_x, test_y, names = shapes_test(n_per_class=test_per_class, seed=1)
    main_run = f"{epochs}ep"
    results = critic_classifier.measure_runs(
        trained,
        runs,
        lambda: WGANCritic(width=width),
        range(baseline_seeds),
        test_x,
        test_y,
        names,
        args.out,
        main=main_run,
    )
    for name in trained:
        viz.loss_curves(
            os.path.join(args.out, f"run_{name}", "metrics.jsonl"),
            os.path.join(args.out, f"losses_{name}.png"),
            keys=("critic_loss", "gp", "wasserstein"),
        )
    rep = report.Report(
        "minigan demo: a WGAN-GP critic as an unsupervised classifier of shapes (source 000, "
        "shortened)" + (" -- QUICK smoke run" if args.quick else ""),
        args.out,
    )
    rep.settings(main_epochs=epochs, short_epochs=short, width=width, batch_size=8, test_images=len(test_x))
    rep.text(
        "Each run is `minigan train wgan-gp` (WGANGP.train_step, Algorithm 1 of Gulrajani et al. 2017); the "
        "full experiment, 20 epochs at width 16, is `python demos/wgan_shapes.py`."
    )
    critic_classifier.report_tables(rep, results, main=main_run)
    rep.save(results)
    summary = results["runs"][main_run]["summary"]
    print(f"main run: {summary['auc_ge_0.9']}/45 pairs AUC >= 0.9; report: {os.path.join(args.out, 'report.md')}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    verbs = {"train": _train, "sample": _sample, "evaluate": _evaluate}
    if args.command in verbs:
        try:
            return verbs[args.command](args, parser)
        except OSError as error:  # a file that cannot be written or read (permissions, disk full)
            print(f"minigan {args.command}: error: {error}", file=sys.stderr)
            return 1
    if args.command == "demo":
        return _demo(args, parser)
    if args.command == "info":
        from .backend import (
            info,  # (``minigan.info`` the name may be shadowed by the submodule minigan/info.py)
        )

        print(info())
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
