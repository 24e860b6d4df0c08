"""The hard compliance gate: pure rules over a :class:`GateContext` -> :class:`Verdict`.

Rules are data (``rules.json``); every verdict carries every failing reason, the earliest time
the send would be allowed, and the rules version. See docs/compliance-rules.md.
"""

from optimizer.compliance.content import segment_info
from optimizer.compliance.gate import allowed_mask, evaluate, next_allowed_at
from optimizer.compliance.inbound import classify_inbound
from optimizer.compliance.model import (
    BannedDay,
    ConsentEntry,
    DncCheck,
    GateContext,
    InboundClassification,
    PolicyConfig,
    Reason,
    SegmentInfo,
    SuppressionStatus,
    Verdict,
)
from optimizer.compliance.policy import policy_from_settings
from optimizer.compliance.rules import load_rules, rules_version

__all__ = [
    "BannedDay",
    "ConsentEntry",
    "DncCheck",
    "GateContext",
    "InboundClassification",
    "PolicyConfig",
    "Reason",
    "SegmentInfo",
    "SuppressionStatus",
    "Verdict",
    "allowed_mask",
    "classify_inbound",
    "evaluate",
    "load_rules",
    "next_allowed_at",
    "policy_from_settings",
    "rules_version",
    "segment_info",
]
