"""Size and layering census of the code: modules, lines, long functions, long files, SQL spread.

    .venv/bin/python -m experiments.code_census
    .venv/bin/python -m experiments.code_census --root /path/to/a/checkout --long-function 80

For the packages `optimizer/`, `api/` and `training/` it prints the number of modules (`.py`
files), their lines, every function or method longer than `--long-function` lines (decorators
included), every file longer than `--long-file` lines, and every module outside `optimizer/store`
(its migrations included) that imports SQLAlchemy, read from the syntax tree (a string that
merely mentions it does not count).
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ("optimizer", "api", "training")
STORE = Path("optimizer") / "store"


@dataclass
class PackageCensus:
    name: str
    modules: int = 0
    lines: int = 0
    long_functions: list[tuple[str, int]] = field(default_factory=list)
    long_files: list[tuple[str, int]] = field(default_factory=list)
    sqlalchemy_importers: list[str] = field(default_factory=list)


def _function_lengths(tree: ast.AST) -> list[tuple[str, int]]:
    """Every function and method as (qualified name, lines from its first decorator to its end)."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                end = child.end_lineno if child.end_lineno is not None else child.lineno
                found.append((f"{prefix}{child.name}", end - start + 1))
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _imports_sqlalchemy(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(alias.name.split(".")[0] == "sqlalchemy" for alias in node.names):
                return True
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and node.module.split(".")[0] == "sqlalchemy"
        ):
            return True
    return False


def census(root: Path, long_function: int, long_file: int) -> list[PackageCensus]:
    results = []
    for package in PACKAGES:
        base = root / package
        if not base.is_dir():
            raise SystemExit(f"no package directory {base}: expected a checkout holding {PACKAGES}")
        result = PackageCensus(package)
        for path in sorted(base.rglob("*.py")):
            relative = path.relative_to(root)
            text = path.read_text(encoding="utf-8")
            lines = len(text.splitlines())
            tree = ast.parse(text, filename=str(relative))
            result.modules += 1
            result.lines += lines
            if lines > long_file:
                result.long_files.append((relative.as_posix(), lines))
            for name, length in _function_lengths(tree):
                if length > long_function:
                    result.long_functions.append((f"{relative.as_posix()}:{name}", length))
            if _imports_sqlalchemy(tree) and not relative.is_relative_to(STORE):
                result.sqlalchemy_importers.append(relative.as_posix())
        results.append(result)
    return results


def report(results: list[PackageCensus], long_function: int, long_file: int) -> str:
    out = []
    header = f"{'package':<10} {'modules':>7} {'lines':>7} {'fn>' + str(long_function):>7}"
    header += f" {'file>' + str(long_file):>8} {'sqlalchemy':>10}"
    out.append(header)
    for r in results:
        out.append(
            f"{r.name:<10} {r.modules:>7} {r.lines:>7} {len(r.long_functions):>7}"
            f" {len(r.long_files):>8} {len(r.sqlalchemy_importers):>10}"
        )
    out.append(
        f"{'total':<10} {sum(r.modules for r in results):>7} {sum(r.lines for r in results):>7}"
        f" {sum(len(r.long_functions) for r in results):>7}"
        f" {sum(len(r.long_files) for r in results):>8}"
        f" {sum(len(r.sqlalchemy_importers) for r in results):>10}"
    )
    out.append("")
    out.append(f"functions over {long_function} lines:")
    for r in results:
        for name, length in sorted(r.long_functions, key=lambda item: -item[1]):
            out.append(f"  {length:>4}  {name}")
    out.append(f"files over {long_file} lines:")
    for r in results:
        for name, length in sorted(r.long_files, key=lambda item: -item[1]):
            out.append(f"  {length:>4}  {name}")
    out.append("modules outside optimizer/store importing sqlalchemy:")
    for r in results:
        for name in r.sqlalchemy_importers:
            out.append(f"  {name}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--long-function", type=int, default=80)
    parser.add_argument("--long-file", type=int, default=400)
    args = parser.parse_args(argv)
    if args.long_function < 1 or args.long_file < 1:
        parser.error(
            f"--long-function {args.long_function} and --long-file {args.long_file}:"
            " expected positive line counts"
        )
    results = census(args.root.resolve(), args.long_function, args.long_file)
    print(report(results, args.long_function, args.long_file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
