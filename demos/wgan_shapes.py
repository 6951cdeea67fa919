"""Source 000: a WGAN-GP critic, trained without labels on two classes of shapes, as a 1-D classifier.

    python demos/wgan_shapes.py --out runs/wgan_shapes                 # the full experiment (this machine)
    python demos/wgan_shapes.py --quick --out /tmp/wgan_quick          # seconds: a smoke run of every step
    python demos/wgan_shapes.py --analyse-only --out runs/wgan_shapes  # redo the tables from checkpoints

What it does, in the order of source 000:

1. train a WGAN-GP (residual critic and generator, minigan.models.wgan_gp) on the 2 training classes,
   300 images each, batch 8, n_critic 5, Adam(1e-4, (0, 0.9)), lambda 10 -- source 000 trains 200
   epochs; here ``--epochs`` (default 20, about 25 minutes on a 2-core CPU) -- with checkpoints, so a killed run continues (--resume);
2. score the 10 test classes (40 images each) with the trained critic: mean/std table, histograms
   coloured by class, ROC AUC of every one of the 45 class pairs;
3. retrain from scratch for shorter schedules (source: 10, 20, 100 of 200 epochs; here
   ``--short-epochs``, default 1 2 10 of 20: the same fractions, 1/20, 1/10, 1/2) and show the histograms with
   scores centred on the reference class "square (0.85,+1) 0.03";
4. question (c) of source 000: are the classes' relative positions stable across retrainings? Spearman
   rank correlation of the 10 class means between every two runs;
5. baselines beside every table: the same critic untrained (``--baseline-seeds`` seeds) and the mean
   pixel intensity. The pairs that differ only in noise level are reported on their own line;
6. report.md + report.json (every number, the schedule, wall times) and the figures, in ``--out``.
"""
import os
import sys

if __package__ in (None, ""):                       # `python demos/wgan_shapes.py` from a checkout
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from minigan.experiments.wgan_shapes import main    # noqa: E402  (the experiment lives in the package)

if __name__ == "__main__":
    main()
