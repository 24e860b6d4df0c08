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


def _imports() -> dict[str, bool]:
    """Each third-party top module the product imports, and whether some import of it runs when
    its module loads (at module level) rather than only inside a function."""
    found: dict[str, bool] = {}

    def note(name: str, eager: bool) -> None:
        top = name.split(".")[0]
        found[top] = found.get(top, False) or eager

    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(), filename=str(path))
            lazy = {
                id(inner)
                for node in ast.walk(tree)
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                for inner in ast.walk(node)
            }
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        note(alias.name, id(node) not in lazy)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    note(node.module, id(node) not in lazy)
    skip = OURS | set(sys.stdlib_module_names) | {"__future__"}
    return {module: eager for module, eager in found.items() if module not in skip}


def _imported_top_modules() -> set[str]:
    return set(_imports())


def test_every_third_party_import_of_the_product_is_a_declared_dependency() -> None:
    """Declared at run time, or — for an optional engine such as Dask — in an extra and
    imported only inside the functions that need it (the product loads without it)."""
    project = _project()
    runtime = {canonicalize_name(Requirement(d).name) for d in project["dependencies"]}  # type: ignore[attr-defined]
    optional = {
        canonicalize_name(Requirement(d).name)
        for group in project["optional-dependencies"].values()  # type: ignore[attr-defined]
        for d in group
    }
    distributions = packages_distributions()
    undeclared = {}
    eager_optional = {}
    for module, eager in sorted(_imports().items()):
        names = {canonicalize_name(n) for n in distributions.get(module, [module])}
        if names & runtime:
            continue
        if names & optional and not eager:
            continue
        if names & optional:
            eager_optional[module] = sorted(names)
        else:
            undeclared[module] = sorted(names)
    assert not undeclared, f"imported but not in [project] dependencies: {undeclared}"
    assert not eager_optional, (
        f"optional dependencies imported at module level (the product would need them): "
        f"{eager_optional}"
    )


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
