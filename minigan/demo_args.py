"""The flags every training demo shares, and the check that a demo never replaces an earlier run unasked.

    parser = argparse.ArgumentParser(description=__doc__)
    demo_args.add_run_flags(parser, out="demo_out/cgan_mnist", epochs=True, progress=True, resumable=True)
    parser.add_argument(...)                      # the demo's own flags
    args = parser.parse_args(argv)
    demo_args.refuse_to_replace_a_run(parser, args)   # before any training

A demo's ``--out`` holds its report and one or more run directories of ``fit``. Run into an ``--out`` that
already holds them, a demo stops with a usage error (exit status 2) naming the directory, unless asked for
``--overwrite`` (replace the runs, as ``minigan train --overwrite`` does) or ``--resume`` (continue the runs;
fit refuses a resume with other settings). --resume is offered where the demo trains through ``fit`` with
checkpoints and its report reads only the trained model and the metrics log (bigan, cgan, infogan); demos that
gather figures in callbacks during training (dcgan's sample grids, ssgan's per-epoch accuracy) or that train
without checkpoints (the RBM, DBN, VAE, interpolation and adversarial-loop demos) offer --overwrite only.
"""

from __future__ import annotations

import argparse
import os

from . import argtypes
from .training import CHECKPOINT_NAME, CONFIG_NAME, METRICS_NAME

__all__ = ["RUN_FILES", "add_run_flags", "existing_run_files", "refuse_to_replace_a_run"]

# what a demo writes that a second run would replace: fit's run files (in sub-directories) and the report
RUN_FILES = (CHECKPOINT_NAME, METRICS_NAME, CONFIG_NAME, "report.json", "report.md")


def add_run_flags(
    parser: argparse.ArgumentParser,
    out: str,
    *,
    seed: int = 0,
    epochs: bool = False,
    progress: bool = False,
    resumable: bool = False,
    quick_help: str = "a seconds-long smoke run, numbers meaningless",
) -> None:
    """Add --out (default ``out``), --quick, --seed (default ``seed``), --overwrite, and as asked --epochs
    (default None: the demo's own), --no-progress and --resume (only for demos whose runs can continue)."""
    parser.add_argument("--out", default=out, help=f"output directory (default: {out})")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--seed", type=argtypes.seed, default=seed)
    if epochs:
        parser.add_argument("--epochs", type=argtypes.positive_int, default=None)
    if progress:
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    replace_or_continue = parser.add_mutually_exclusive_group()
    replace_or_continue.add_argument(
        "--overwrite", action="store_true", help="replace the runs and report already in --out"
    )
    if resumable:
        replace_or_continue.add_argument(
            "--resume", action="store_true", help="continue the runs in --out from their checkpoints"
        )


def existing_run_files(out: str) -> list[str]:
    """The files in ``out`` or its sub-directories that a demo run into ``out`` would replace (sorted)."""
    found = []
    for directory, _subdirectories, names in os.walk(out):
        found.extend(os.path.join(directory, name) for name in names if name in RUN_FILES)
    return sorted(found)


def refuse_to_replace_a_run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Stop with a usage error when ``args.out`` holds an earlier run and neither --overwrite nor --resume
    was given; call it after parsing, before training anything."""
    if args.overwrite or getattr(args, "resume", False):
        return
    found = existing_run_files(args.out)
    if not found:
        return
    shown = ", ".join(os.path.relpath(path, args.out) for path in found[:4]) + (", ..." if len(found) > 4 else "")
    ways_on = "--overwrite to replace it"
    if hasattr(args, "resume"):
        ways_on = "--resume to continue it or " + ways_on
    parser.error(f"{args.out} already holds a run ({shown}): pass {ways_on}, or another --out")
