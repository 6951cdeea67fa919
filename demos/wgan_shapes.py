"""Source 000: a WGAN-GP critic, trained without labels on two classes of shapes, as a 1-D classifier.

    python demos/wgan_shapes.py --out runs/wgan_shapes                 # the full experiment (this machine)
    python demos/wgan_shapes.py --quick --out /tmp/wgan_quick          # seconds: a smoke run of every step
    python demos/wgan_shapes.py --analyse-only --out runs/wgan_shapes  # redo the tables from checkpoints

The experiment (settings, training, scoring, baselines, report) is minigan/experiments/wgan_shapes.py,
so that ``minigan demo`` can run it from an installed package; its docstring lists the steps.
"""
import os
import sys

if __package__ in (None, ""):                       # `python demos/wgan_shapes.py` from a checkout
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from minigan.experiments.wgan_shapes import main    # noqa: E402  (the experiment lives in the package)

if __name__ == "__main__":
    main()
