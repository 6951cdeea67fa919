"""The experiments of the source documents, as importable modules (``demos/`` holds the scripts that run
them; ``minigan demo`` runs a shortened ``wgan_shapes``).

    wgan_shapes   source 000: a WGAN-GP critic trained without labels as a 1-D classifier of shapes
"""
