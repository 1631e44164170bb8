from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy.orm import Session

from api.deps import org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.iso_codes import Currency
from herald.orders import rates, service
from herald.orders.schemas import CurrencyRateOut, CurrencyRatesIn, Month, OrderOut

router = APIRouter(prefix="/v1", tags=["orders"])


@router.get(
    "/orders/{order_id}",
    response_model=OrderOut,
    summary="One order, by the shop's order id, with its items and refunded amount",
)
def get_order(
    order_id: Annotated[str, Path(min_length=1, max_length=200)],
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> OrderOut:
    return service.get_order(session, order_id)


@router.get(
    "/currency-rates",
    response_model=list[CurrencyRateOut],
    summary="The monthly rates that convert orders into the reporting currency",
)
def list_currency_rates(
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> list[CurrencyRateOut]:
    return rates.list_rates(session)


@router.put(
    "/currency-rates",
    response_model=list[CurrencyRateOut],
    summary="Set the rates of some (currency, month) pairs; a rate set before is replaced",
)
def put_currency_rates(
    body: CurrencyRatesIn,
    _: Principal = Depends(require(Permission.organization_configure)),
    session: Session = Depends(org_session),
) -> list[CurrencyRateOut]:
    return rates.put_rates(session, body.rates)


@router.delete("/currency-rates/{currency}/{month}", status_code=204)
def delete_currency_rate(
    currency: Annotated[Currency, Path()],
    month: Annotated[Month, Path()],
    _: Principal = Depends(require(Permission.organization_configure)),
    session: Session = Depends(org_session),
) -> None:
    rates.delete_rate(session, currency, month)
