"""Herald's secret key, the keys derived from it, and provider credentials encrypted at rest.

One secret (``HERALD_SECRET_KEY``), kept apart from the database, is the root of every key:
each purpose gets its own key derived with HKDF (signed links, credential encryption), so no
key serves two ends. Rotation: set the new secret and list the old ones in
``HERALD_PREVIOUS_SECRET_KEYS``. Links signed with an old key keep opening while it is listed
(the grace period), and ``herald secrets rotate`` re-wraps every stored credential under the
new key, after which the old one may go.

Credentials use envelope encryption: each value is encrypted (AES-256-GCM) with a random data
key of its own, and that data key is stored wrapped by the key-encryption key derived from the
secret. Rotating re-wraps the small data keys; a stolen database holds nothing readable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

ENCRYPTED_PREFIX = "enc:v1:"
_DEK_AAD = b"herald:data-key"


class SecretKeyMissing(RuntimeError):
    """No secret key configured for a process that needs one."""


class SealBroken(ValueError):
    """A sealed value that does not open: altered or cut."""


def derive(secret: str, purpose: str) -> bytes:
    """A 256-bit key for one purpose only, derived from the secret."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"herald:{purpose}".encode()
    ).derive(secret.encode())


@dataclass(frozen=True)
class SecretKeys:
    """The current secret and those it replaced, newest first."""

    current: str
    previous: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return (self.current, *self.previous)

    def for_purpose(self, purpose: str) -> tuple[bytes, ...]:
        """The purpose's key under each secret: the first signs or encrypts, all verify."""
        return tuple(derive(secret, purpose) for secret in self.all)


def operator_token(keys: SecretKeys) -> str:
    """What an operator presents to the payload codec endpoint (herald secrets operator-token):
    derived from the current secret, so it changes when the secret is rotated."""
    return base64.urlsafe_b64encode(derive(keys.current, "operator")[:18]).decode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:12]


class Envelope:
    """Encrypts values under the current credential key; opens those of any listed key."""

    def __init__(self, keys: SecretKeys) -> None:
        self._keys = keys.for_purpose("credentials")
        self._by_id = {_key_id(key): key for key in self._keys}

    def seal(self, plaintext: str) -> str:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(12)
        sealed = {
            "c": _b64(nonce + AESGCM(data_key).encrypt(nonce, plaintext.encode(), None)),
            **self._wrap(data_key),
        }
        return ENCRYPTED_PREFIX + _b64(json.dumps(sealed).encode())

    def _wrap(self, data_key: bytes) -> dict[str, str]:
        key = self._keys[0]
        nonce = os.urandom(12)
        return {
            "k": _key_id(key),
            "w": _b64(nonce + AESGCM(key).encrypt(nonce, data_key, _DEK_AAD)),
        }

    def _unwrap(self, sealed: dict[str, Any]) -> bytes:
        key = self._by_id.get(sealed["k"])
        if key is None:
            raise SecretKeyMissing(
                "a credential was sealed under a secret key that is no longer configured; "
                "list it in HERALD_PREVIOUS_SECRET_KEYS"
            )
        wrapped = base64.urlsafe_b64decode(sealed["w"])
        try:
            return AESGCM(key).decrypt(wrapped[:12], wrapped[12:], _DEK_AAD)
        except InvalidTag as exc:
            raise SealBroken("a stored credential does not open: it was altered") from exc

    def open(self, stored: str) -> str:
        """The plaintext; a value stored before encryption came in is returned as it is."""
        if not stored.startswith(ENCRYPTED_PREFIX):
            return stored
        sealed = _parse(stored)
        data_key = self._unwrap(sealed)
        body = base64.urlsafe_b64decode(sealed["c"])
        try:
            return AESGCM(data_key).decrypt(body[:12], body[12:], None).decode()
        except InvalidTag as exc:
            raise SealBroken("a stored credential does not open: it was altered") from exc

    def rewrap(self, stored: str) -> str:
        """The same value under the current key: its data key re-wrapped (plaintext sealed)."""
        if not stored.startswith(ENCRYPTED_PREFIX):
            return self.seal(stored)
        sealed = _parse(stored)
        sealed.update(self._wrap(self._unwrap(sealed)))
        return ENCRYPTED_PREFIX + _b64(json.dumps(sealed).encode())

    def is_current(self, stored: str) -> bool:
        if not stored.startswith(ENCRYPTED_PREFIX):
            return False
        sealed = _parse(stored)
        return bool(sealed["k"] == _key_id(self._keys[0]))


def _parse(stored: str) -> dict[str, Any]:
    try:
        sealed = json.loads(base64.urlsafe_b64decode(stored[len(ENCRYPTED_PREFIX) :]))
        if not all(isinstance(sealed.get(part), str) for part in ("c", "k", "w")):
            raise ValueError("parts missing")
    except ValueError as exc:  # bad base64 and bad JSON are ValueErrors too
        raise SealBroken("a stored credential is not a sealed value") from exc
    return dict(sealed)


_installed: Envelope | None = None


def install(keys: SecretKeys) -> None:
    """Give this process its keys (each process entry point does, from its settings)."""
    global _installed
    _installed = Envelope(keys)


def envelope() -> Envelope:
    if _installed is None:
        raise SecretKeyMissing("this process has no secret key installed (herald.secrets.install)")
    return _installed


class EncryptedText(TypeDecorator[str]):
    """A text column stored sealed: written encrypted, read back in the clear."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else envelope().seal(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else envelope().open(value)
