"""Registry: register a challenger, record a validation, the promotion rules, load the champion."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from optimizer.errors import InvalidInput, NotFound
from optimizer.models.registry import (
    CHALLENGER,
    CHAMPION,
    ValidationRecord,
    client_for,
    get_alias_version,
    load_champion,
    promote,
    record_validation,
    register_model,
)

NAME = "some-model"


def _register(client: MlflowClient, tmp_path: Path, tag: str) -> str:
    """A run with a tiny artifact folder, registered as the challenger."""
    folder = tmp_path / f"model-{tag}"
    folder.mkdir()
    (folder / "weights.json").write_text(f'{{"tag": "{tag}"}}')
    experiment = client.create_experiment(
        f"exp-{tag}", artifact_location=(tmp_path / "art").as_uri()
    )
    run = client.create_run(experiment)
    client.log_artifacts(run.info.run_id, str(folder), artifact_path="model")
    client.set_terminated(run.info.run_id)
    return register_model(run.info.run_id, "model", NAME, client=client, tags={"kind": tag})


def _validate(
    client: MlflowClient,
    version: str,
    value: float,
    *,
    champion: tuple[str, float] | None,
    baseline: float | None = 0.6,
    comparable: bool = True,
) -> None:
    record_validation(
        NAME,
        ValidationRecord(
            metric="roc_auc",
            challenger_version=version,
            challenger=value,
            champion_version=None if champion is None else champion[0],
            champion=None if champion is None else champion[1],
            baseline=baseline,
            comparable=comparable,
        ),
        client=client,
    )


def test_promotion_rules(mlflow_uri: str, tmp_path: Path) -> None:
    client = client_for(mlflow_uri)
    with pytest.raises(NotFound, match="challenger"):
        promote(NAME, client=client, margin=0.01, metric="roc_auc")
    assert load_champion(NAME, tracking_uri=mlflow_uri) is None

    v1 = _register(client, tmp_path, "one")
    assert str(get_alias_version(NAME, CHALLENGER, client=client).version) == v1  # type: ignore[union-attr]
    with pytest.raises(InvalidInput, match="validate"):
        promote(NAME, client=client, margin=0.01, metric="roc_auc")

    # No champion: must beat the baseline.
    _validate(client, v1, 0.55, champion=None, baseline=0.6)
    decision = promote(NAME, client=client, margin=0.01, metric="roc_auc")
    assert not decision.promoted and "baseline" in decision.reason
    _validate(client, v1, 0.70, champion=None, baseline=0.6)
    decision = promote(NAME, client=client, margin=0.01, metric="roc_auc")
    assert decision.promoted and decision.champion_after == v1
    assert get_alias_version(NAME, CHALLENGER, client=client) is None

    loaded = load_champion(NAME, tracking_uri=mlflow_uri, dst_dir=tmp_path / "dl")
    assert loaded is not None and loaded.version == v1 and loaded.tags["kind"] == "one"
    assert '"one"' in next(loaded.local_dir.rglob("weights.json")).read_text()

    # A champion exists: better by less than the margin is not enough.
    v2 = _register(client, tmp_path, "two")
    _validate(client, v2, 0.705, champion=(v1, 0.70))
    assert not promote(NAME, client=client, margin=0.01, metric="roc_auc").promoted
    # Lower is better (e.g. log loss) flips the comparison.
    record_validation(
        NAME,
        ValidationRecord("log_loss", v2, 0.30, v1, 0.40, None, True),
        client=client,
    )
    decision = promote(NAME, client=client, margin=0.05, metric="log_loss", higher_is_better=False)
    assert decision.promoted and decision.champion_before == v1 and decision.champion_after == v2

    # Validated against an older champion: refused until validated again.
    v3 = _register(client, tmp_path, "three")
    _validate(client, v3, 0.9, champion=(v1, 0.70))
    with pytest.raises(InvalidInput, match="validate again"):
        promote(NAME, client=client, margin=0.01, metric="roc_auc")
    # Different feature sets: not comparable, only --force promotes.
    _validate(client, v3, 0.9, champion=(v2, float("nan")), comparable=False)
    assert not promote(NAME, client=client, margin=0.01, metric="roc_auc").promoted
    assert promote(NAME, client=client, margin=0.01, metric="roc_auc", force=True).promoted
    assert str(get_alias_version(NAME, CHAMPION, client=client).version) == v3  # type: ignore[union-attr]
