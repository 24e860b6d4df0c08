"""Reports for marketers: pure functions over the store returning frozen results (``to_dict()``).

The pages under ``/ui`` and the JSON under ``/v1/reports`` both show these numbers; templates
only format them.
"""

from optimizer.reports.attribution import AttributionReport, attribution
from optimizer.reports.common import Period, resolve_period
from optimizer.reports.experiments import (
    ExperimentList,
    ExperimentReport,
    experiment_list,
    experiment_report,
)
from optimizer.reports.handoffs import HandoffPage, handoff_list
from optimizer.reports.health import HealthReport, data_span, list_health
from optimizer.reports.leads import LeadReport, lead_report
from optimizer.reports.segments import SegmentsReport, segment_breakdown

__all__ = [
    "AttributionReport",
    "ExperimentList",
    "ExperimentReport",
    "HandoffPage",
    "HealthReport",
    "LeadReport",
    "Period",
    "SegmentsReport",
    "attribution",
    "data_span",
    "experiment_list",
    "experiment_report",
    "handoff_list",
    "lead_report",
    "list_health",
    "resolve_period",
    "segment_breakdown",
]
