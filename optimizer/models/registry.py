"""The MLflow model registry, model-agnostic: register a challenger, record a validation,
promote a champion, load the champion. Used by the lead-score and the send-time models.

Aliases (MLflow 3): ``challenger`` = the newest trained candidate, ``champion`` = what the service
loads (``models:/<name>@champion``). A validation (challenger vs champion on the same holdout) is
stored as tags on the challenger's model version (``validation.*``); :func:`promote` reads them:

- a champion exists: promote when the challenger beats it by ``margin`` on ``metric``
  (validated against that same champion version);
- no champion yet: promote only when the challenger beats the recorded baseline (if any).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from optimizer.errors import InvalidInput, NotFound
from optimizer.models.mlflow_store import ensure_store

CHALLENGER = "challenger"
CHAMPION = "champion"
TAG_METRIC = "validation.metric"
TAG_CHALLENGER = "validation.challenger"
TAG_CHAMPION = "validation.champion"
TAG_CHAMPION_VERSION = "validation.champion_version"
TAG_BASELINE = "validation.baseline"
TAG_COMPARABLE = "validation.comparable"
PYFUNC_ARTIFACTS = "artifacts"  # where a logged pyfunc keeps its ``artifacts``


def client_for(tracking_uri: str) -> MlflowClient:
    """A client whose tracking and registry stores are both ``tracking_uri`` (prepared first,
    under the store's inter-process lock: see :mod:`optimizer.models.mlflow_store`)."""
    ensure_store(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def register_model(
    run_id: str | None,
    model_uri: str,
    name: str,
    *,
    client: MlflowClient,
    alias: str | None = CHALLENGER,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Register ``model_uri`` as a new version of ``name``, set ``alias`` on it; return the version.

    ``model_uri`` is a full URI (``models:/m-...`` from ``log_model``, ``runs:/...``) or an
    artifact path inside run ``run_id``.
    """
    if "://" not in model_uri and not model_uri.startswith(("models:/", "runs:/")):
        if run_id is None:
            raise InvalidInput(f"artifact path {model_uri!r} needs a run id (or pass a full URI)")
        model_uri = f"runs:/{run_id}/{model_uri}"
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name)
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    source = model_uri
    if model_id is not None:
        source = client.get_logged_model(model_id).artifact_location
    version = client.create_model_version(
        name,
        source=source,
        run_id=run_id,
        tags={k: str(v) for k, v in (tags or {}).items()},
        model_id=model_id,
    )
    if alias:
        client.set_registered_model_alias(name, alias, version.version)
    return str(version.version)


def get_alias_version(name: str, alias: str, *, client: MlflowClient) -> ModelVersion | None:
    """The version ``name@alias`` points at, or None (no such model or alias)."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        # Only "no such model" / "no such alias" mean there is none; a store that fails is
        # raised, so that the caller can tell a missing champion from a broken store.
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def list_versions(name: str, *, client: MlflowClient) -> tuple[ModelVersion, ...]:
    """Every version of ``name``, newest first (empty when the model is not registered)."""
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException:
        return ()
    return tuple(sorted(versions, key=lambda v: -int(v.version)))


def aliases_of(name: str, *, client: MlflowClient) -> dict[str, list[str]]:
    """Version -> its aliases, for ``name`` (empty when the model is not registered)."""
    try:
        model = client.get_registered_model(name)
    except MlflowException:
        return {}
    out: dict[str, list[str]] = {}
    for alias, version in (model.aliases or {}).items():
        out.setdefault(str(version), []).append(alias)
    return out


@dataclass(frozen=True)
class ValidationRecord:
    metric: str
    challenger_version: str
    challenger: float
    champion_version: str | None
    champion: float | None
    baseline: float | None
    comparable: bool


def record_validation(name: str, record: ValidationRecord, *, client: MlflowClient) -> None:
    """Store a validation result as tags on the challenger's version (read by :func:`promote`)."""
    values = {
        TAG_METRIC: record.metric,
        TAG_CHALLENGER: repr(record.challenger),
        TAG_CHAMPION: "" if record.champion is None else repr(record.champion),
        TAG_CHAMPION_VERSION: record.champion_version or "",
        TAG_BASELINE: "" if record.baseline is None else repr(record.baseline),
        TAG_COMPARABLE: "true" if record.comparable else "false",
    }
    for key, value in values.items():
        client.set_model_version_tag(name, record.challenger_version, key, value)


def _float_tag(tags: Mapping[str, str], key: str) -> float | None:
    text = tags.get(key, "")
    return float(text) if text else None


@dataclass(frozen=True)
class PromotionDecision:
    promoted: bool
    name: str
    metric: str
    challenger_version: str
    champion_before: str | None
    champion_after: str | None
    challenger_value: float
    champion_value: float | None
    baseline_value: float | None
    margin: float
    reason: str


def promote(
    name: str,
    *,
    client: MlflowClient,
    margin: float,
    metric: str,
    higher_is_better: bool = True,
    force: bool = False,
) -> PromotionDecision:
    """Move ``champion`` to the challenger if its recorded validation says it is better."""
    challenger = get_alias_version(name, CHALLENGER, client=client)
    if challenger is None:
        raise NotFound(f"model {name!r} has no version with alias {CHALLENGER!r} (train one first)")
    tags = dict(challenger.tags or {})
    if tags.get(TAG_METRIC) != metric:
        raise InvalidInput(
            f"{name} version {challenger.version} has no validation on {metric!r} "
            f"(run 'optimizer models validate {name}' first)"
        )
    value = _float_tag(tags, TAG_CHALLENGER)
    assert value is not None
    champion_value = _float_tag(tags, TAG_CHAMPION)
    baseline = _float_tag(tags, TAG_BASELINE)
    champion = get_alias_version(name, CHAMPION, client=client)
    champion_before = None if champion is None else str(champion.version)
    sign = 1.0 if higher_is_better else -1.0

    def decision(promoted: bool, reason: str) -> PromotionDecision:
        if promoted:
            client.set_registered_model_alias(name, CHAMPION, str(challenger.version))
            client.delete_registered_model_alias(name, CHALLENGER)
        return PromotionDecision(
            promoted=promoted,
            name=name,
            metric=metric,
            challenger_version=str(challenger.version),
            champion_before=champion_before,
            champion_after=str(challenger.version) if promoted else champion_before,
            challenger_value=value,
            champion_value=champion_value,
            baseline_value=baseline,
            margin=margin,
            reason=reason,
        )

    if champion_before == str(challenger.version):
        return decision(False, f"version {challenger.version} is already the champion")
    if force:
        return decision(True, "forced promotion")
    if champion is None:
        if baseline is not None and not sign * (value - baseline) > 0:
            return decision(
                False,
                f"no champion yet, and the challenger's {metric} {value:.4f} does not beat "
                f"the baseline's {baseline:.4f}",
            )
        return decision(True, f"no champion yet; challenger {metric} {value:.4f} beats baseline")
    if tags.get(TAG_CHAMPION_VERSION) != champion_before:
        raise InvalidInput(
            f"{name} version {challenger.version} was validated against champion "
            f"{tags.get(TAG_CHAMPION_VERSION) or 'none'}, but the champion is now version "
            f"{champion_before} (validate again)"
        )
    if tags.get(TAG_COMPARABLE) != "true" or champion_value is None or math.isnan(champion_value):
        return decision(
            False,
            "challenger and champion could not be compared on the same holdout "
            "(different feature sets); use --force to promote anyway",
        )
    gain = sign * (value - champion_value)
    if gain >= margin:
        return decision(
            True, f"{metric} {value:.4f} vs champion {champion_value:.4f} (margin {margin})"
        )
    return decision(
        False,
        f"{metric} {value:.4f} vs champion {champion_value:.4f}: not better by the margin {margin}",
    )


@dataclass(frozen=True)
class LoadedVersion:
    name: str
    version: str
    alias: str
    local_dir: Path
    run_id: str | None
    tags: Mapping[str, str]


def load_alias(
    name: str,
    alias: str,
    *,
    tracking_uri: str,
    dst_dir: Path | None = None,
    subpath: str | None = PYFUNC_ARTIFACTS,
) -> LoadedVersion | None:
    """Download the files of ``models:/name@alias`` (None when the alias does not exist).

    Only ``subpath`` of the logged model by default: its pyfunc artifacts, the saved model files
    the service reads (not the copy of the package in ``code/``, 170 files, one request each
    from an MLflow server); the whole logged model when it has no such folder or ``subpath`` is
    None."""
    client = client_for(tracking_uri)
    version = get_alias_version(name, alias, client=client)
    if version is None:
        return None
    if dst_dir is not None:
        dst_dir.mkdir(parents=True, exist_ok=True)
    # Resolve the version's files through this client, so that no global MLflow URI is used.
    source = client.get_model_version_download_uri(name, str(version.version))
    local = None
    if subpath is not None:
        with contextlib.suppress(MlflowException, OSError):
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"{source.rstrip('/')}/{subpath}",
                dst_path=None if dst_dir is None else str(dst_dir),
                tracking_uri=tracking_uri,
            )
        if local is not None and not any(Path(local).iterdir()):
            local = None
    if local is None:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=source,
            dst_path=None if dst_dir is None else str(dst_dir),
            tracking_uri=tracking_uri,
        )
    return LoadedVersion(
        name=name,
        version=str(version.version),
        alias=alias,
        local_dir=Path(local),
        run_id=version.run_id,
        tags=dict(version.tags or {}),
    )


def load_champion(
    name: str, *, tracking_uri: str, dst_dir: Path | None = None
) -> LoadedVersion | None:
    """Download ``models:/name@champion`` (None when there is no champion yet)."""
    return load_alias(name, CHAMPION, tracking_uri=tracking_uri, dst_dir=dst_dir)
