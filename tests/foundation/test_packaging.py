"""pyproject.toml: every third-party module the product imports is declared, every dependency
has a compatible upper bound, and the licence is Apache-2.0 with its text beside it."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("optimizer", "api", "training")
OURS = {"optimizer", "api", "training", "experiments", "tests"}


def _project() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]  # type: ignore[no-any-return]


def _requirements() -> list[Requirement]:
    project = _project()
    extras = project["optional-dependencies"]
    assert isinstance(extras, dict)
    deps = list(project["dependencies"])  # type: ignore[call-overload]
    for group in extras.values():
        deps.extend(group)
    return [Requirement(d) for d in deps]


def _imported_top_modules() -> set[str]:
    found: set[str] = set()
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found - OURS - set(sys.stdlib_module_names) - {"__future__"}


def test_every_third_party_import_of_the_product_is_a_declared_dependency() -> None:
    runtime = {canonicalize_name(Requirement(d).name) for d in _project()["dependencies"]}  # type: ignore[attr-defined]
    distributions = packages_distributions()
    undeclared = {}
    for module in sorted(_imported_top_modules()):
        names = {canonicalize_name(n) for n in distributions.get(module, [module])}
        if not names & runtime:
            undeclared[module] = sorted(names)
    assert not undeclared, f"imported but not in [project] dependencies: {undeclared}"


def test_every_dependency_has_a_floor_and_an_upper_bound() -> None:
    for requirement in _requirements():
        operators = {spec.operator for spec in requirement.specifier}
        assert ">=" in operators, f"{requirement} has no floor"
        assert "<" in operators, f"{requirement} has no upper bound"


def test_the_licence_is_apache_2_with_its_text() -> None:
    project = _project()
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
