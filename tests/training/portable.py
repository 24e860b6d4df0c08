"""Loading a logged model where this project is not installed, and checking its requirements.

:func:`bare_python` makes a virtual environment that sees the project venv's third-party
packages (one ``.pth`` line naming its site-packages: the ``.pth`` files inside it, among them
the editable install of this package, are not run) but not the ``optimizer`` package.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

LOAD_SCRIPT = r"""
import importlib.util, json, os, sys
absent = importlib.util.find_spec("optimizer") is None
import mlflow
from mlflow.models import Model
uri, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst)
os.makedirs(dst + "-files")
model = mlflow.pyfunc.load_model(uri, dst_path=dst)
local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=dst + "-files")
example = Model.load(local).load_input_example(local)
out = model.predict(example)
values = out.to_dict(orient="list") if hasattr(out, "to_dict") else [float(v) for v in out]
files = {
    name: getattr(module, "__file__", None)
    for name, module in sys.modules.items()
    if name == "optimizer" or name.startswith("optimizer.")
}
top = sorted({name.split(".")[0] for name in sys.modules})
print(json.dumps({"absent_before": absent, "output": values, "modules": files, "loaded": top}))
"""


def bare_python(directory: Path) -> Path:
    """A Python with the project's third-party packages and without this package."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(directory)], check=True, timeout=120
    )
    (site,) = (directory / "lib").glob("python3*/site-packages")
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "project-deps.pth").write_text("\n".join(sorted(paths)) + "\n")
    return directory / "bin" / "python"


def load_elsewhere(
    python: Path, uri: str, *, tracking_uri: str, workdir: Path
) -> dict[str, object]:
    """Load ``uri`` with ``python`` (cwd ``workdir``, no PYTHONPATH) and predict its example."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "OPTIMIZER_"))}
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    env["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    done = subprocess.run(
        [str(python), "-c", LOAD_SCRIPT, uri, str(workdir / "model")],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(result, dict)
    return result


def _imports(tree: ast.AST) -> tuple[set[str], set[str]]:
    """Top-level names of absolute imports (at module level, inside functions), leaving out
    ``if TYPE_CHECKING:`` blocks."""
    module_level: set[str] = set()
    in_functions: set[str] = set()

    def visit(node: ast.AST, found: set[str]) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child, found)
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found = in_functions
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child, found)

    visit(tree, module_level)
    return module_level, in_functions


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def modules_not_covered(files: list[Path], loaded: set[str], requirements: list[str]) -> set[str]:
    """Third-party modules that ``files`` import (at module level, or inside a function when
    the module was in fact ``loaded``) and that no distribution of ``requirements`` provides."""
    names: set[str] = set()
    for file in files:
        module_level, in_functions = _imports(ast.parse(file.read_text("utf-8")))
        names |= module_level | (in_functions & loaded)
    names -= set(sys.stdlib_module_names) | {"optimizer", "__future__"}
    owners = metadata.packages_distributions()
    listed = requirement_names(requirements)
    return {n for n in names if not {_normal(d) for d in owners.get(n, [n])} & listed}


def requirement_names(requirements: list[str]) -> set[str]:
    return {_normal(re.split(r"[=<>!~ ;\[]", line, maxsplit=1)[0]) for line in requirements}
