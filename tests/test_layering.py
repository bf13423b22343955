"""The package layers import one way: model <- diffusion <- sampling <- evaluation, and so on."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RIN = Path(__file__).resolve().parents[1] / "rin"

# what each sub-package may import from rin (besides itself): the layers, lowest first
ALLOWED: dict[str, set[str]] = {
    "configs": {"errors"},
    "runtime": {"errors"},
    "model": {"configs", "errors"},
    "checkpoints": {"configs", "errors", "model"},
    "diffusion": {"configs", "errors", "model"},
    "sampling": {"configs", "errors", "model", "diffusion"},
    "data": {"configs", "errors"},
    "evaluation": {"configs", "errors", "model", "diffusion", "sampling", "data"},
    "training": {"configs", "errors", "runtime", "model", "checkpoints", "diffusion", "sampling", "data"},
    "cli": {
        *("configs", "errors", "runtime", "model", "checkpoints", "diffusion", "sampling", "data"),
        *("evaluation", "training"),
    },
}
# the commands that only read checkpoints; they must run without importing rin.training
INFERENCE = ("rin.cli.sample", "rin.cli.evaluate")


def _imported_modules(path: Path) -> set[str]:
    """Every `rin.*` module a file names in an import, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return {name for name in names if name.split(".")[0] == "rin"}


def _module_file(name: str) -> Path | None:
    base = RIN.parent.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None  # a name imported from a module, not a module


def transitive_imports(module: str) -> set[str]:
    """The rin modules that importing `module` and running its functions can load (packages too)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for prefix in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):
            path = _module_file(prefix)
            if path is not None and prefix not in seen:
                seen.add(prefix)
                todo.extend(_imported_modules(path))
    return seen


def rin_imports(package: str) -> dict[str, set[str]]:
    """file -> the rin sub-packages it imports."""
    found: dict[str, set[str]] = {}
    for path in (RIN / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            names |= {m.split(".")[1] for m in modules if m.startswith("rin.") and m.count(".") >= 1}
        # rin.progress (a tqdm wrapper) and rin.hashing sit below every layer, as rin.errors does
        found[str(path.relative_to(RIN))] = names - {package, "progress", "hashing"}
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_lower_layers(package):
    """No file imports a rin sub-package above its own layer."""
    for file, names in rin_imports(package).items():
        assert names <= ALLOWED[package], f"{file} imports {sorted(names - ALLOWED[package])}"


def test_configs_import_no_torch():
    """configs are plain dataclasses: no torch import (so reading a config is cheap)."""
    for path in (RIN / "configs").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = (
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                )
                assert not any(m.split(".")[0] == "torch" for m in modules), f"{path.name} imports torch"


def test_every_subpackage_is_layered():
    """A new sub-package must be placed in the layering above."""
    packages = {p.name for p in RIN.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(ALLOWED)


@pytest.mark.parametrize("command", INFERENCE)
def test_inference_commands_do_not_import_training(command):
    """`rin sample` and `rin evaluate` read checkpoints through rin.checkpoints, not rin.training."""
    loaded = transitive_imports(command)
    assert command in loaded and "rin.checkpoints.load" in loaded  # the walk reaches the loader
    assert not [name for name in loaded if name.startswith("rin.training")]


def test_the_import_walk_sees_training_where_it_is_imported():
    """Positive control: `rin train` does import rin.training, and the walk says so."""
    assert "rin.training.loop" in transitive_imports("rin.cli.train")
