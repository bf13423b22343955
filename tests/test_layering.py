"""The package layers import one way: model <- diffusion <- sampling <- evaluation, and so on."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RIN = Path(__file__).resolve().parents[1] / "rin"

# what each sub-package may import from rin (besides itself); style.md "Dependency direction"
ALLOWED: dict[str, set[str]] = {
    "configs": {"errors"},
    "model": {"configs", "errors"},
    "diffusion": {"configs", "errors", "model"},
    "sampling": {"configs", "errors", "model", "diffusion"},
    "data": {"configs", "errors"},
    "evaluation": {"configs", "errors", "model", "diffusion", "sampling", "data"},
    "training": {"configs", "errors", "model", "diffusion", "sampling", "data"},
    "cli": {"configs", "errors", "model", "diffusion", "sampling", "data", "evaluation", "training"},
}


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
        # rin.progress (a tqdm wrapper) sits below every layer, as rin.errors does
        found[str(path.relative_to(RIN))] = names - {package, "progress"}
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
