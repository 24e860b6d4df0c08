"""The lead-world simulator: a documented, seeded, vectorised world of leads (docs/simulator.md)."""

from optimizer.simulation.bulk import BulkReport, CadencePolicy, simulate_cadence
from optimizer.simulation.checker import ComplianceChecker
from optimizer.simulation.config import SimConfig, VariantEffect
from optimizer.simulation.loop import (
    Engine,
    Outcome,
    SendRequest,
    VariantCounts,
    WorldReport,
    run_world,
)
from optimizer.simulation.world import LatentLead, SimLead, World

__all__ = [
    "BulkReport",
    "CadencePolicy",
    "ComplianceChecker",
    "Engine",
    "LatentLead",
    "Outcome",
    "SendRequest",
    "SimConfig",
    "SimLead",
    "VariantCounts",
    "VariantEffect",
    "World",
    "WorldReport",
    "run_world",
    "simulate_cadence",
]
