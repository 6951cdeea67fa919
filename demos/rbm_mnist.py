"""A restricted Boltzmann machine on binarised mnist5k, trained by CD-1, CD-10 and PCD-1, evaluated by AIS
(source 003; Hinton 2002, Tieleman 2008, Salakhutdinov & Murray 2008).

    python demos/rbm_mnist.py [--quick] [--seed 0] [--out demo_out/rbm_mnist] [--overwrite] # ~12 min on one thread

What it shows: three 784-500 RBMs, identical but for the negative phase -- chains restarted at the data for
k = 1 or 10 Gibbs steps (CD-k) or carried on from update to update (PCD) -- and what each does to the test
log-likelihood, which only an estimate of the partition function gives (AIS, 100 runs, the 14 500
temperatures of S&M 2008, from the base-rate RBM). The update is ``RBMTrainer.train_step`` in
minigan/trainers/rbm.py (the Gibbs chain, the gradient <v h>_data - <v h>_model, the SGD step), one call per
mini-batch, run by ``fit`` over a ``BinarizedLoader`` as ``minigan train rbm`` does; the energies, the Gibbs
step and AIS are minigan/models/rbm.py.

Data: 4 000 training digits re-binarised by a fresh Bernoulli draw each epoch, 1 000 test digits binarised
once (as S&M 2008). Reference: S&M 2008, table 2, 500 hidden units on full MNIST (60 000 digits): CD-1
-125.53, CD-3 -105.50, CD-25 -86.34 nats (quoted from the paper's table as we recall it); baselines printed
beside ours: the independent per-pixel Bernoulli model (exact) and the untrained RBM.

Measured (seed 0, through fit; 13 min 10 s wall, 8 min 34 s CPU on one thread of a shared 2-core machine, AIS
dominating), test log-likelihood in nats per image: independent per-pixel Bernoulli -210.66, untrained RBM
-211.07, CD-1 -153.79, CD-10 -121.01 (AIS unreliable here: effective sample size 17 of 100, and a second run
with twice the temperatures gives -122.81 at 1.6), PCD-1 -128.46 (second run -128.58). AIS on a 784-15 RBM:
182.209 against the exact 182.254 (2^15 terms). PCD has the worst reconstruction error (109 against 75 nats
for CD-1) and pseudo-log-likelihood (-111 against -85),
yet a better likelihood than CD-1 and the best samples: its chains wander between digits, while CD-k chains
started at test digits stick in spurious modes -- Tieleman (2008)'s observation, and why cheap monitors
mislead.
"""

import argparse
import os
import time

import numpy as np

import minigan as mg
from minigan import data, demo_args, report, viz
from minigan.models import RBM, ais_log_partition, log_partition_exact
from minigan.models.rbm import ais_betas, base_rate_biases, independent_bernoulli_log_likelihood
from minigan.trainers.rbm import RBMTrainer
from minigan.training import fit

# -- settings: Hinton (2010)'s guide for CD (momentum 0.5, weight decay 2e-4), Tieleman (2008) for PCD ----
N_HIDDEN, EPOCHS, BATCH = 500, 15, 20  # the source's figure: "after 15 epochs"
METHODS = {  # name -> RBMTrainer settings besides momentum and decay
    "cd1": dict(k=1, persistent=False, lr=0.05),
    "cd10": dict(k=10, persistent=False, lr=0.05),
    "pcd": dict(k=1, persistent=True, lr=0.01, lr_decay=True),  # 20 chains, lr decayed linearly to 0
}
AIS_RUNS, AIS_BETAS = 100, 14500  # S&M 2008's schedule of temperatures
TINY_HIDDEN, TINY_EPOCHS = 15, 10  # AIS against exact enumeration (2^15 terms)
CHAINS, ROWS, STEPS_PER_ROW = 10, 10, 1000  # the samples figure: 10 chains, a row every 1 000 steps
QUICK = dict(
    n_train=500,
    n_hidden=40,
    epochs=1,
    ais_runs=16,
    ais_betas=300,
    tiny_hidden=8,
    tiny_epochs=1,
    rows=2,
    steps_per_row=20,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    demo_args.add_run_flags(parser, "demo_out/rbm_mnist", quick_help="tiny settings: a smoke run in seconds")
    args = parser.parse_args(argv)
    demo_args.refuse_to_replace_a_run(parser, args)  # before any training
    q = QUICK if args.quick else {}
    n_hidden, epochs = q.get("n_hidden", N_HIDDEN), q.get("epochs", EPOCHS)
    ais_runs, betas = q.get("ais_runs", AIS_RUNS), ais_betas(q.get("ais_betas", AIS_BETAS))
    rows, steps_per_row = q.get("rows", ROWS), q.get("steps_per_row", STEPS_PER_ROW)
    rep = report.Report(
        "RBM on binarised mnist5k: CD-1, CD-10, PCD (source 003)" + (" -- QUICK" if args.quick else ""), args.out
    )
    os.makedirs(args.out, exist_ok=True)

    # -- data: mnist5k is sorted by digit; a random subset in quick mode ----------------------------------
    train, test = data.load("mnist5k"), data.load("mnist5k", split="test")
    subset = np.random.default_rng(args.seed).permutation(len(train.x))[: q.get("n_train", len(train.x))]
    x_train = train.x.reshape(len(train.x), -1)[np.sort(subset)]  # grey levels in [0, 1]
    v_train_fixed = data.binarize_dynamic(x_train, rng=args.seed + 100)  # one draw, for train LL
    v_test = data.binarize_dynamic(test.x.reshape(len(test.x), -1), rng=args.seed + 200)  # fixed test draw
    base = base_rate_biases(v_train_fixed)
    show = np.concatenate([np.flatnonzero(test.y == digit)[:2] for digit in range(10)])  # 2 of each digit
    monitor = v_test[np.random.default_rng(args.seed).permutation(len(v_test))[:500]]
    rep.settings(
        n_train=len(x_train),
        n_test=len(v_test),
        n_hidden=n_hidden,
        epochs=epochs,
        batch=BATCH,
        momentum=0.5,
        weight_decay=2e-4,
        ais_runs=ais_runs,
        ais_betas=len(betas),
        seed=args.seed,
    )
    results = {"test_ll": {}, "train_ll": {}, "history": {}, "seconds": {}}

    def log_likelihoods(name, rbm, second_run=True):
        """Test and train LL with log Z by AIS; a second, independent AIS with twice the temperatures."""
        t = time.time()
        mg.manual_seed(args.seed + 1)
        ais = ais_log_partition(rbm, base, n_runs=ais_runs, betas=betas, return_details=True)
        row = {
            "log_z": ais["log_z"],
            "log_z_low": ais["log_z_low"],
            "log_z_high": ais["log_z_high"],
            "ess": ais["effective_sample_size"],
            "test_ll": float(rbm.log_likelihood(v_test, ais["log_z"]).mean()),
            # a larger log Z is a lower likelihood: the +3 s.e. bound gives the pessimistic value
            "test_ll_low": float(rbm.log_likelihood(v_test, ais["log_z_high"]).mean()),
        }
        if second_run:
            mg.manual_seed(args.seed + 5)
            again = ais_log_partition(rbm, base, n_runs=ais_runs, betas=ais_betas(2 * len(betas)), return_details=True)
            row.update(
                log_z_2x=again["log_z"],
                ess_2x=again["effective_sample_size"],
                test_ll_2x=float(rbm.log_likelihood(v_test, again["log_z"]).mean()),
            )
        results["test_ll"][name], results["seconds"][f"ais_{name}"] = row, time.time() - t
        results["train_ll"][name] = float(rbm.log_likelihood(v_train_fixed, ais["log_z"]).mean())
        print(f"{name}: log Z {row['log_z']:.2f}, ESS {row['ess']:.1f}, test LL {row['test_ll']:.2f} nats", flush=True)

    # -- baselines: the independent per-pixel Bernoulli model (exact), the untrained RBM (AIS) ---------------
    results["test_ll"]["independent"] = {"test_ll": independent_bernoulli_log_likelihood(v_train_fixed, v_test)}
    results["train_ll"]["independent"] = independent_bernoulli_log_likelihood(v_train_fixed, v_train_fixed)
    mg.manual_seed(args.seed)
    untrained = RBM(784, n_hidden)
    untrained.b.array[:] = base  # Hinton (2010) sec. 8: start the visible biases here
    log_likelihoods("untrained", untrained, second_run=False)

    # -- the algorithm: CD-k / PCD-k (RBMTrainer.train_step), over dynamically binarised epochs ---------------
    trainers = {}
    for name, options in METHODS.items():
        mg.manual_seed(args.seed)
        rbm = RBM(784, n_hidden)
        rbm.b.array[:] = base
        options = dict(options)
        decay = options.pop("lr_decay", False)
        trainer = RBMTrainer(
            rbm,
            momentum=0.5,
            weight_decay=2e-4,
            **options,
            lr_decay_steps=epochs * (len(x_train) // BATCH) if decay else None,
        )
        history, t = [], time.time()

        def monitors(step, record, rbm=rbm, history=history, name=name, t=t):
            """After each epoch: the cheap monitors (reconstruction error, pseudo-likelihood) on test digits."""
            if record["epoch"] != int(record["epoch"]):
                return
            history.append(
                {
                    "epoch": int(record["epoch"]),
                    "recon_error": rbm.reconstruction_error(monitor),
                    "pseudo_log_likelihood": rbm.pseudo_log_likelihood(monitor, n_bits=20),
                    "seconds": time.time() - t,
                }
            )
            print(
                f"{name} epoch {history[-1]['epoch']}/{epochs}: "
                + ", ".join(f"{k} {v:.4g}" for k, v in history[-1].items() if k != "epoch"),
                flush=True,
            )

        # one RBMTrainer.train_step per mini-batch, each epoch a fresh Bernoulli draw of the grey levels
        loader = data.BinarizedLoader(x_train, batch_size=BATCH, shuffle=True, seed=args.seed, drop_last=True)
        fit(
            trainer,
            loader,
            epochs,
            os.path.join(args.out, f"run_{name}"),
            checkpoint_every=10**9,
            overwrite=True,
            callbacks=(monitors,),
            progress=False,
            description=name,
        )
        results["history"][name], results["seconds"][f"train_{name}"] = history, time.time() - t
        trainers[name] = trainer
        mg.save(rbm.state_dict(), os.path.join(args.out, f"rbm_{name}.safetensors"))  # mg.load to reuse
        log_likelihoods(name, rbm)
        viz.save_filter_grid(
            rbm.W,
            os.path.join(args.out, f"filters_{name}.png"),
            f"RBM {name.upper()} filters: columns of W (first 100 of {n_hidden})",
        )
        mg.manual_seed(args.seed + 2)  # long Gibbs chains from test digits, one row every STEPS_PER_ROW
        frames = rbm.sample(CHAINS, steps=rows * steps_per_row, v0=v_test[show[::2]], keep_every=steps_per_row)
        viz.save_image_grid(
            np.concatenate([v_test[show[::2]]] + frames).reshape(-1, 1, 28, 28),
            os.path.join(args.out, f"samples_{name}.png"),
            nrow=CHAINS,
            title=f"{name.upper()}: top row test digits, then p(v|h) every {steps_per_row} Gibbs steps",
        )

    # -- figures: PCD's fantasy particles, reconstructions p(v | h ~ p(h | v)), the cheap monitors --------------
    viz.save_image_grid(
        trainers["pcd"].chain[:100].reshape(-1, 1, 28, 28),
        os.path.join(args.out, "negative_particles_pcd.png"),
        nrow=10,
        title="PCD: the persistent fantasy particles at the end of training",
    )
    mg.manual_seed(args.seed + 3)
    recon = [v_test[show]] + [t.rbm.visible_probs(t.rbm.sample_h_given_v(v_test[show])[1]) for t in trainers.values()]
    viz.save_image_grid(
        np.concatenate(recon).reshape(-1, 1, 28, 28),
        os.path.join(args.out, "reconstructions.png"),
        nrow=20,
        title="rows: test digits; reconstructions by " + ", ".join(m.upper() for m in trainers),
    )
    curves = {
        key: {name.upper(): ([r["epoch"] for r in h], [r[key] for r in h]) for name, h in results["history"].items()}
        for key in ("recon_error", "pseudo_log_likelihood")
    }
    viz.line_panels(
        [
            ("reconstruction cross-entropy (nats / image)", curves["recon_error"]),
            ("pseudo-log-likelihood (nats / image)", curves["pseudo_log_likelihood"]),
        ],
        os.path.join(args.out, "monitors.png"),
        xlabel="epoch",
    )

    # -- AIS against the exact log Z on a small RBM (2^TINY_HIDDEN terms) -----------------------------------
    tiny_hidden, tiny_epochs = q.get("tiny_hidden", TINY_HIDDEN), q.get("tiny_epochs", TINY_EPOCHS)
    mg.manual_seed(args.seed)
    tiny = RBM(784, tiny_hidden)
    tiny.b.array[:] = base
    fit(
        RBMTrainer(tiny, lr=0.05, momentum=0.5),
        data.BinarizedLoader(x_train, batch_size=BATCH, shuffle=True, seed=args.seed, drop_last=True),
        tiny_epochs,
        os.path.join(args.out, "run_tiny"),
        checkpoint_every=10**9,
        overwrite=True,
        progress=False,
        description="tiny",
    )
    exact = log_partition_exact(tiny)
    mg.manual_seed(args.seed + 1)
    tiny_ais = ais_log_partition(tiny, base, n_runs=ais_runs, betas=betas, return_details=True)
    results["tiny_rbm"] = {
        "n_hidden": tiny_hidden,
        "exact_log_z": exact,
        "ais_log_z": tiny_ais["log_z"],
        "ais_log_z_low": tiny_ais["log_z_low"],
        "ais_log_z_high": tiny_ais["log_z_high"],
        "test_ll_exact": float(tiny.log_likelihood(v_test, exact).mean()),
        "test_ll_ais": float(tiny.log_likelihood(v_test, tiny_ais["log_z"]).mean()),
    }

    # -- the report -------------------------------------------------------------------------------------
    ll, train_ll = results["test_ll"], results["train_ll"]
    rows_ = [
        [
            "independent per-pixel Bernoulli (exact)",
            "",
            "",
            ll["independent"]["test_ll"],
            "",
            train_ll["independent"],
            "",
        ]
    ]
    for name in ["untrained"] + list(METHODS):
        r = ll[name]
        rows_.append(
            [
                name if name == "untrained" else f"RBM {name.upper()}",
                f"{r['log_z']:.2f} [{r['log_z_low']:.2f}, {r['log_z_high']:.2f}]",
                r["ess"],
                r["test_ll"],
                r["test_ll_low"],
                train_ll[name],
                f"{r['log_z_2x']:.2f} / {r['ess_2x']:.1f} / {r['test_ll_2x']:.2f}" if "log_z_2x" in r else "",
            ]
        )
    rep.table(
        f"Log-likelihood (nats per image; log Z by AIS, {ais_runs} runs, {len(betas)} temperatures)",
        [
            "model",
            "log Z [-3 s.e., +3 s.e.]",
            f"ESS of {ais_runs}",
            "test LL",
            "test LL at log Z + 3 s.e.",
            "train LL",
            "2nd AIS, 2x temperatures: log Z / ESS / test LL",
        ],
        rows_,
        note="An effective sample size below 10 means the AIS weights rest on a few runs: log Z is then likely "
        "underestimated, the likelihood optimistic. Reference (full MNIST, 60 000 digits): S&M 2008, "
        "table 2: CD-1 -125.53, CD-3 -105.50, CD-25 -86.34 nats.",
    )
    tiny_r = results["tiny_rbm"]
    rep.table(
        f"AIS against the exact log Z (784-{tiny_hidden} RBM, CD-1, {tiny_epochs} epochs)",
        ["", "log Z", "test LL"],
        [
            ["exact (enumerating h)", tiny_r["exact_log_z"], tiny_r["test_ll_exact"]],
            [
                f"AIS [{tiny_r['ais_log_z_low']:.3f}, {tiny_r['ais_log_z_high']:.3f}]",
                tiny_r["ais_log_z"],
                tiny_r["test_ll_ais"],
            ],
        ],
        note=f"AIS - exact = {tiny_r['ais_log_z'] - exact:+.4f} nats.",
    )
    rep.table(
        "Monitors per epoch (500 random test digits)",
        ["method", "epoch", "reconstruction cross-entropy", "pseudo-log-likelihood", "seconds"],
        [
            [name.upper(), r["epoch"], r["recon_error"], r["pseudo_log_likelihood"], r["seconds"]]
            for name, h in results["history"].items()
            for r in h
        ],
    )
    for name in METHODS:
        rep.figure(f"samples_{name}.png", f"{name.upper()}: Gibbs chains from test digits")
    rep.figure("negative_particles_pcd.png", "PCD's persistent chains at the end of training")
    rep.figure("monitors.png", "reconstruction error and pseudo-log-likelihood per epoch")
    rep.save(results)
    return results


if __name__ == "__main__":
    main()
