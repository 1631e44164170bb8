"""Temporal payloads encrypted before they leave the process.

Workflow inputs, results, signals and activity arguments carry personal data (event properties,
addresses, reply bodies). Every Herald client, worker and replayer encodes them with
AES-256-GCM under a key derived from the secret for this purpose, so the Temporal server, its
database and anyone reaching its frontend see ciphertext. Operators read them in the Temporal
UI through Herald's codec endpoint (``/codec/{operator token}``), which decodes for them.

Payloads written before encryption came in (or by a client without it) pass through as they
are, so old histories still replay.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

from herald.secrets import SecretKeys

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).hexdigest()[:12].encode()


class PayloadEncryption(PayloadCodec):
    def __init__(self, keys: SecretKeys) -> None:
        derived = keys.for_purpose("temporal-payloads")
        self._current = derived[0]
        self._by_id = {_key_id(key): key for key in derived}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._seal(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._open(payload) for payload in payloads]

    def _seal(self, payload: Payload) -> Payload:
        nonce = os.urandom(12)
        body = AESGCM(self._current).encrypt(nonce, payload.SerializeToString(), None)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: _key_id(self._current)}, data=nonce + body
        )

    def _open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption: as it is
        key = self._by_id.get(payload.metadata.get(KEY_ID, b""))
        if key is None:
            raise ValueError(
                "a payload was encrypted under a secret key that is no longer configured"
            )
        try:
            clear = AESGCM(key).decrypt(payload.data[:12], payload.data[12:], None)
        except InvalidTag as exc:
            raise ValueError("a payload does not decrypt: it was altered") from exc
        return Payload.FromString(clear)


def encrypting_converter(keys: SecretKeys) -> DataConverter:
    """Herald's data converter (pydantic models) with its payloads encrypted."""
    return dataclasses.replace(pydantic_data_converter, payload_codec=PayloadEncryption(keys))
