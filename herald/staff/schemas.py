from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from herald.access.models import Role

StaffRole = Literal["owner", "manager", "cashier", "marketing", "sales"]


class StaffUserOut(BaseModel):
    id: uuid.UUID
    email: str
    role: Role
    # ``invited`` until the invitation's link has been used to set a password.
    status: Literal["invited", "active"]
    two_factor: bool
    created_at: datetime
    last_seen_at: datetime | None = None


class Invitation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    role: StaffRole


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: StaffRole


class InvitationSent(BaseModel):
    user: StaffUserOut
    # The email carrying the one-time link (look it up in /v1/messages).
    message_id: uuid.UUID
    message_status: str


class PasswordSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(max_length=200)
    password: str = Field(max_length=200)


class TotpEnrolment(BaseModel):
    """A new second-factor secret, shown once: typed into an authenticator app or scanned."""

    secret: str
    otpauth_uri: str


class SignInChoice(BaseModel):
    """An organization whose staff account the password opened."""

    user_id: uuid.UUID
    organization_id: uuid.UUID
    organization_name: str
    role: Role
    needs_code: bool
