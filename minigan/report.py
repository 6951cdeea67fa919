"""A demo's report: its settings, tables of results beside their references, figures — written once as
``report.md`` (for a reader) and ``report.json`` (every number, for a test or a later comparison).

    rep = report.Report("VAE on mnist5k", out_dir, command="python demos/vae_mnist.py --quick")
    rep.settings(epochs=20, batch=100, seeds=[0, 1, 2])
    rep.table("Test -ELBO (nats per image)", ["model", "-ELBO", "IWAE, K=200"],
              [["VAE, D=20", mean_sd(runs_20), mean_sd(iwae_20)],
               ["baseline: per-pixel Bernoulli", 210.6, ""],
               ["reference: Kingma & Welling 2014, fig. 2", "about 100", ""]],
              note="The reference uses full MNIST.")
    rep.figure("samples_d20.png", "decoder samples, D = 20")
    rep.save(results={"vae_D20": {...}})          # writes report.md + report.json, prints report.md

Numbers in tables are formatted with ``fmt`` (4 significant digits); ``mean_sd`` gives "mean ± s.d. (n)"
over seeds, the form every multi-seed result takes in this project's reports.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
import time
from typing import TYPE_CHECKING, Any

from . import backend

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from .typing import PathLike

__all__ = ["Report", "fmt", "mean_sd", "markdown_table"]


def fmt(value: Any, digits: int = 4) -> str:
    """A table cell: floats to ``digits`` significant digits, everything else as ``str``."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.{digits}g}"
    return str(value)


def mean_sd(values: Sequence[float], digits: int = 3) -> str:
    """ "mean ± s.d. (n=k)" of a list of numbers (the sample standard deviation); one value is printed alone."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("mean_sd: values is empty")
    if len(values) == 1:
        return f"{values[0]:.{digits}g} (n=1)"
    return f"{statistics.mean(values):.{digits}g} ± {statistics.stdev(values):.2g} (n={len(values)})"


def markdown_table(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> list[str]:
    """Lines of a Markdown table; every row must have as many cells as ``header``."""
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "---|" * len(header)]
    for index, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"markdown_table: row {index} has {len(row)} cells, the header {len(header)}")
        lines.append("| " + " | ".join(fmt(cell) for cell in row) + " |")
    return lines


class Report:
    """Collects a demo's report section by section; ``save`` writes report.md and report.json in ``out_dir``.

    The header records what a reader needs to reproduce and weigh the numbers: the command, the wall time
    since the report was created, the CPU threads minigan's kernels ran on, Python and the platform.
    """

    def __init__(self, title: str, out_dir: PathLike, command: str | None = None) -> None:
        self.title, self.out_dir = title, out_dir
        self.command = command if command is not None else "python " + " ".join(sys.argv)
        self.started = time.perf_counter()
        self.lines: list[str] = []
        self.data: dict = {"title": title, "command": self.command, "settings": {}, "tables": {}, "figures": []}

    def settings(self, **values: Any) -> None:
        """The run's settings, as a line of the report and a dict in the JSON."""
        self.data["settings"].update(values)
        self.lines += ["Settings: " + ", ".join(f"{k} = {fmt(v)}" for k, v in values.items()) + ".", ""]

    def text(self, paragraph: str) -> None:
        """A paragraph of prose (what a table shows, a caution, a comparison)."""
        self.lines += [paragraph, ""]

    def table(self, title: str, header: Sequence[Any], rows: Iterable[Sequence[Any]], note: str | None = None) -> None:
        """A titled Markdown table; the JSON keeps the raw cells under ``tables[title]``."""
        self.lines += [f"## {title}", "", *markdown_table(header, rows), ""]
        if note:
            self.lines += [note, ""]
        self.data["tables"][title] = {"header": list(header), "rows": [list(row) for row in rows]}

    def figure(self, filename: str, caption: str) -> None:
        """A figure already saved in ``out_dir`` (a Markdown image link with its caption)."""
        self.lines += [f"![{caption}]({filename})", "", f"*{caption}*", ""]
        self.data["figures"].append({"file": filename, "caption": caption})

    def markdown(self) -> str:
        seconds = time.perf_counter() - self.started
        head = [
            f"# {self.title}",
            "",
            f"Command: `{self.command}` — {seconds:.0f} s wall time on {backend.cpu_threads()} CPU thread(s) "
            f"(Python {platform.python_version()}, {platform.machine()}).",
            "",
        ]
        return "\n".join(head + self.lines)

    def save(self, results: dict[str, Any] | None = None) -> str:
        """Write report.md and report.json (``results``: any JSON-able dict of the demo's numbers); print the
        Markdown; return its path."""
        os.makedirs(self.out_dir, exist_ok=True)
        text = self.markdown()
        data = dict(
            self.data,
            results=results or {},
            seconds=round(time.perf_counter() - self.started, 3),
            cpu_threads=backend.cpu_threads(),
        )
        md_path = os.path.join(self.out_dir, "report.md")
        with open(md_path, "w") as handle:
            handle.write(text)
        with open(os.path.join(self.out_dir, "report.json"), "w") as handle:
            json.dump(data, handle, indent=1, default=_json_default)
        print(text)
        return md_path


def _json_default(value):
    """NumPy scalars and arrays in results become plain numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"report.json: cannot write a {type(value).__name__}")
