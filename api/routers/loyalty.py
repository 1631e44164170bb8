from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from api.deps import org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.loyalty import service
from herald.loyalty.schemas import LoyaltySettingsIn, LoyaltySettingsOut

router = APIRouter(prefix="/v1/loyalty", tags=["loyalty"])


@router.get("/settings", response_model=LoyaltySettingsOut)
def get_settings(
    _: Principal = Depends(require(Permission.loyalty_read)),
    session: Session = Depends(org_session),
) -> LoyaltySettingsOut:
    return service.get_settings(session)


@router.put("/settings", response_model=LoyaltySettingsOut, summary="Set the earning rate (owner)")
def put_settings(
    body: LoyaltySettingsIn,
    _: Principal = Depends(require(Permission.loyalty_configure)),
    session: Session = Depends(org_session),
) -> LoyaltySettingsOut:
    return service.put_settings(session, body)
