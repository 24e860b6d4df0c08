"""`optimizer demo --var-dir DIR` never deletes a directory it did not make, and leaves one API
key per scope there (mode 0600)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from optimizer.cli import main
from optimizer.demo.runner import KEYS_FILE, MARKER, SCOPES, check_var_dir, write_keys_file
from optimizer.errors import InvalidInput
from optimizer.ingest.keys import has_scope, verify_key
from optimizer.store.db import make_engine, session_factory


def test_a_non_empty_directory_that_is_not_a_demos_is_refused_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("years of work")
    assert main(["demo", "--var-dir", str(mine), "--leads", "5", "--days", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"error: --var-dir {mine} is not empty and is not a previous demo's")
    assert (mine / "chapter1.tex").read_text() == "years of work"
    assert sorted(p.name for p in mine.iterdir()) == ["chapter1.tex"]


def test_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("x")
    with pytest.raises(InvalidInput, match="is a file, not a directory"):
        check_var_dir(path)


def test_absent_empty_marked_and_older_demo_directories_are_accepted(tmp_path: Path) -> None:
    check_var_dir(tmp_path / "absent")
    empty = tmp_path / "empty"
    empty.mkdir()
    check_var_dir(empty)
    marked = tmp_path / "marked"
    marked.mkdir()
    (marked / MARKER).write_text("")
    (marked / "anything-else").write_text("")
    check_var_dir(marked)
    older = tmp_path / "older"  # a demo's directory from before the marker
    older.mkdir()
    for name in ("optimizer.db", "optimizer.db-wal", "mlflow.db.lock", "read-key.txt"):
        (older / name).write_text("")
    (older / "mlartifacts").mkdir()
    check_var_dir(older)
    (older / "report.docx").write_text("")
    with pytest.raises(InvalidInput, match="not a previous demo's"):
        check_var_dir(older)


def test_the_keys_file_is_private_and_loads_in_a_shell(tmp_path: Path) -> None:
    keys = {scope: f"key-{scope}" for scope in SCOPES}
    path = write_keys_file(tmp_path, keys)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = write_keys_file(tmp_path, keys)  # rewritten, still private
    assert stat.S_IMODE(again.stat().st_mode) == 0o600
    shown = subprocess.run(
        ["bash", "-c", f'set -a; . "{path}"; set +a; echo "$DEMO_DECIDE_KEY $DEMO_READ_KEY"'],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    assert shown.stdout.strip() == "key-decide key-read"


@pytest.mark.slow
def test_a_small_demo_leaves_a_working_key_per_scope_and_its_marker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    var_dir = tmp_path / "demo"
    argv = ["demo", "--var-dir", str(var_dir), "--leads", "20", "--days", "1"]
    assert main([*argv, "--history-leads", "300"]) == 0
    out = capsys.readouterr().out
    assert str(var_dir / KEYS_FILE) in out
    assert (var_dir / MARKER).exists()
    check_var_dir(var_dir)  # the next run may recreate it
    path = var_dir / KEYS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pairs = dict(
        line.split("=", 1) for line in path.read_text().splitlines() if not line.startswith("#")
    )
    assert sorted(pairs) == sorted(f"DEMO_{scope.upper()}_KEY" for scope in SCOPES)
    engine = make_engine(f"sqlite:///{var_dir / 'optimizer.db'}")
    try:
        with session_factory(engine)() as session:
            for scope in SCOPES:
                key = verify_key(session, pairs[f"DEMO_{scope.upper()}_KEY"])
                assert key is not None and has_scope(key, scope)
                assert tuple(key.scopes) == (scope,)
    finally:
        engine.dispose()
