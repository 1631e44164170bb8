"""The CDNOW sample: every purchase of 2,357 customers who first bought from CDNOW in the first
quarter of 1997, until the end of June 1998 (one line per purchase: the customer's number in
the master file, their number in the sample, the date, CDs bought, dollars paid). It is the data
of Fader, Hardie and Lee, "Counting Your Customers" the Easy Way: An Alternative to the
Pareto/NBD Model (Marketing Science 24(2), 2005) and "RFM and CLV: Using Iso-Value Curves for
Customer Base Analysis" (Journal of Marketing Research 42(4), 2005), whose 39-week calibration
period ends on 1997-09-30.

``cdnow_sample.txt`` is ``lifetimes/datasets/CDNOW_sample.txt`` from the ``Lifetimes`` 0.11.3
wheel on PyPI (MIT licence), unchanged; the data set is Bruce Hardie's, published with the
papers' notes at brucehardie.com."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np

from herald.predictions import clv

CALIBRATION_END = date(1997, 9, 30)
# The papers' estimates (BG/NBD: table in "Counting Your Customers"; Gamma-Gamma: "RFM and
# CLV"), and the expected purchases in the next 39 weeks of a customer with two repeat
# purchases, the last at week 30.43 of their 38.86 ("Counting Your Customers", section 5).
PUBLISHED_BG_NBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}
PUBLISHED_EXPECTED_PURCHASES = 1.226


@dataclass(frozen=True)
class Purchase:
    line: int
    customer: int  # 1 to 2,357
    day: date
    dollars: Decimal


def purchases() -> list[Purchase]:
    found = []
    text = (Path(__file__).parent / "cdnow_sample.txt").read_text()
    for line, row in enumerate(text.splitlines(), 1):
        _, customer, day, _, dollars = row.split()
        found.append(
            Purchase(
                line=line,
                customer=int(customer),
                day=date(int(day[:4]), int(day[4:6]), int(day[6:])),
                dollars=Decimal(dollars),
            )
        )
    return found


def within(found: dict[str, float], published: dict[str, float], share: float = 0.01) -> None:
    for name, value in published.items():
        assert abs(found[name] - value) <= share * value, (name, found[name], value)


def summarised(bought: Iterable[Purchase], as_of: date) -> dict[int, clv.Histories]:
    """The papers' summary of each customer, computed here from the purchases up to ``as_of``:
    repeat purchase days, weeks from the first to the last and to ``as_of``, mean value of
    the repeat days (one-customer histories, by customer number)."""
    days: dict[int, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for p in bought:
        if p.day <= as_of:
            days[p.customer][p.day] += float(p.dollars)
    found = {}
    for customer, spent in days.items():
        ordered = sorted(spent)
        repeat = len(ordered) - 1
        found[customer] = clv.Histories(
            *(
                np.array([value], dtype=np.float64)
                for value in (
                    repeat,
                    (ordered[-1] - ordered[0]).days / 7,
                    (as_of - ordered[0]).days / 7,
                    sum(spent[d] for d in ordered[1:]) / repeat if repeat else 0.0,
                )
            )
        )
    return found


def together(histories: Iterable[clv.Histories]) -> clv.Histories:
    listed = list(histories)
    return clv.Histories(
        *(np.concatenate([getattr(h, f) for h in listed]) for f in clv.Histories.__annotations__)
    )
