from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from api.deps import org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.organizations.schemas import OrganizationOut, OrganizationUpdate
from herald.organizations.service import get_organization, update_organization

router = APIRouter(prefix="/v1/organization", tags=["organization"])


@router.get("", response_model=OrganizationOut, summary="The organization the key belongs to")
def read_organization(
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> OrganizationOut:
    return get_organization(session)


@router.patch(
    "",
    response_model=OrganizationOut,
    summary="Change the name, reporting currency or order history window",
)
def patch_organization(
    body: OrganizationUpdate,
    _: Principal = Depends(require(Permission.organization_configure)),
    session: Session = Depends(org_session),
) -> OrganizationOut:
    return update_organization(session, body)
