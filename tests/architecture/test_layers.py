"""The import rules of ARCHITECTURE.md, checked from the source with ``ast``.

Every ``import`` and ``from ... import`` in the packages counts, also those inside
functions (a lazy import is still a dependency). A module may import its own layer and the
layers its row of ``ALLOWED`` names; nothing above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: layer of a module: the longest prefix in this table wins
LAYER_OF: dict[str, str] = {
    "emgcorpus": "core",
    "adapters": "adapters",
    "emgcorpus.shards": "shards",
    "emgcorpus.catalog": "catalog",
    "vocab": "vocab",
    "training": "training",
    "emgcorpus.runs": "runs",
    "emgcorpus.cli": "cli",
}

#: what each layer may import besides itself (ARCHITECTURE.md, "Layers")
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "adapters": {"core"},
    "shards": {"core"},
    "catalog": {"core", "adapters"},
    "vocab": {"core", "shards"},
    "training": {"core", "shards"},
    "runs": {"core", "adapters", "shards", "catalog", "vocab", "training"},
    "cli": {"core", "adapters", "shards", "catalog", "vocab", "training", "runs"},
}

PACKAGES = ("emgcorpus", "adapters", "vocab", "training")


def layer(module: str) -> str | None:
    """Layer of a dotted module name, or None for modules outside the project."""
    best: str | None = None
    for prefix in LAYER_OF:
        if (module == prefix or module.startswith(prefix + ".")) and (
            best is None or len(prefix) > len(best)
        ):
            best = prefix
    return LAYER_OF[best] if best else None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, own: str) -> list[tuple[int, str]]:
    """(line, module) for every import in ``path`` (module ``own``); ``from a import b`` also
    yields ``a.b``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def source_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def violations(path: Path, name: str | None = None) -> list[str]:
    """Imports of ``path`` (module ``name``, default: from its place in the tree) that
    reach above its layer."""
    name = name or module_name(path)
    own = layer(name)
    assert own is not None, path
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    bad = []
    for line, mod in imported_modules(path, name):
        target = layer(mod)
        if target is None or target == own or target in ALLOWED[own]:
            continue
        bad.append(f"{shown}:{line}: {own} imports {mod} ({target})")
    return bad


def test_every_module_has_a_layer() -> None:
    files = source_files()
    assert len(files) > 50
    assert all(layer(module_name(p)) for p in files)


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_imports_only_its_layer_and_below(path: Path) -> None:
    assert violations(path) == []


def test_rule_catches_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: a lazy import of training in a core module, or a relative import
    of the CLI from the shard package, is a violation; importing the core is not."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from emgcorpus.errors import SourceError\n"
        "def f():\n    from training.model import ModelConfig\n"
    )
    assert violations(probe, "emgcorpus.probe") == [
        "probe.py:3: core imports training.model (training)",
        "probe.py:3: core imports training.model.ModelConfig (training)",
    ]
    assert violations(probe, "training.probe") == []
    probe.write_text("from ..cli import main\n")
    assert violations(probe, "emgcorpus.shards.probe") == [
        "probe.py:1: shards imports emgcorpus.cli (cli)",
        "probe.py:1: shards imports emgcorpus.cli.main (cli)",
    ]
