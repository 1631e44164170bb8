"""The lifetime-value models against the literature: fitted to the CDNOW sample as Fader,
Hardie and Lee summarised it, they give the papers' parameters and predictions."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from herald.predictions import clv
from tests.predictions.cdnow import (
    CALIBRATION_END,
    PUBLISHED_BG_NBD,
    PUBLISHED_EXPECTED_PURCHASES,
    PUBLISHED_GAMMA_GAMMA,
    purchases,
    summarised,
    together,
    within,
)

pytestmark = pytest.mark.fast


def _histories(as_of: date) -> clv.Histories:
    return together(summarised(purchases(), as_of).values())


def test_the_cdnow_fit_reproduces_the_published_parameters_within_one_percent() -> None:
    histories = _histories(CALIBRATION_END)
    assert len(histories) == 2357
    bg_nbd, purchases_fit = clv.fit_bg_nbd(histories)
    gamma_gamma, spend_fit = clv.fit_gamma_gamma(histories)

    within(vars(bg_nbd), PUBLISHED_BG_NBD)
    within(vars(gamma_gamma), PUBLISHED_GAMMA_GAMMA)
    assert purchases_fit.converged and spend_fit.converged
    assert purchases_fit.log_likelihood == pytest.approx(-9582.4, abs=0.1)  # the paper's LL

    # The paper's worked example: 2 repeat purchases, the last at week 30.43, 38.86 weeks old.
    example = clv.Histories(*(np.array([v]) for v in (2.0, 30.43, 38.86, 22.35)))
    expected = clv.expected_purchases(bg_nbd, example, 39)[0]
    assert expected == pytest.approx(PUBLISHED_EXPECTED_PURCHASES, abs=0.002)
    # Its expected spend: p(v + x·m) / (px + q - 1) with the published parameters' fit.
    assert clv.expected_spend(gamma_gamma, example)[0] == pytest.approx(24.66, abs=0.01)
    assert 0 < clv.probability_alive(bg_nbd, example)[0] < 1


def test_a_customer_who_never_bought_again_is_alive_and_the_lapsed_are_at_risk() -> None:
    histories = _histories(CALIBRATION_END)
    bg_nbd, _ = clv.fit_bg_nbd(histories)
    alive = clv.probability_alive(bg_nbd, histories)
    assert np.all(alive[histories.frequency == 0] == 1)
    # Many purchases long ago, none since: very likely gone; the same, recently: not.
    lapsed = clv.Histories(*(np.array([v]) for v in (8.0, 5.0, 38.0, 20.0)))
    recent = clv.Histories(*(np.array([v]) for v in (8.0, 37.0, 38.0, 20.0)))
    assert clv.probability_alive(bg_nbd, lapsed)[0] < 0.05
    assert clv.probability_alive(bg_nbd, recent)[0] > 0.9
    more = clv.expected_purchases(bg_nbd, recent, 52)[0]
    assert more > clv.expected_purchases(bg_nbd, lapsed, 52)[0]


def test_a_shop_where_everyone_bought_once_has_not_enough_data() -> None:
    once = clv.Histories(
        frequency=np.zeros(500),
        recency=np.zeros(500),
        age=np.linspace(1, 50, 500),
        spend=np.zeros(500),
    )
    with pytest.raises(clv.NotEnoughData, match="0 of them repeat buyers"):
        clv.fit_bg_nbd(once)
    few = clv.Histories(*(np.array([v] * 10) for v in (2.0, 5.0, 10.0, 20.0)))
    with pytest.raises(clv.NotEnoughData, match="at least 50 customers"):
        clv.fit_bg_nbd(few)
