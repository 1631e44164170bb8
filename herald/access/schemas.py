from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from herald.access.models import Role


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: Role


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    role: Role
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyIssued(ApiKeyOut):
    key: str = Field(description="The secret. Shown only in this response; store it now.")
