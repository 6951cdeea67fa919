"""The documents in the repository stay true: every reference resolves, every worked example runs.

* every "source 00N" the code, tests, benchmarks and documents cite has its section in docs/sources.md;
* every repository path named in docs/*.md and README.md exists, every ``minigan.name`` they name imports,
  every in-page link (#anchor) has its heading;
* every Markdown document the code names (bench/README.md, docs/architecture.md, ...) exists, and a
  section it names ("docs/architecture.md, "The engine contract"") is a heading there;
* the ``python runnable`` blocks of docs/*.md run, in order, as one script in a fresh interpreter.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SOURCES = DOCS / "sources.md"
CODE_DIRS = ("minigan", "kernels", "demos", "tests", "bench", "docs", ".ci")
CODE_SUFFIXES = {".py", ".md", ".cfg", ".toml", ""}  # "" : scripts such as .ci/run
SKIPPED_PARTS = {"__pycache__", ".numba_cache", ".venv", ".git", ".pytest_cache"}
PATH_PREFIXES = ("docs/", "demos/", "minigan/", "kernels/", "tests/", "bench/", ".ci/")


# --- what the checks read ---------------------------------------------------------------------------


def text_files():
    """README.md, setup.cfg, pyproject.toml, and the text files under the code directories."""
    files = [ROOT / name for name in ("README.md", "setup.cfg", "pyproject.toml") if (ROOT / name).exists()]
    for directory in CODE_DIRS:
        for path in sorted((ROOT / directory).rglob("*")):
            if path.is_file() and path.suffix in CODE_SUFFIXES and not SKIPPED_PARTS & set(path.parts):
                files.append(path)
    return files


def read(path):
    return path.read_text(encoding="utf-8", errors="replace")


def documents():
    """docs/*.md and README.md: the documents whose paths and names are checked."""
    return sorted(DOCS.glob("*.md")) + [ROOT / "README.md"]


SOURCE_CITATION = re.compile(r"\bsources?\s+(00\d(?:\s*(?:-|–|,|and|or|to)\s*00\d)*)", re.IGNORECASE)


def cited_sources(text):
    """The source numbers a text cites: "source 003" -> {"003"}; "sources 002-004" -> {"002", "003", "004"};
    "Sources 001 and 002" -> {"001", "002"}."""
    numbers = set()
    for match in SOURCE_CITATION.finditer(text):
        group = match.group(1)
        found = re.findall(r"00\d", group)
        numbers.update(found)
        for low, high in re.findall(r"(00\d)\s*[-–]\s*(00\d)", group):
            numbers.update(f"{n:03d}" for n in range(int(low), int(high) + 1))
    return numbers


def source_sections():
    return set(re.findall(r"^## Source (00\d) — ", read(SOURCES), flags=re.MULTILINE))


REPO_PATH = re.compile(r"(?<![\w./-])((?:" + "|".join(re.escape(p) for p in PATH_PREFIXES) + r")[\w./-]*)")


def repository_paths(text):
    """Paths under the repository's directories named in a text; a pattern (``tests/test_<module>.py``,
    ``demos/*.py``) is not a path and is skipped; a trailing full stop ends the sentence, not the path."""
    paths = set()
    for match in REPO_PATH.finditer(text):
        following = text[match.end() : match.end() + 1]
        if following in ("<", "*", "{"):
            continue
        paths.add(match.group(1).rstrip("."))
    return paths


def heading_slugs(markdown):
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    slugs = set()
    for title in re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        slugs.add(slug)
    return slugs


def resolves(dotted):
    """True when ``minigan.a.b.c`` names a module, or an attribute of the longest importable prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:]:
                value = getattr(value, name)
        except AttributeError:
            return False
        return True
    return False


RUNNABLE = re.compile(r"^```python runnable\n(.*?)^```", flags=re.MULTILINE | re.DOTALL)


def runnable_blocks(markdown):
    """(first line number, code) of every block fenced as ```python runnable."""
    return [(markdown[: match.start(1)].count("\n") + 1, match.group(1)) for match in RUNNABLE.finditer(markdown)]


# --- the checkers, on inputs made to fail -------------------------------------------------------------


def test_citation_parser_reads_single_listed_and_ranged_sources():
    assert cited_sources("as source 000 says; Sources 001 and 002; (sources 002-004); source 003's") == {
        "000",
        "001",
        "002",
        "003",
        "004",
    }
    assert cited_sources("source " + "007") == {"007"}  # caught: it has no section (split so
    # that this file does not cite it)
    assert cited_sources("the source code, resource 001") == set()


def test_path_finder_skips_patterns_and_sentence_ends():
    text = "see `minigan/ops/` and demos/x.py. Not tests/test_<module>.py, demos/*.py or demo_out/minigan/y"
    assert repository_paths(text) == {"minigan/ops/", "demos/x.py"}


def test_slugs_follow_github():
    assert heading_slugs("## Source 000 — a WGAN critic, as a classifier\n") == {
        "source-000--a-wgan-critic-as-a-classifier"
    }


def test_name_resolution_rejects_what_does_not_exist():
    assert resolves("minigan.functional.conv2d") and resolves("minigan.ops")
    assert not resolves("minigan.functional.no_such_function") and not resolves("minigan.no_such_module")


# --- the repository ------------------------------------------------------------------------------------


def test_every_cited_source_has_a_section_in_docs_sources():
    sections = source_sections()
    assert sections == {"000", "001", "002", "003", "004"}, sections
    missing = {}
    for path in text_files():
        for number in cited_sources(read(path)) - sections:
            missing.setdefault(number, []).append(str(path.relative_to(ROOT)))
    assert not missing, f"cited without a '## Source NNN — ' section in docs/sources.md: {missing}"


def test_every_path_named_in_the_documents_exists():
    missing = [
        (str(doc.relative_to(ROOT)), path)
        for doc in documents()
        for path in sorted(repository_paths(read(doc)))
        if not (ROOT / path).exists()
    ]
    assert not missing, f"paths named in the documents that do not exist: {missing}"


def test_every_minigan_name_in_docs_resolves():
    missing = [
        (doc.name, name)
        for doc in sorted(DOCS.glob("*.md"))
        for name in sorted(set(re.findall(r"`(minigan(?:\.\w+)+)", read(doc))))
        if not resolves(name)
    ]
    assert not missing, f"names in docs/ that minigan does not have: {missing}"


def test_every_in_page_link_has_its_heading():
    broken = [
        (doc.name, anchor)
        for doc in documents()
        for anchor in re.findall(r"\]\(#([^)]+)\)", read(doc))
        if anchor not in heading_slugs(read(doc))
    ]
    assert not broken, f"links to headings that do not exist: {broken}"


def test_markdown_documents_and_sections_named_in_the_code_exist():
    """A document named with its directory (bench/README.md) or in capitals (README.md) exists; a section
    named after it ("docs/architecture.md, "The engine contract"") is one of its headings.  (Lower-case
    bare names such as report.md are files the demos write.)"""
    missing = []
    for path in text_files():
        text = read(path)
        for name in set(re.findall(r"(?<![\w./-])((?:[\w.-]+/)+[\w.-]+\.md|[A-Z][A-Z_]*\.md)\b", text)):
            if not (ROOT / name).exists():
                missing.append((str(path.relative_to(ROOT)), name))
        for name, section in re.findall(r"((?:[\w.-]+/)*[\w.-]+\.md), \"([^\"]+)\"", text):
            target = ROOT / name
            if target.exists() and not re.search(rf"^#+ {re.escape(section)}\s*$", read(target), re.MULTILINE):
                missing.append((str(path.relative_to(ROOT)), f"{name}: section {section!r}"))
    assert not missing, f"documents or sections named in the code that do not exist: {missing}"


def test_each_how_to_section_of_the_architecture_has_a_runnable_example():
    text = read(DOCS / "architecture.md")
    for topic in ("an op", "a kernel", "a model", "a trainer"):
        section = re.search(rf"^## How to add {topic}\n(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
        assert section, f"docs/architecture.md has no '## How to add {topic}' section"
        assert runnable_blocks(section.group(1)), f"'How to add {topic}' has no ```python runnable example"


# Each document's runnable blocks run in order, in one namespace (later examples build on earlier ones),
# in a fresh interpreter, so that nothing they define or seed leaks into the other tests.
RUNNER = """
import sys
namespace = {"__name__": "__docs__"}
for path, line, code in BLOCKS:
    exec(compile("\\n" * (line - 1) + code, path, "exec"), namespace)
print("ran", len(BLOCKS), "blocks")
"""


@pytest.mark.parametrize("doc", sorted(p.name for p in DOCS.glob("*.md") if runnable_blocks(read(p))))
def test_runnable_examples_run(doc, tmp_path):
    blocks = [(f"docs/{doc}", line, code) for line, code in runnable_blocks(read(DOCS / doc))]
    script = tmp_path / "run_examples.py"
    script.write_text(f"BLOCKS = {blocks!r}\n{RUNNER}")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), MPLBACKEND="Agg")
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"an example in docs/{doc} failed:\n{result.stderr[-4000:]}"
    assert f"ran {len(blocks)} blocks" in result.stdout


# --- the layers of docs/architecture.md: what each lower layer may import -------------------------------

ENGINE = {
    "minigan",
    "minigan.tensor",
    "minigan.function",
    "minigan.autograd",
    "minigan.backend",
    "minigan.ops",
    "minigan.functional",
    "minigan.argcheck",
}
# module (or package prefix ending in ".") -> the minigan/kernels modules it may import (a name also allows
# its submodules). The upper layers (training, trainers, measurement, programs) may import anything.
MAY_IMPORT = {
    "kernels.": {"kernels"},
    "minigan.backend": {"kernels"},
    "minigan.tensor": ENGINE,
    "minigan.function": ENGINE,
    "minigan.autograd": ENGINE,
    "minigan.ops.": ENGINE | {"kernels.reference"},
    "minigan.functional": ENGINE,
    "minigan.gradcheck": ENGINE,
    "minigan.nn.": ENGINE | {"minigan.nn", "minigan.interop"},
    "minigan.argcheck": set(),
    "minigan.optim": ENGINE | {"minigan.lr_scheduler"},
    "minigan.lr_scheduler": set(),
    "minigan.interop": ENGINE,
    "minigan.serialization": ENGINE,
    "minigan.torch_files": ENGINE,
    "minigan.losses": ENGINE,
    "minigan.info": set(),
    "minigan.viz": set(),
    "minigan.graph": ENGINE,
    "minigan.data.": {"minigan.data", "minigan.tensor", "minigan"},  # minigan.tensor: DataLoader's iterator
    "minigan.utils.": ENGINE | {"minigan.data"},  # torch.utils.data's names
}
# the models: networks and their mathematics, never the optimizers or the harness
MODELS_MUST_NOT_IMPORT = {"minigan.optim", "minigan.training", "minigan.trainers", "minigan.adversarial", "minigan.cli"}
# none left: issue 16 moved the training loops out of the models into minigan/trainers/
KNOWN_MODEL_VIOLATIONS = set()


def module_imports(path):
    """(module name, the set of minigan/kernels modules it imports anywhere in the file, lazily too).
    Imports under ``if TYPE_CHECKING:`` are left out: they name types for annotations, which are never
    evaluated at run time (``from __future__ import annotations``), so they are not a dependency."""
    import ast

    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    package = parts if is_package else parts[:-1]
    imported = set()
    tree = ast.parse(read(path))
    for_type_checkers = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for statement in node.body
        for inner in ast.walk(statement)
    }
    for node in ast.walk(tree):
        if id(node) in for_type_checkers:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names = (
                    [".".join(base + [node.module])] if node.module else [".".join(base + [a.name]) for a in node.names]
                )
            else:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            imported.update(names)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    # kernels/ is imported by its installed name, minigan_kernels (setup.cfg): the same layer as "kernels"
    imported = {
        "kernels" + name[len("minigan_kernels") :] if name.split(".")[0] == "minigan_kernels" else name
        for name in imported
    }
    # kernels/ is installed as minigan_kernels: both names are the kernels layer
    imported = {
        "kernels" + name[len("minigan_kernels") :] if name.split(".")[0] == "minigan_kernels" else name
        for name in imported
    }
    return ".".join(parts), {name for name in imported if name.split(".")[0] in ("minigan", "kernels")}


def within(name, allowed):
    """Whether module ``name`` is one of ``allowed`` or inside one of them (the package ``minigan`` itself,
    its ``__init__``, allows only itself: not everything under it)."""
    return any(name == a or (a != "minigan" and name.startswith(a + ".")) for a in allowed)


def layer_violations():
    """(module, imported module) pairs that break the layers of docs/architecture.md."""
    violations = set()
    for path in sorted((ROOT / "minigan").rglob("*.py")) + sorted((ROOT / "kernels").rglob("*.py")):
        if SKIPPED_PARTS & set(path.parts):
            continue
        module, imported = module_imports(path)
        for prefix, allowed in MAY_IMPORT.items():
            if module == prefix or (prefix.endswith(".") and (module + ".").startswith(prefix)):
                own = {module.rsplit(".", 1)[0]} if prefix.endswith(".") else set()  # siblings in its package
                violations.update((module, name) for name in imported if not within(name, allowed | own | {module}))
        if module.startswith("minigan.models"):
            violations.update((module, name) for name in imported if within(name, MODELS_MUST_NOT_IMPORT))
    return violations


def test_layer_checker_sees_relative_and_lazy_imports(tmp_path, monkeypatch):
    (tmp_path / "minigan" / "models").mkdir(parents=True)
    (tmp_path / "kernels").mkdir()
    (tmp_path / "minigan" / "models" / "thing.py").write_text(
        "from typing import TYPE_CHECKING\nfrom .. import nn\nfrom ..functional import relu\n\n"
        "if TYPE_CHECKING:\n    from ..optim import Adam\n\n"  # for annotations only: not a dependency
        "def fit():\n    from ..training import fit\n"
        "    if not TYPE_CHECKING:\n        from ..trainers import base\n"
    )  # a run-time import all the same
    (tmp_path / "kernels" / "fast.py").write_text("from . import reference\nimport minigan.tensor\n")
    (tmp_path / "minigan" / "ops").mkdir()
    (tmp_path / "minigan" / "ops" / "op.py").write_text(
        "from minigan_kernels.reference import conv_output_size\nimport minigan_kernels.cpu\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert layer_violations() == {
        ("minigan.models.thing", "minigan.training"),
        ("minigan.models.thing", "minigan.trainers"),
        ("kernels.fast", "minigan.tensor"),
        ("minigan.ops.op", "kernels.cpu"),
    }
    assert within("minigan.ops.arith", {"minigan.ops"}) and within("minigan", {"minigan"})
    assert not within("minigan.models", {"minigan"})  # "minigan" allows its __init__, not all of it


def test_the_layers_import_only_what_docs_architecture_allows():
    new = sorted(layer_violations() - KNOWN_MODEL_VIOLATIONS)
    assert not new, (
        "imports that break the layers of docs/architecture.md (move the code up a layer, or "
        f"change the table there and MAY_IMPORT here together): {new}"
    )
