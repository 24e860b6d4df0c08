"""A setting that breaks its constraint: one readable line naming the variable, exit 2."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from optimizer.cli import main
from optimizer.settings import get_settings


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("OPTIMIZER_DECISION_THREADS", "0", "greater than or equal to 1"),
        ("OPTIMIZER_KEY_CACHE_SECONDS", "-1", "greater than or equal to 0"),
        ("OPTIMIZER_CHECKPOINT_SECONDS", "0", "greater than 0"),
        ("OPTIMIZER_SEED", "abc", "valid integer"),
        ("OPTIMIZER_LOG_FORMAT", "xml", "'json' or 'console'"),
    ],
)
def test_bad_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(name, value)
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"error: setting {name}={value!r}: ") and expected in err[0]
