from __future__ import annotations

import uuid

from slugify import slugify
from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.access.models import Role
from herald.access.service import IssuedKey, issue_api_key
from herald.db import session_organization
from herald.errors import Conflict, InvalidInput, NotFound
from herald.orders import figures
from herald.organizations.models import Organization
from herald.organizations.schemas import OrganizationOut, OrganizationUpdate


def create_organization(
    session: Session, name: str, slug: str | None = None
) -> tuple[Organization, IssuedKey]:
    """Create a brand and its first owner key (the only time the key is shown)."""
    name = name.strip()
    if not name:
        raise InvalidInput("organization name is empty", field="name")
    slug = slugify(slug or name, max_length=100)
    if not slug:
        raise InvalidInput("organization name has no letters or digits for a slug", field="name")
    if session.scalar(select(Organization.id).where(Organization.slug == slug)):
        raise Conflict(f"an organization with slug {slug!r} exists", field="slug")
    org = Organization(id=uuid.uuid4(), name=name, slug=slug)
    session.add(org)
    session.flush()
    key = issue_api_key(session, org.id, Role.owner, name="owner (initial)")
    session.commit()
    return org, key


def organization_by_slug(session: Session, slug: str) -> Organization | None:
    return session.scalar(select(Organization).where(Organization.slug == slug))


def _current(session: Session) -> Organization:
    org = session.get(Organization, session_organization(session))
    if org is None:
        raise NotFound("no such organization")
    return org


def get_organization(session: Session) -> OrganizationOut:
    return OrganizationOut.model_validate(_current(session), from_attributes=True)


def update_organization(session: Session, data: OrganizationUpdate) -> OrganizationOut:
    org = _current(session)
    was = org.reporting_currency
    for field, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(org, field, value.strip() if isinstance(value, str) else value)
    if org.reporting_currency != was:  # every buyer's lifetime value is in the new currency
        session.add(figures.figures_stale())
    session.commit()
    return get_organization(session)
