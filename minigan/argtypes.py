"""Validators for command-line flags: argparse ``type=`` functions shared by every family's flags.

Each takes the flag's text and returns the parsed value, or raises ``argparse.ArgumentTypeError`` with what
is allowed, which argparse turns into a usage error (exit status 2) naming the flag:

    parser.add_argument("--n-critic", type=positive_int, default=5)
    parser.add_argument("--lambda-gp", type=non_negative_float, default=10.0)
    parser.add_argument("--dropout", type=probability, default=0.5)
    parser.add_argument("--width", type=int_in_range(1, 4096), default=16)

Floats must be finite ("nan" and "inf" parse as floats in Python; no flag of minigan's takes them).
"""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "device",
    "int_in_range",
    "non_negative_float",
    "non_negative_int",
    "open_probability",
    "output_path",
    "positive_float",
    "positive_int",
    "probability",
    "seed",
]

MAX_SEED = 2**32 - 1


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _float(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (epochs, batch size, steps between checkpoints, widths...)."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer (>= 1), got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {value}")
    return value


def int_in_range(low: int, high: int) -> Callable[[str], int]:
    """A validator of integers in [low, high] (both included)."""

    def parse(text) -> int:
        value = _int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high}, got {value}")
        return value

    parse.__name__ = f"integer in [{low}, {high}]"  # argparse names the type in some messages
    return parse


def seed(text: str) -> int:
    """A random seed: an integer from 0 to 2**32 - 1."""
    value = _int(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed is an integer from 0 to {MAX_SEED}, got {value}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (learning rates, scales)."""
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {value}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (penalty weights, clipping bounds may be 0)."""
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {value}")
    return value


def probability(text: str) -> float:
    """A number in [0, 1]."""
    value = _float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a probability in [0, 1], got {value}")
    return value


def open_probability(text: str) -> float:
    """A number in [0, 1) (a momentum, Adam's beta: 1 would never forget)."""
    value = _float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {value}")
    return value


def output_path(text: str) -> str:
    """A path to write: not empty, and its parent directory exists (the file or directory itself may not)."""
    import os

    if not text or not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    parent = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(parent):
        raise argparse.ArgumentTypeError(f"the directory {parent} does not exist")
    return text


def device(text: str) -> str:
    """'cpu', 'cuda' or 'cuda:N' (whether a GPU is present is checked when the run starts)."""
    from .backend import parse_device

    try:
        kind, index = parse_device(text)
    except (TypeError, ValueError) as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return "cpu" if kind == "cpu" else f"cuda:{index}"
