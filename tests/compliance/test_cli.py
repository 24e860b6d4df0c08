"""``optimizer compliance audit``, ``compliance banned-date add`` and ``dnc import``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from optimizer.cli import main
from optimizer.settings import get_settings
from optimizer.store.db import make_engine, session_factory
from optimizer.store.models import BannedDate, DncImport, DncNumber

PLAN = Path(__file__).parent / "data" / "must_show_plan.csv"


def _audit(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, str]]:
    assert main(["compliance", "audit", str(PLAN), *args]) == 0
    out = capsys.readouterr()
    summary = json.loads(out.err.strip().splitlines()[-1])
    assert summary["rows"] == 10
    return list(csv.DictReader(io.StringIO(out.out)))


def _by_phone(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["phone"]: row for row in rows}


@pytest.mark.parametrize(
    ("policy", "florida_next", "alabama_next"),
    [
        ("legal", "2026-12-02T13:00:00Z", "2026-12-07T14:00:00Z"),
        ("house", "2026-12-02T14:00:00Z", "2026-12-07T15:00:00Z"),
    ],
)
def test_audit_must_show_plan(
    capsys: pytest.CaptureFixture[str], policy: str, florida_next: str, alabama_next: str
) -> None:
    rows = _by_phone(_audit(capsys, "--policy", policy))
    florida = rows["+13055550142"]  # 20:30 local
    assert florida["allowed"] == "false" and "quiet_hours.state.FL" in florida["reasons"].split(";")
    assert florida["next_allowed_at"] == florida_next  # 08:00 (legal) / 09:00 (house) EST
    texas = rows["+12145550142"]  # Sunday 10:00
    assert (
        texas["reasons"] == "quiet_hours.state.TX"
        and texas["next_allowed_at"] == "2026-12-06T18:00:00Z"
    )
    alabama = rows["+12055550142"]  # Sunday
    assert (
        alabama["reasons"] == "banned_day.state.AL" and alabama["next_allowed_at"] == alabama_next
    )
    opted_out = rows["+13055550143"]
    assert (
        "suppressed.opt_out" in opted_out["reasons"].split(";")
        and opted_out["next_allowed_at"] == ""
    )
    oklahoma = rows["+14055550142"]  # a fourth text in 24 h
    assert oklahoma["reasons"] == "frequency.state_24h.OK"
    assert oklahoma["next_allowed_at"] == "2026-12-02T15:00:00Z"  # 09:00 CST, 24 h after the first
    new_york = rows["+12125550142"]
    assert new_york["allowed"] == "true" and new_york["reasons"] == ""
    unreadable = rows["+12125550144"]
    assert unreadable["allowed"] == "false" and unreadable["reasons"] == "input.send_at"
    # Every input column is echoed back.
    assert list(florida)[:11] == [
        "phone",
        "send_at",
        "message",
        "state",
        "timezone",
        "consent_at",
        "opted_out_at",
        "prior_sends",
        "last_reply_at",
        "first_in_sequence",
        "dnc",
    ]


def test_audit_jsonl_and_brand(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "result.jsonl"
    assert (
        main(
            [
                "compliance",
                "audit",
                str(PLAN),
                "--format",
                "jsonl",
                "--brand",
                "Other Co",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["brand"] == "Other Co" and summary["allowed"] == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 10
    assert "content.no_brand" in records[5]["reasons"]
    assert records[0]["details"][0]["source"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("phone,message\n+12125550142,hi\n", "lacks column(s) send_at"),
        ("", "lacks column(s) phone, send_at, message"),
    ],
)
def test_audit_bad_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    plan = tmp_path / "plan.csv"
    plan.write_text(content)
    assert main(["compliance", "audit", str(plan)]) == 2
    assert message in capsys.readouterr().err


def test_audit_bad_cells_name_their_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan.csv"
    plan.write_text(
        "phone,send_at,message,state,dnc,prior_sends\n"
        "+12125550142,2026-12-01T12:00:00,hi,,,\n"
        "+12125550142,2026-12-01T12:00:00-05:00,hi,XX,,\n"
        "+12125550142,2026-12-01T12:00:00-05:00,hi,,maybe,\n"
        "+12125550142,2026-12-01T12:00:00-05:00,hi,,,yesterday\n"
        "not a phone,2026-12-01T12:00:00-05:00,hi,,,\n"
    )
    assert main(["compliance", "audit", str(plan), "--format", "jsonl"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["reasons"][0] for r in records] == [
        "input.send_at",
        "input.state",
        "input.dnc",
        "input.prior_sends",
        "phone.invalid",
    ]
    assert not any(r["allowed"] for r in records)


def _store() -> tuple[object, object]:
    assert main(["db", "upgrade"]) == 0
    engine = make_engine(get_settings().resolved_database_url())
    return engine, session_factory(engine)


def test_dnc_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine, factory = _store()
    numbers = tmp_path / "national.txt"
    numbers.write_text("+12125550142\n(305) 555-0142\n\n12345\n+12125550142\n")
    assert (
        main(["dnc", "import", str(numbers), "--registry", "national", "--as-of", "2026-11-20"])
        == 0
    )
    out = capsys.readouterr()
    assert "line 4:" in out.err and "12345" in out.err
    result = json.loads(out.out.strip().splitlines()[-1])
    assert (result["numbers"], result["invalid"], result["invalid_lines"]) == (2, 1, [4])
    with factory() as session:  # type: ignore[operator]
        imp = session.scalars(select(DncImport)).one()
        assert (imp.registry_name, imp.numbers, imp.invalid) == ("national", 2, 1)
        assert sorted(session.scalars(select(DncNumber.phone_e164))) == [
            "+12125550142",
            "+13055550142",
        ]
    as_csv = tmp_path / "fl.csv"
    as_csv.write_text("name,Phone\nA,+13055550142\nB,oops\n")
    assert main(["dnc", "import", str(as_csv), "--registry", "fl", "--as-of", "2026-11-21"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["registry"] == "FL"
    engine.dispose()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--registry", "mars", "--as-of", "2026-11-20"], "registry 'mars' is unknown"),
        (["--registry", "national", "--as-of", "20/11/2026"], "--as-of '20/11/2026' is not a date"),
        (["--registry", "national", "--as-of", "2999-01-01"], "is in the future"),
    ],
)
def test_dnc_import_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    _store()
    numbers = tmp_path / "n.txt"
    numbers.write_text("+12125550142\n")
    assert main(["dnc", "import", str(numbers), *args]) == 2
    assert message in capsys.readouterr().err


def test_banned_date_add(capsys: pytest.CaptureFixture[str]) -> None:
    engine, factory = _store()
    args = [
        "compliance",
        "banned-date",
        "add",
        "--state",
        "la",
        "--date",
        "2026-12-02",
        "--reason",
        "governor-declared holiday",
    ]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["state"] == "LA"
    with factory() as session:  # type: ignore[operator]
        row = session.scalars(select(BannedDate)).one()
        assert (row.state, row.day.isoformat(), row.reason) == (
            "LA",
            "2026-12-02",
            "governor-declared holiday",
        )
    assert main(args) == 2
    assert "already a banned date" in capsys.readouterr().err
    assert (
        main(
            [
                "compliance",
                "banned-date",
                "add",
                "--state",
                "ZZ",
                "--date",
                "2026-12-02",
                "--reason",
                "x",
            ]
        )
        == 2
    )
    engine.dispose()  # type: ignore[attr-defined]


def test_audit_rows_engine_for_the_api() -> None:
    from optimizer.compliance.audit import audit_rows
    from optimizer.settings import Settings

    rows = [
        {
            "phone": "+12125550142",
            "send_at": "2026-12-01T09:30:00-05:00",
            "consent_at": "2026-01-01T00:00:00Z",
            "message": "Acme Home Services: hi. Reply STOP to opt out.",
        },
        {
            "phone": "+12125550142",
            "send_at": "2026-12-01T22:30:00-05:00",
            "consent_at": "2026-01-01T00:00:00Z",
            "message": "Acme Home Services: hi. Reply STOP to opt out.",
        },
        {"phone": "+12125550142"},
    ]
    out = audit_rows(rows, settings=Settings(brand_name="Acme Home Services"), policy="house")
    assert [r["allowed"] for r in out] == ["true", "false", "false"]
    assert out[1]["reasons"] == "quiet_hours.federal;quiet_hours.house"
    assert out[1]["next_allowed_at"] == "2026-12-02T14:00:00Z"
    assert out[2]["reasons"] == "input.send_at"
    other = audit_rows(rows[:1], settings=Settings(), brand="Zed Co", policy="legal")
    assert other[0]["reasons"] == "content.no_brand"
