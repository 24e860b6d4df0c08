"""CSV training data: reading any reasonable table, and one readable line for bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from optimizer.cli import main
from optimizer.errors import InvalidInput
from optimizer.settings import Settings
from tests.training.csvdata import make_table, write_csv
from training.datasets import load_csv, sniff_separator


def test_reads_a_semicolon_gzip_table_with_ids_dates_and_missing_values(tmp_path: Path) -> None:
    path = tmp_path / "history.csv.gz"
    with gzip.open(path, "wt") as handle:
        make_table(300).to_csv(handle, sep=";", index=False)
    data = load_csv(path, target="converted", drop=["city"])
    assert data.positive == "yes"
    assert data.rows == 300 and set(np.unique(data.y)) == {0, 1}
    assert "customer_id" not in data.frame.columns  # every value unique: an ID
    assert "channel" not in data.frame.columns  # one value only
    assert "city" not in data.frame.columns
    assert pd.api.types.is_datetime64_any_dtype(data.frame["signup"])
    assert any("customer_id" in w and "ID" in w for w in data.warnings)
    assert data.feature_source.startswith("csv:") and len(data.digest) == 64


@pytest.mark.parametrize(
    ("header", "expected"),
    [("a,b,c\n", ","), ("a;b;c\n", ";"), ("a\tb\n", "\t"), ("a|b|c\n", "|"), ("single\n", ",")],
)
def test_separator_is_sniffed_from_the_header(header: str, expected: str) -> None:
    assert sniff_separator(header) == expected


def test_positive_value_can_be_chosen_for_a_multiclass_target(tmp_path: Path) -> None:
    frame = make_table(200).assign(
        tier=lambda f: np.where(
            f["visits"] > 3, "gold", np.where(f["visits"] > 1, "silver", "bronze")
        )
    )
    path = write_csv(tmp_path / "t.csv", frame.drop(columns=["converted"]))
    data = load_csv(path, target="tier", positive="gold")
    assert data.y.sum() == int((frame["tier"] == "gold").sum())


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, list[str], str]]:
    table = make_table(120)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b,converted\n")
    good = write_csv(tmp_path / "good.csv", table)
    one_class = write_csv(tmp_path / "one.csv", table.assign(converted="no"))
    multi = write_csv(
        tmp_path / "multi.csv", table.assign(converted=np.resize(["a", "b", "c"], len(table)))
    )
    two_words = write_csv(
        tmp_path / "words.csv", table.assign(converted=np.resize(["red", "blue"], len(table)))
    )
    no_target = write_csv(tmp_path / "nt.csv", table.assign(converted=None))
    return {
        "empty file": (empty, ["--target", "converted"], "is empty"),
        "header only": (header_only, ["--target", "converted"], "no data rows"),
        "missing target": (good, ["--target", "bought"], "target column 'bought' is not in"),
        "one class": (one_class, ["--target", "converted"], "one class only"),
        "not binary": (multi, ["--target", "converted"], "not binary: 3 distinct values"),
        "unknown positive": (
            good,
            ["--target", "converted", "--positive", "maybe"],
            "--positive 'maybe'",
        ),
        "no positive word": (two_words, ["--target", "converted"], "pass --positive"),
        "empty target": (no_target, ["--target", "converted"], "empty in every row"),
        "drop unknown": (good, ["--target", "converted", "--drop", "nope"], "--drop column 'nope'"),
        "missing file": (tmp_path / "absent.csv", ["--target", "converted"], "does not exist"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "empty file",
        "header only",
        "missing target",
        "one class",
        "not binary",
        "unknown positive",
        "no positive word",
        "empty target",
        "drop unknown",
        "missing file",
    ],
)
def test_bad_input_is_one_readable_line_and_no_run(
    case: str, tmp_path: Path, ml_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    path, args, message = _bad_files(tmp_path)[case]
    code = main(["train", "lead-score", "--csv", str(path), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("error: ") and message in err[-1]
    client = MlflowClient(tracking_uri=ml_settings.resolved_mlflow_uri())
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
    assert [r for r in runs if r.info.status != "FAILED"] == []


def test_load_csv_refuses_a_target_listed_in_drop(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "g.csv", make_table(100))
    with pytest.raises(InvalidInput, match="is the target"):
        load_csv(path, target="converted", drop=["converted"])


def test_bank_slice_reads_with_its_own_separator(data_dir: Path) -> None:
    data = load_csv(data_dir / "bank-additional-full.csv.gz", target="y", drop=["duration"])
    assert data.positive == "yes" and data.rows == 41188
    assert data.y.sum() == 4640
    assert "duration" not in data.frame.columns and data.frame.shape[1] == 19
