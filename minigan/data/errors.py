"""The error a data file raises when its bytes do not hold what its format promises."""

from __future__ import annotations

__all__ = ["DataFormatError"]


class DataFormatError(ValueError):
    """A data file that is corrupt, truncated, or not in the format it is read as (an IDX file whose data
    disagree with its header, a CSV row with a pixel outside 0..255, ...). The message names the file and
    the problem."""
