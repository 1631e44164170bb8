"""Many customers at once, for tests and benchmarks that need an audience rather than a person."""

from __future__ import annotations

import uuid

from sqlalchemy import insert

from herald.customers.models import Customer, CustomerEmail
from herald.database import Database
from herald.db import utcnow
from herald.messaging.models import Channel, Consent, ConsentStatus


def seed_email_audience(
    db: Database, organization_id: uuid.UUID, count: int, *, consent: bool = True
) -> list[uuid.UUID]:
    """``count`` customers named "Reader N" with one email address each, consenting to email
    unless told otherwise, written set-based."""
    ids = [uuid.uuid4() for _ in range(count)]
    now = utcnow()
    with db.session(organization_id) as session:
        for start in range(0, count, 5_000):
            chunk = list(enumerate(ids[start : start + 5_000], start))
            emails = {i: f"r{n}-{i.hex[:6]}@example.com" for n, i in chunk}
            session.execute(
                insert(Customer),
                [
                    {
                        "id": i,
                        "organization_id": organization_id,
                        "name": f"Reader {n}",
                        "attributes": {},
                        "primary_email": emails[i],
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n, i in chunk
                ],
            )
            session.execute(
                insert(CustomerEmail),
                [
                    {
                        "id": uuid.uuid4(),
                        "organization_id": organization_id,
                        "customer_id": i,
                        "email": emails[i],
                        "is_primary": True,
                        "position": 0,
                    }
                    for _, i in chunk
                ],
            )
            if consent:
                session.execute(
                    insert(Consent),
                    [
                        {
                            "id": uuid.uuid4(),
                            "organization_id": organization_id,
                            "customer_id": i,
                            "channel": Channel.email,
                            "status": ConsentStatus.granted,
                            "source": "import",
                            "updated_at": now,
                        }
                        for _, i in chunk
                    ],
                )
        session.commit()
    return ids
