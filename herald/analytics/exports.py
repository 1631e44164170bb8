"""Every analytics report as CSV: one row per line of the report, money as text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from herald.analytics.schemas import (
    AcquisitionReport,
    AttributionReport,
    CohortReport,
    FunnelReport,
    InquiryReport,
    RetentionReport,
    SeriesReport,
)

AnyReport = (
    SeriesReport
    | CohortReport
    | RetentionReport
    | AttributionReport
    | AcquisitionReport
    | FunnelReport
    | InquiryReport
)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return out.getvalue()


def report_csv(report: AnyReport) -> str:
    if isinstance(report, SeriesReport):
        fields = (
            [f for f in type(report.points[0]).model_fields if f != "start"]
            if report.points
            else []
        )
        return _table(
            ["start", *fields, "previous_start", *(f"previous_{f}" for f in fields)],
            (
                [
                    p.start,
                    *(getattr(p, f) for f in fields),
                    q.start,
                    *(getattr(q, f) for f in fields),
                ]
                for p, q in zip(report.points, report.previous, strict=True)
            ),
        )
    if isinstance(report, CohortReport):
        return _table(
            [
                "cohort",
                "cohort_customers",
                "period",
                "customers",
                "retention",
                "orders",
                "revenue",
                "lifetime_value",
            ],
            (
                [
                    c.cohort,
                    c.customers,
                    p.period,
                    p.customers,
                    p.retention,
                    p.orders,
                    p.revenue,
                    p.lifetime_value,
                ]
                for c in report.cohorts
                for p in c.periods
            ),
        )
    if isinstance(report, RetentionReport):
        figures = report.model_dump(exclude={"as_of", "currency"})
        return _table(["figure", "value"], figures.items())
    if isinstance(report, AttributionReport):
        columns = [
            "key",
            "name",
            "messages",
            "orders",
            "revenue",
            "revenue_per_recipient",
            "cost",
            "roi",
        ]
        return _table(columns, ([getattr(r, c) for c in columns] for r in report.rows))
    if isinstance(report, AcquisitionReport):
        columns = ["month", "channel", "new_customers", "buyers", "revenue", "spend", "cac"]
        return _table(columns, ([getattr(r, c) for c in columns] for r in report.rows))
    if isinstance(report, InquiryReport):
        columns = ["source", "inquiries", "converted", "conversion_rate"]
        return _table(columns, ([getattr(r, c) for c in columns] for r in report.by_source))
    columns = [
        "event",
        "customers",
        "conversion",
        "from_previous",
        "drop_off",
        "median_seconds_to_convert",
    ]
    return _table(
        ["group", "step", *columns],
        (
            [g.group, index + 1, *(getattr(s, c) for c in columns)]
            for g in report.groups
            for index, s in enumerate(g.steps)
        ),
    )
