"""Push through Firebase Cloud Messaging (HTTP v1), to every active device of a customer.

Herald signs in as the organization's service account: google-auth mints an OAuth access token
from the key (a JWT signed with its private key, exchanged at the key's ``token_uri``), and the
token is kept per organization until it is a few minutes from expiring (google-auth's refresh
threshold), so a campaign signs in about once an hour, not once a message. Every call, the token
exchange included, goes through the outbound guard.

A message is one row; each device it goes to is a ``PushDelivery`` row recorded before FCM is
called. A retried message so reaches each device once: devices served are skipped, a device
whose answer was lost is never sent again, the rest are sent. Tokens FCM calls dead
(unregistered, another project's, malformed) are deactivated at once.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.auth import exceptions, transport
from google.oauth2 import service_account
from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.db import one_of, utcnow
from herald.messaging.models import Device, PushDelivery, PushDeliveryStatus
from herald.messaging.providers import (
    MESSAGE_ID_ARG,
    PROVIDER_TIMEOUT_S,
    Handed,
    InDoubt,
    Lost,
    OutgoingMessage,
    ProviderError,
    _answered,
    _call,
    _retry_after,
)
from herald.outbound import (
    Outbound,
    OutboundFailed,
    OutboundRefused,
    OutboundResponse,
    sanitized,
)

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_HOST = "https://fcm.googleapis.com"
# FCM's error codes for a token that will never work again (the app was removed, the token
# belongs to another Firebase project).
DEAD_TOKEN_CODES = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})


def service_account_credentials(info: dict[str, Any]) -> service_account.Credentials:
    """Credentials for a service-account key; ValueError when its key cannot be read."""
    try:
        return service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(str(exc)) from exc


class _Answer(transport.Response):
    def __init__(self, answer: OutboundResponse) -> None:
        self._answer = answer

    @property
    def status(self) -> int:
        return self._answer.status

    @property
    def headers(self) -> Any:
        return self._answer.headers

    @property
    def data(self) -> bytes:
        return self._answer.body


class _AddressRefused(exceptions.TransportError):
    """The key's token address is not one Herald calls: a fact, not a blip."""


class OutboundTransport(transport.Request):
    """google-auth's HTTP hook, through the outbound guard."""

    def __init__(self, outbound: Outbound) -> None:
        self._outbound = outbound

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Any = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _Answer:
        try:
            answer = self._outbound.request(
                method,
                url,
                content=body,
                headers=headers,
                deadline_s=float(timeout or PROVIDER_TIMEOUT_S),
            )
        except OutboundRefused as exc:
            raise _AddressRefused(str(exc)) from exc
        except OutboundFailed as exc:
            raise exceptions.TransportError(str(exc)) from exc
        return _Answer(answer)


@dataclass
class _SignedIn:
    fingerprint: str
    credentials: service_account.Credentials
    # Held while refreshing: one organization's slow sign-in never waits on another's.
    lock: threading.Lock


_signed_in: dict[uuid.UUID, _SignedIn] = {}
_signed_in_lock = threading.Lock()


def access_token(organization_id: uuid.UUID, key: str, outbound: Outbound) -> str:
    """A valid FCM access token for the organization's key: the one held while it has a few
    minutes left, else a fresh one. A sign-in refused is a ProviderError."""
    fingerprint = hashlib.sha256(key.encode()).hexdigest()
    with _signed_in_lock:
        held = _signed_in.get(organization_id)
        if held is None or held.fingerprint != fingerprint:  # a new key replaces the old one
            credentials = service_account_credentials(json.loads(key))
            held = _SignedIn(fingerprint, credentials, threading.Lock())
            _signed_in[organization_id] = held
    with held.lock:
        if not held.credentials.valid:
            _refresh(held.credentials, outbound)
        return str(held.credentials.token)


def forget_token(organization_id: uuid.UUID) -> None:
    """FCM refused the token held (revoked, the key deleted): the next send signs in again."""
    with _signed_in_lock:
        _signed_in.pop(organization_id, None)


def _refresh(credentials: service_account.Credentials, outbound: Outbound) -> None:
    try:
        credentials.refresh(OutboundTransport(outbound))
    except _AddressRefused as exc:
        raise ProviderError(f"FCM sign-in: {exc}", retryable=False) from exc
    except exceptions.RefreshError as exc:
        retryable = bool(getattr(exc, "retryable", False))
        reason = sanitized(str(exc.args[0]) if exc.args else "refused")
        raise ProviderError(f"FCM sign-in refused: {reason}", retryable=retryable) from exc
    except exceptions.TransportError as exc:
        raise ProviderError(f"FCM sign-in unreachable: {exc}", retryable=True) from exc


def fcm_message(token: str, message: OutgoingMessage) -> dict[str, Any]:
    """The v1 ``messages:send`` body for one device: the notification, data (values are
    strings in FCM), and each platform's options."""
    content = message.content
    notification = {"title": content["title"], "body": content["body"]}
    if content.get("image"):
        notification["image"] = content["image"]
    data = {**content.get("data", {}), MESSAGE_ID_ARG: str(message.message_id)}
    if content.get("link"):
        data["link"] = content["link"]
    if content.get("open_token"):
        data["herald_open_token"] = content["open_token"]
    android = content.get("android") or {}
    body: dict[str, Any] = {
        "token": token,
        "notification": notification,
        "data": data,
        "android": {
            "priority": android.get("priority", "high"),
            **(
                {"notification": {"channel_id": android["channel_id"]}}
                if android.get("channel_id")
                else {}
            ),
        },
    }
    if (content.get("apns") or {}).get("headers"):
        body["apns"] = {"headers": content["apns"]["headers"]}
    webpush: dict[str, Any] = dict(content.get("webpush") or {})
    if str(content.get("link", "")).startswith("https://"):  # FCM opens only https links
        webpush["fcm_options"] = {"link": content["link"]}
    if webpush:
        body["webpush"] = webpush
    return {"message": body}


def _fcm_error(response: OutboundResponse) -> tuple[str, str]:
    """FCM's error code (UNREGISTERED, INVALID_ARGUMENT, ...) and its message."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return "", ""
    code = str(error.get("status", ""))
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("errorCode"):
            code = str(detail["errorCode"])
    return code, sanitized(str(error.get("message", "")))


def _dead(code: str, text: str) -> bool:
    return code in DEAD_TOKEN_CODES or (
        code == "INVALID_ARGUMENT" and "registration token" in text.lower()
    )


@dataclass
class _Attempt:
    """What one device's send came to: its FCM message name, a refusal, or a lost answer."""

    name: str | None = None
    error: ProviderError | None = None
    in_doubt: InDoubt | None = None
    dead: bool = False


class FcmProvider:
    """FCM HTTP v1, one request per device (v1 has no batch send)."""

    name = "fcm"
    # Safe at the message level: the device rows keep any device from getting it twice.
    resend_when_in_doubt = True
    tracks_engagement = False

    def __init__(
        self,
        session: Session,
        organization_id: uuid.UUID,
        key: str,
        base_url: str | None,
        outbound: Outbound,
    ) -> None:
        self._session = session
        self._organization_id = organization_id
        self._key = key
        project = json.loads(key)["project_id"]
        self._url = f"{(base_url or FCM_HOST).rstrip('/')}/v1/projects/{project}/messages:send"
        self._outbound = outbound

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> dict[uuid.UUID, Handed]:
        try:
            access_token(self._organization_id, self._key, self._outbound)
        except ProviderError as exc:  # nothing was sent: a retry starts with the first
            return {m.message_id: exc for m in (messages[:1] if exc.retryable else messages)}
        plans = self._record(messages)
        lost: set[uuid.UUID] = set()
        results: dict[uuid.UUID, Handed] = {}
        for message in messages:
            stop = self._send_to_devices(message, plans[message.message_id], lost)
            results[message.message_id] = _summary(plans[message.message_id], stop)
            if stop is not None:
                break
        for rows in plans.values():  # rows never attempted are left for the retry, not in doubt
            for row, _ in rows:
                if row.in_flight and row.id not in lost:
                    row.in_flight = False
        self._session.commit()
        return results

    def find(self, message: OutgoingMessage) -> str | None:
        return None  # never asked: resent messages skip the devices already served

    def _record(
        self, messages: Sequence[OutgoingMessage]
    ) -> dict[uuid.UUID, list[tuple[PushDelivery, str | None]]]:
        """Each message's device rows with the token to send to, recorded in flight before any
        request leaves. A row still in flight from an earlier attempt had its answer lost: it
        is settled as unknown and not sent again."""
        ids = [m.message_id for m in messages]
        customers = {m.customer_id for m in messages if m.customer_id is not None}
        devices: dict[uuid.UUID, list[Device]] = defaultdict(list)
        for device in self._session.scalars(
            select(Device)
            .where(one_of(self._session, Device.customer_id, customers), Device.active)
            .order_by(Device.created_at)
        ):
            devices[device.customer_id].append(device)
        tokens = {d.id: d.token for ds in devices.values() for d in ds}
        earlier: dict[uuid.UUID, list[PushDelivery]] = defaultdict(list)
        for row in self._session.scalars(
            select(PushDelivery).where(one_of(self._session, PushDelivery.message_id, ids))
        ):
            earlier[row.message_id].append(row)
        plans: dict[uuid.UUID, list[tuple[PushDelivery, str | None]]] = {}
        now = utcnow()
        for message in messages:
            rows = earlier[message.message_id]
            known = {row.device_id for row in rows}
            for device in devices.get(message.customer_id, []) if message.customer_id else []:
                if device.id not in known:
                    row = PushDelivery(
                        message_id=message.message_id,
                        device_id=device.id,
                        platform=device.platform,
                        status=PushDeliveryStatus.queued,
                        in_flight=False,
                        created_at=now,
                        updated_at=now,
                    )
                    self._session.add(row)
                    rows.append(row)
            for row in rows:
                if row.status is not PushDeliveryStatus.queued:
                    continue
                if row.in_flight:
                    row.status, row.in_flight = PushDeliveryStatus.unknown, False
                    row.error = "the answer to an earlier attempt was lost; not sent again"
                elif row.device_id not in tokens:
                    row.status = PushDeliveryStatus.failed
                    row.error = "the device was removed or deactivated before it was sent"
                else:
                    row.in_flight = True
            plans[message.message_id] = [
                (row, tokens.get(row.device_id) if row.device_id else None) for row in rows
            ]
        self._session.commit()
        return plans

    def _send_to_devices(
        self,
        message: OutgoingMessage,
        rows: list[tuple[PushDelivery, str | None]],
        lost: set[uuid.UUID],
    ) -> Handed | None:
        """Send to each device not yet served; the refusal or lost answer that stops the batch."""
        for row, token in rows:
            if not row.in_flight or token is None:  # served, refused, or settled above
                continue
            attempt = self._send_one(token, message)
            row.updated_at = utcnow()
            if attempt.in_doubt is not None:
                lost.add(row.id)  # stays in flight: the retry settles it as unknown
                return attempt.in_doubt
            row.in_flight = False
            if attempt.name is not None:
                row.status, row.fcm_message_id, row.error = (
                    PushDeliveryStatus.sent,
                    attempt.name,
                    None,
                )
                continue
            assert attempt.error is not None
            row.error = attempt.error.reason
            if attempt.error.retryable:
                return attempt.error
            row.status = PushDeliveryStatus.failed
            if attempt.dead:
                self._deactivate(row.device_id, attempt.error.reason)
        return None

    def _send_one(self, token: str, message: OutgoingMessage) -> _Attempt:
        body = fcm_message(token, message)
        for _ in range(2):  # once more with a fresh token if FCM refuses the one held
            try:
                bearer = access_token(self._organization_id, self._key, self._outbound)
                response = _call(
                    self._outbound,
                    "FCM",
                    "POST",
                    self._url,
                    json=body,
                    headers={"Authorization": f"Bearer {bearer}"},
                )
            except ProviderError as exc:
                return _Attempt(error=exc)
            except OutboundFailed as exc:  # sent or not, nobody knows
                return _Attempt(in_doubt=InDoubt(exc))
            if response.status == 401:
                forget_token(self._organization_id)
                continue
            if response.status < 300:
                try:
                    return _Attempt(name=str(response.json().get("name", "")))
                except ValueError:
                    return _Attempt(name="")
            code, text = _fcm_error(response)
            reason = f"FCM HTTP {response.status}" + (f": {code}" if code else "")
            reason += f" ({text})" if text else ""
            if _dead(code, text):
                return _Attempt(error=ProviderError(reason, retryable=False), dead=True)
            return _Attempt(
                error=_answered(response.status, reason, _retry_after(response.headers))
            )
        return _Attempt(error=ProviderError("FCM refused a fresh access token", retryable=False))

    def _deactivate(self, device_id: uuid.UUID | None, reason: str) -> None:
        device = self._session.get(Device, device_id) if device_id is not None else None
        if device is not None and device.active:
            device.active, device.deactivated_at = False, utcnow()
            device.deactivated_reason = reason[:200]


def _summary(rows: list[tuple[PushDelivery, str | None]], stop: Handed | None) -> Handed:
    """The message's outcome from its devices': sent once any device took it."""
    if stop is not None:
        return stop
    statuses = [row.status for row, _ in rows]
    sent = [row.fcm_message_id or "" for row, _ in rows if row.status is PushDeliveryStatus.sent]
    if sent:
        return sent[0]
    if not rows:
        return ProviderError("no active push device", retryable=False)
    if PushDeliveryStatus.unknown in statuses:
        return Lost("the answer was lost on every device tried; not sent again")
    errors = [row.error for row, _ in rows if row.error]
    detail = errors[0] if errors else "refused"
    return ProviderError(f"no device took it ({len(rows)} tried): {detail}", retryable=False)
