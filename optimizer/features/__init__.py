"""Point-in-time lead features from the event log (the same code for training and serving)."""

from optimizer.features.build import build_features
from optimizer.features.definitions import FEATURE_SOURCE, base_columns
from optimizer.features.store import load_lead_features

__all__ = ["FEATURE_SOURCE", "base_columns", "build_features", "load_lead_features"]
