"""The organization's provider per channel: its own accounts where it has set them up, else the
local outbox (so `herald dev` works with no accounts); in-app messages are stored in the inbox."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from herald.db import session_organization
from herald.messaging.fcm import FcmProvider
from herald.messaging.models import Channel, MessagingSettings
from herald.messaging.providers import (
    InboxProvider,
    OutboxProvider,
    Provider,
    SendGridProvider,
    TwilioProvider,
)
from herald.outbound import Outbound


def providers_for(
    session: Session, settings: MessagingSettings | None, public_url: str, outbound: Outbound
) -> Callable[[Channel], Provider]:
    outbox = OutboxProvider()
    email: Provider = outbox
    sms: Provider = outbox
    push: Provider = outbox
    if settings is not None and settings.sendgrid_api_key and settings.email_from:
        email = SendGridProvider(
            settings.sendgrid_api_key,
            settings.email_from,
            settings.email_from_name,
            settings.sendgrid_host,
            outbound,
        )
    if (
        settings is not None
        and settings.twilio_account_sid
        and settings.twilio_auth_token
        and settings.sms_from
    ):
        sms = TwilioProvider(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.sms_from,
            settings.twilio_base_url,
            public_url,
            outbound,
        )
    if settings is not None and settings.fcm_service_account:
        push = FcmProvider(
            session,
            session_organization(session),
            settings.fcm_service_account,
            settings.fcm_base_url,
            outbound,
        )
    chosen = {
        Channel.email: email,
        Channel.sms: sms,
        Channel.push: push,
        Channel.in_app: InboxProvider(),
    }
    return lambda channel: chosen.get(channel, outbox)
