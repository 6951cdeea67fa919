"""The ``minigan`` command.

    minigan train wgan-gp --data shapes --epochs 20 --batch-size 8 --out runs/NAME [--device cuda] [--resume]
    minigan sample --checkpoint runs/NAME/checkpoint.safetensors [--n 64] [--out samples.png]
    minigan demo [--quick] [--out DIR]       # source 000, shortened: figures + report.md in DIR
    minigan info                             # what minigan runs on (NumPy/CuPy, kernels, BLAS, threads)
"""
from __future__ import annotations

import argparse
import json
import os
import sys

__all__ = ["main", "build_parser"]


def build_parser():
    parser = argparse.ArgumentParser(prog="minigan", description="generative models on minigan's autograd engine")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model with checkpoints, a metrics log and --resume")
    train.add_argument("model", choices=["wgan-gp"])
    train.add_argument("--data", default="shapes", choices=["shapes"], help="source 000's training shapes")
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--batch-size", type=int, default=8)
    train.add_argument("--out", required=True, help="run directory (checkpoint, metrics.jsonl, samples)")
    train.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    train.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--width", type=int, default=16, help="channels of the first critic layer")
    train.add_argument("--n-critic", type=int, default=5)
    train.add_argument("--lambda-gp", type=float, default=10.0)
    train.add_argument("--lr", type=float, default=1e-4)
    train.add_argument("--latent-dim", type=int, default=128)
    train.add_argument("--n-per-class", type=int, default=300, help="training images per class")
    train.add_argument("--checkpoint-every", type=int, default=100, help="steps between checkpoints")
    train.add_argument("--sample-epochs", type=int, nargs="*", default=None,
                       help="epochs after which to save a grid of samples (default: 0 and the last)")
    train.add_argument("--no-progress", action="store_true")

    sample = commands.add_parser("sample", help="images from a trained generator")
    sample.add_argument("--checkpoint", required=True)
    sample.add_argument("--n", type=int, default=64)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", default=None, help="PNG grid (default: next to the checkpoint)")
    sample.add_argument("--npy", default=None, help="also save the images (n, 3, 64, 64) as .npy")

    demo = commands.add_parser("demo", help="the shortened source-000 experiment: figures and a report")
    demo.add_argument("--quick", action="store_true", help="a seconds-long smoke run of every step")
    demo.add_argument("--out", default="demo_out")
    demo.add_argument("--epochs", type=int, default=None, help="main run (default 2; --quick: 2 tiny ones)")
    demo.add_argument("--no-progress", action="store_true")

    commands.add_parser("info", help="print what minigan runs on")
    return parser


def _train_wgan_gp(args):
    import numpy as np
    import minigan as mg
    from .data import DataLoader, shapes_train
    from .models import WGANCritic, WGANGenerator
    from .training import NonFiniteLossError, WGANGP, fit

    mg.manual_seed(args.seed)
    images, _, _ = shapes_train(n_per_class=args.n_per_class, seed=args.seed)
    loader = DataLoader(images, batch_size=args.batch_size, shuffle=True, seed=args.seed, drop_last=True,
                        device=args.device)
    generator = WGANGenerator(latent_dim=args.latent_dim, width=args.width).to(args.device)
    critic = WGANCritic(width=args.width).to(args.device)
    model = WGANGP(generator, critic, n_critic=args.n_critic, lambda_gp=args.lambda_gp, lr=args.lr)
    sample_z = mg.tensor(np.random.default_rng(args.seed + 1000).standard_normal((32, args.latent_dim))
                         .astype(np.float32), device=args.device)
    config = {"model": "wgan-gp", "data": args.data, "epochs": args.epochs, "batch_size": args.batch_size,
              "seed": args.seed, "width": args.width, "n_critic": args.n_critic, "lambda_gp": args.lambda_gp,
              "lr": args.lr, "betas": [0.0, 0.9], "latent_dim": args.latent_dim, "n_per_class": args.n_per_class}
    sample_epochs = tuple(args.sample_epochs) if args.sample_epochs is not None else (0, args.epochs)
    try:
        result = fit(model, loader, args.epochs, args.out, checkpoint_every=args.checkpoint_every,
                     resume=args.resume, sample_epochs=sample_epochs, sample_z=sample_z,
                     progress=not args.no_progress, extra={"config": config}, description="wgan-gp")
    except NonFiniteLossError as error:
        print(f"minigan train: {error}", file=sys.stderr)
        return 3
    with open(os.path.join(args.out, "config.json"), "w") as file:
        json.dump(dict(config, steps=result["step"], wall_seconds=round(result["elapsed"], 2)), file, indent=1)
    from . import viz
    viz.loss_curves(os.path.join(args.out, "metrics.jsonl"), os.path.join(args.out, "losses.png"),
                    keys=("critic_loss", "gp", "wasserstein"))
    print(f"trained {result['step']} steps in {result['elapsed']:.1f} s; checkpoint {result['checkpoint']}")
    return 0


def _sample(args):
    import numpy as np
    import minigan as mg
    from . import viz
    from .models import WGANGenerator
    from .serialization import load
    state = load(args.checkpoint)
    config = state["extra"]["config"]
    generator = WGANGenerator(latent_dim=int(config["latent_dim"]), width=int(config["width"]))
    generator.load_state_dict(state["trainable"]["generator"])
    generator.eval()
    z = mg.tensor(np.random.default_rng(args.seed).standard_normal((args.n, generator.latent_dim)).astype(np.float32))
    with mg.no_grad():
        images = generator(z).numpy()
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "samples.png")
    viz.save_image_grid(images, out, title=f"{args.n} samples, step {state['step']}")
    if args.npy:
        np.save(args.npy, images)
    print(f"wrote {out}")
    return 0


def _demo(args):
    from .experiments import wgan_shapes as demo
    argv = ["--out", args.out]
    if args.quick:
        argv.append("--quick")
    else:
        # a few minutes on a 2-core CPU: width 8, main run 2 epochs (150 generator steps, 750 critic steps),
        # a retraining from scratch at 1 epoch; the full experiment is demos/wgan_shapes.py (20 epochs)
        epochs = args.epochs or 2
        argv += ["--epochs", str(epochs), "--short-epochs", "1", "--width", "8", "--baseline-seeds", "2"]
    if args.no_progress:
        argv.append("--no-progress")
    demo.main(argv)
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        return _train_wgan_gp(args)
    if args.command == "sample":
        return _sample(args)
    if args.command == "demo":
        return _demo(args)
    if args.command == "info":
        from .backend import info     # (``minigan.info`` the name may be shadowed by the submodule minigan/info.py)
        print(info())
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
