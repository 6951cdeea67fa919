"""Source 000: a WGAN-GP critic (Gulrajani et al., "Improved Training of Wasserstein GANs", 2017), trained
without labels on two classes of generated shapes, used as a 1-D classifier of ten test classes.

    python demos/wgan_shapes.py --out runs/wgan_shapes                 # the full experiment, 20 epochs (~26 min)
    python demos/wgan_shapes.py --quick --out /tmp/wgan_quick          # seconds: a smoke run of every step
    python demos/wgan_shapes.py --analyse-only --out runs/wgan_shapes  # redo the tables from the checkpoints

The update is Algorithm 1 of Gulrajani et al., one call into ``WGANGP.train_step`` (minigan/trainers/wgan_gp.py):

    for each real batch x (m = 8 shapes):
        for t = 1 .. n_critic (5):                       z ~ N(0, I), eps ~ U[0, 1]
            x~ = G(z);  x^ = eps x + (1 - eps) x~
            critic f ascends  E f(x) - E f(x~) - lambda E (||grad_x^ f(x^)||_2 - 1)^2       (lambda = 10)
        G descends  -E f(G(z))                           Adam(1e-4, betas (0, 0.9)) for both

Then the measurements (source 000's questions), each beside a baseline (the same critic untrained, the mean
pixel intensity): how well the critic's score separates the 45 pairs of test classes (ROC AUC), after 20
epochs and after retrainings from scratch at 1, 2 and 10; and whether the classes keep their order across
retrainings (Spearman). The settings, the training call, the scoring and the report are
minigan/experiments/wgan_shapes.py, in the package so that ``minigan demo`` runs a shortened version of the
same experiment; ``train()`` there builds the networks and calls ``fit(WGANGP(...), ...)``.
"""
from minigan.experiments.wgan_shapes import main

if __name__ == "__main__":
    main()
