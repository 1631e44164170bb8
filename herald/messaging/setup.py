"""The organization's messaging settings: sender, postal address, provider accounts."""

from __future__ import annotations

import json
from datetime import time

import sqlalchemy as sa
from sendgrid.helpers.eventwebhook import EventWebhook
from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.db import utcnow
from herald.errors import InvalidInput
from herald.messaging.accounts import providers_for
from herald.messaging.fcm import service_account_credentials
from herald.messaging.models import Channel, MessagingSettings
from herald.messaging.policy import FrequencyCap
from herald.messaging.schemas import (
    FirebaseServiceAccount,
    MessagingSettingsIn,
    MessagingSettingsOut,
)
from herald.outbound import Outbound
from herald.secrets import Envelope


def load_messaging_settings(session: Session) -> MessagingSettings | None:
    return session.scalar(select(MessagingSettings))


def settings_out(session: Session, row: MessagingSettings | None) -> MessagingSettingsOut:
    providers = providers_for(session, row, public_url="", outbound=Outbound())  # their names
    return MessagingSettingsOut(
        email_from=row.email_from if row else None,
        email_from_name=row.email_from_name if row else None,
        postal_address=row.postal_address if row else None,
        sendgrid_configured=bool(row and row.sendgrid_api_key),
        twilio_configured=bool(row and row.twilio_auth_token),
        twilio_account_sid=row.twilio_account_sid if row else None,
        sms_from=row.sms_from if row else None,
        email_provider=providers(Channel.email).name,
        sms_provider=providers(Channel.sms).name,
        push_provider=providers(Channel.push).name,
        **_fcm_account_out(row.fcm_service_account if row else None),
        fcm_base_url=row.fcm_base_url if row else None,
        quiet_hours_start=row.quiet_hours_start if row else None,
        quiet_hours_end=row.quiet_hours_end if row else None,
        frequency_caps=[FrequencyCap.model_validate(c) for c in row.frequency_caps or []]
        if row
        else [],
        newsletter_double_opt_in=double_opt_in(row),
    )


def _fcm_account_out(stored: str | None) -> dict[str, str | None]:
    """Which service account push signs in as: its project and address, never its key."""
    account = json.loads(stored) if stored else {}
    return {
        "fcm_project_id": account.get("project_id"),
        "fcm_client_email": account.get("client_email"),
    }


def double_opt_in(row: MessagingSettings | None) -> bool:
    """Whether newsletter sign-ups confirm by email first: yes for an organization that has
    not said otherwise."""
    return row.newsletter_double_opt_in if row is not None else True


# Addresses a tenant may point Herald at; each is vetted when saved and again at every call.
PROVIDER_URL_FIELDS = frozenset({"sendgrid_host", "twilio_base_url", "fcm_base_url"})


def put_messaging_settings(
    session: Session, data: MessagingSettingsIn, outbound: Outbound
) -> MessagingSettingsOut:
    for name in PROVIDER_URL_FIELDS & data.model_fields_set:
        url = getattr(data, name)
        if url is not None and (refusal := outbound.refusal(str(url))) is not None:
            raise InvalidInput(refusal, field=name)
    if data.fcm_service_account is not None:
        _check_service_account(data.fcm_service_account, outbound)
    if data.sendgrid_webhook_public_key is not None:
        try:
            EventWebhook().convert_public_key_to_ecdsa(data.sendgrid_webhook_public_key)
        except ValueError as exc:
            raise InvalidInput(
                "not a SendGrid verification key (base64, as SendGrid shows it)",
                field="sendgrid_webhook_public_key",
            ) from exc
    row = load_messaging_settings(session)
    if row is None:
        row = MessagingSettings()
        session.add(row)
    for field in data.model_fields_set:
        value = getattr(data, field)
        if field == "frequency_caps":
            row.frequency_caps = [c.model_dump(mode="json") for c in value or []]
        elif field == "fcm_service_account":
            row.fcm_service_account = value and json.dumps(value.model_dump(mode="json"))
        elif value is None or isinstance(value, time | bool):
            setattr(row, field, value)
        else:
            # URLs are stored without a trailing slash: the SDKs append their own paths.
            setattr(row, field, str(value).rstrip("/"))
    row.updated_at = utcnow()
    session.commit()
    return settings_out(session, row)


def _check_service_account(account: FirebaseServiceAccount, outbound: Outbound) -> None:
    """A key Herald can sign in with: its private key readable, its token address one Herald
    calls (a tenant could point it anywhere, as any provider address)."""
    if (refusal := outbound.refusal(str(account.token_uri))) is not None:
        raise InvalidInput(refusal, field="fcm_service_account.token_uri")
    try:
        service_account_credentials(account.model_dump(mode="json"))
    except ValueError as exc:
        raise InvalidInput(
            "not a readable service-account key (its private_key is not a PEM RSA key)",
            field="fcm_service_account.private_key",
        ) from exc


# The settings' secrets, sealed at rest (herald.secrets.EncryptedText).
CREDENTIALS = ("sendgrid_api_key", "twilio_auth_token", "fcm_service_account")
# The same table seen as stored: the sealed text itself, not the clear value.
_STORED = sa.table(
    "messaging_settings", sa.column("id"), *(sa.column(name, sa.Text) for name in CREDENTIALS)
)


def reseal_credentials(session: Session, envelope: Envelope) -> int:
    """Every organization's credentials sealed under the current secret key (those stored in
    the clear before encryption, too); the number of values rewritten. A system session."""
    changed = 0
    for row in session.execute(sa.select(_STORED)).all():
        updates = {
            name: envelope.rewrap(value)
            for name in CREDENTIALS
            if (value := getattr(row, name)) is not None and not envelope.is_current(value)
        }
        if updates:
            session.execute(sa.update(_STORED).where(_STORED.c.id == row.id).values(**updates))
            changed += len(updates)
    session.commit()
    return changed
