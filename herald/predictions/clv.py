"""Customer lifetime value models, as published: BG/NBD for how many purchases a customer
makes and whether they are still a customer (Fader, Hardie & Lee, "Counting Your Customers"
the Easy Way, 2005), Gamma-Gamma for what they spend on a purchase (Fader, Hardie & Lee,
RFM and CLV, 2005). Fitted by maximum likelihood with SciPy.

A maintained library was weighed: ``lifetimes`` is archived and pulls in pandas and autograd;
its successor lives inside PyMC Marketing, hundreds of megabytes of probabilistic programming
for two closed-form likelihoods. These are a page of NumPy, checked against the papers'
published CDNOW parameters in the tests.

Time is in weeks. Each customer is three numbers: ``frequency`` (repeat purchase days),
``recency`` (weeks from the first purchase day to the last) and ``age`` (weeks from the first
purchase day to the as-of date); the spend model adds ``spend``, the mean value of their repeat
purchase days.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

Floats = NDArray[np.float64]

# Below these a fit says "not enough data" instead of a number nobody should trust.
MIN_CUSTOMERS = 50
MIN_REPEAT_BUYERS = 20
# Fitted parameters outside this range mean the likelihood ran off to a boundary (a shop whose
# data does not identify the model), not a finding. Except BG/NBD's ``a`` going to 0: that is
# the finding that nobody drops out (its predictions stay sound: P(alive) near 1).
PARAMETER_RANGE = (1e-4, 1e5)
MAY_VANISH = frozenset({"a"})


@dataclass(frozen=True)
class Histories:
    frequency: Floats
    recency: Floats
    age: Floats
    spend: Floats

    def __len__(self) -> int:
        return len(self.frequency)


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float


@dataclass(frozen=True)
class Fitted:
    """What a maximum-likelihood fit found, and how it went."""

    parameters: dict[str, float]
    log_likelihood: float
    iterations: int
    converged: bool
    message: str


class NotEnoughData(Exception):
    """The data cannot identify the model: too few customers or repeat buyers, or a fit that
    did not converge to sensible parameters."""


def _fit(
    names: tuple[str, ...],
    negative_log_likelihood: Any,
    args: tuple[Any, ...],
    start: Floats | None = None,
) -> Fitted:
    """Minimise over the parameters' logarithms (every parameter is positive), with the simplex
    method: robust on these surfaces, and tight enough to reproduce published figures. From
    ``start`` (parameters), else all ones."""
    result = optimize.minimize(
        negative_log_likelihood,
        x0=np.zeros(len(names)) if start is None else np.log(start),
        args=args,
        method="Nelder-Mead",
        options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 20_000, "maxfev": 40_000},
    )
    values = np.exp(result.x)
    low, high = PARAMETER_RANGE
    in_range = all(
        (value > low or name in MAY_VANISH) and value < high
        for name, value in zip(names, values, strict=True)
    )
    converged = bool(result.success) and in_range and bool(np.isfinite(result.fun))
    return Fitted(
        parameters={name: float(value) for name, value in zip(names, values, strict=True)},
        log_likelihood=-float(result.fun) * float(args[-1].sum()),
        iterations=int(result.nit),
        converged=converged,
        message=str(result.message),
    )


def _grouped(*columns: Floats) -> tuple[list[Floats], Floats]:
    """Identical customers counted once with a weight: a million customers are a few hundred
    thousand distinct histories, and the likelihood is a sum over them."""
    unique, counts = np.unique(np.column_stack(columns), axis=0, return_counts=True)
    return [unique[:, i] for i in range(len(columns))], counts.astype(np.float64)


def _bg_nbd_negative_ll(
    log_params: Floats, x: Floats, t_x: Floats, age: Floats, weights: Floats
) -> float:
    r, alpha, a, b = np.exp(log_params)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = (
        special.gammaln(a + b)
        + special.gammaln(b + x)
        - special.gammaln(b)
        - special.gammaln(a + b + x)
    )
    a3 = -(r + x) * np.log(alpha + age)
    repeat = x > 0
    a4 = np.full_like(x, -np.inf)
    a4[repeat] = (
        np.log(a) - np.log(b + x[repeat] - 1) - (r + x[repeat]) * np.log(alpha + t_x[repeat])
    )
    ll = a1 + a2 + np.logaddexp(a3, a4)
    return -float(np.sum(weights * ll) / weights.sum())


def _gamma_gamma_negative_ll(
    log_params: Floats, x: Floats, spend: Floats, weights: Floats
) -> float:
    p, q, v = np.exp(log_params)
    px = p * x
    ll = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(spend)
        + px * np.log(x)
        - (px + q) * np.log(x * spend + v)
    )
    return -float(np.sum(weights * ll) / weights.sum())


def check_enough(histories: Histories) -> None:
    repeat_buyers = int(np.count_nonzero(histories.frequency))
    if len(histories) < MIN_CUSTOMERS or repeat_buyers < MIN_REPEAT_BUYERS:
        raise NotEnoughData(
            f"{len(histories):,} customers with orders, {repeat_buyers:,} of them repeat buyers: "
            f"a fit needs at least {MIN_CUSTOMERS} customers and {MIN_REPEAT_BUYERS} repeat "
            "buyers"
        )


def fit_bg_nbd(histories: Histories) -> tuple[BgNbd, Fitted]:
    check_enough(histories)
    (x, t_x, age), weights = _grouped(histories.frequency, histories.recency, histories.age)
    fitted = _fit(("r", "alpha", "a", "b"), _bg_nbd_negative_ll, (x, t_x, age, weights))
    if not fitted.converged:
        raise NotEnoughData(f"the purchase model did not converge ({fitted.message})")
    return BgNbd(**fitted.parameters), fitted


def fit_gamma_gamma(histories: Histories) -> tuple[GammaGamma, Fitted]:
    """Over the repeat buyers with a positive spend (the model's support)."""
    buyers = (histories.frequency > 0) & (histories.spend > 0)
    if np.count_nonzero(buyers) < MIN_REPEAT_BUYERS:
        raise NotEnoughData(f"fewer than {MIN_REPEAT_BUYERS} repeat buyers with a spend")
    (x, spend), weights = _grouped(histories.frequency[buyers], histories.spend[buyers])
    # From p = 1, q = 2 and v the mean spend (the population mean p·v/(q-1) is then right):
    # from all ones the simplex can slide down a ridge where p grows without end as v shrinks.
    mean = float(np.average(spend, weights=weights))
    fitted = _fit(
        ("p", "q", "v"), _gamma_gamma_negative_ll, (x, spend, weights), np.array([1.0, 2.0, mean])
    )
    if not fitted.converged or fitted.parameters["q"] <= 1:
        # q <= 1: the spend distribution has no mean, so no expected spend exists.
        raise NotEnoughData(f"the spend model did not converge ({fitted.message})")
    return GammaGamma(**fitted.parameters), fitted


def _dropout_odds(model: BgNbd, x: Floats, t_x: Floats, age: Floats) -> Floats:
    """a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x) for repeat buyers, else 0."""
    odds = np.zeros_like(x)
    repeat = x > 0
    odds[repeat] = np.exp(
        np.log(model.a)
        - np.log(model.b + x[repeat] - 1)
        + (model.r + x[repeat])
        * (np.log(model.alpha + age[repeat]) - np.log(model.alpha + t_x[repeat]))
    )
    return odds


def probability_alive(model: BgNbd, histories: Histories) -> Floats:
    """P(still a customer | history). The model lets a customer drop out only right after a
    purchase, so someone who never bought again is 1 by construction."""
    x, t_x, age = histories.frequency, histories.recency, histories.age
    return np.asarray(1.0 / (1.0 + _dropout_odds(model, x, t_x, age)), dtype=np.float64)


def expected_purchases(model: BgNbd, histories: Histories, weeks: float) -> Floats:
    """E[purchases in the next ``weeks`` | history] (the paper's equation 10)."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    x, t_x, age = histories.frequency, histories.recency, histories.age
    z = weeks / (alpha + age + weeks)
    hyper = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    share = 1 - np.exp((r + x) * (np.log(alpha + age) - np.log(alpha + age + weeks))) * hyper
    value = (a + b + x - 1) / (a - 1) * share / (1 + _dropout_odds(model, x, t_x, age))
    return np.asarray(np.clip(value, 0, None), dtype=np.float64)


def expected_spend(model: GammaGamma, histories: Histories) -> Floats:
    """E[value of a purchase | history]: the population mean p·v/(q-1) moved towards the
    customer's own mean the more purchases they made."""
    x, spend = histories.frequency, histories.spend
    return np.asarray(
        model.p * (model.v + x * spend) / (model.p * x + model.q - 1), dtype=np.float64
    )


def frequency_spend_correlation(histories: Histories) -> float | None:
    """The Gamma-Gamma model assumes spend does not depend on how often one buys: the
    correlation among repeat buyers says how far that holds (near 0 is good)."""
    buyers = histories.frequency > 0
    if np.count_nonzero(buyers) < 3:
        return None
    x, spend = histories.frequency[buyers], histories.spend[buyers]
    if np.ptp(x) == 0 or np.ptp(spend) == 0:
        return None
    return float(np.corrcoef(x, spend)[0, 1])
