"""The demo's closing table: both engines side by side."""

from __future__ import annotations

from typing import Any

from optimizer.simulation import WorldReport


def rows(
    ours: WorldReport, naive: WorldReport, ours_deferrals: int, naive_deferrals: int
) -> list[tuple[str, str, str]]:
    def pct(value: float) -> str:
        return f"{100 * value:.2f}%"

    def money(value: float) -> str:
        return f"${value:,.2f}"

    return [
        ("leads", f"{ours.leads_registered:,}", f"{naive.leads_registered:,}"),
        ("texts sent", f"{ours.marketing_texts:,}", f"{naive.marketing_texts:,}"),
        ("leads texted", f"{ours.recipients:,}", f"{naive.recipients:,}"),
        ("replies", f"{ours.replies:,}", f"{naive.replies:,}"),
        ("reply rate (per delivered text)", pct(ours.reply_rate), pct(naive.reply_rate)),
        ("conversions", f"{ours.conversions:,}", f"{naive.conversions:,}"),
        ("revenue", money(ours.revenue), money(naive.revenue)),
        ("revenue per message", money(ours.revenue_per_message), money(naive.revenue_per_message)),
        ("opt-out rate (of leads texted)", pct(ours.opt_out_rate), pct(naive.opt_out_rate)),
        ("quiet-hour deferrals", f"{ours_deferrals:,}", f"{naive_deferrals:,}"),
        (
            "compliance violations (independent checker)",
            f"{ours.violation_count}",
            f"{naive.violation_count}",
        ),
    ]


def render_table(table: list[tuple[str, str, str]]) -> str:
    header = ("", "our engine", "naive engine")
    widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(3)]
    lines = [
        f"{header[0]:<{widths[0]}}  {header[1]:>{widths[1]}}  {header[2]:>{widths[2]}}",
        f"{'-' * widths[0]}  {'-' * widths[1]}  {'-' * widths[2]}",
    ]
    lines += [f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}" for a, b, c in table]
    return "\n".join(lines)


def summary(report: WorldReport, deferrals: int) -> dict[str, Any]:
    return {
        "leads": report.leads_registered,
        "texts_sent": report.marketing_texts,
        "recipients": report.recipients,
        "replies": report.replies,
        "reply_rate": report.reply_rate,
        "conversions": report.conversions,
        "revenue": round(report.revenue, 2),
        "revenue_per_message": round(report.revenue_per_message, 4),
        "opt_outs": report.opt_outs,
        "opt_out_rate": report.opt_out_rate,
        "quiet_hour_deferrals": deferrals,
        "violations": report.violation_count,
        "violations_by_kind": report.violations,
        "unseen_opt_out_texts": report.unseen_opt_out_texts,
    }
