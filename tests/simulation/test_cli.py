from __future__ import annotations

import json

import pytest

from optimizer.cli import main


def test_simulate_run_prints_rates_and_a_json_last_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "run", "--leads", "800", "--days", "5", "--seed", "3"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    payload = json.loads(out[-1])
    assert payload["leads"] > 700 and payload["seed"] == 3
    assert sum(payload["violations"].values()) == 0
    assert any("reply rate" in line for line in out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["simulate", "run", "--days", "0"], "--days 0 is below 1"),
        (
            ["simulate", "run", "--start", "yesterday"],
            "--start 'yesterday' is not an ISO 8601 time",
        ),
        (["simulate", "send-time-eval", "--leads", "3"], "--leads 3 / --history-leads 3000"),
    ],
)
def test_bad_arguments_fail_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err
