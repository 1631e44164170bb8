"""How many parts a text message is sent as: what the carrier bills.

A message in the GSM 03.38 alphabet carries 160 characters (153 per part once split, the rest
being the header that joins the parts); one character outside it makes the whole message UCS-2,
with 70 (67 per part) UTF-16 code units. Characters of the GSM extension table take two.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("^{}\\[~]|€\f")


class Encoding(enum.StrEnum):
    gsm7 = "GSM-7"
    ucs2 = "UCS-2"


@dataclass(frozen=True)
class SmsParts:
    encoding: Encoding
    # Characters as the encoding counts them (septets for GSM-7, UTF-16 units for UCS-2).
    length: int
    parts: int


def sms_parts(text: str) -> SmsParts:
    if all(c in _GSM_BASIC or c in _GSM_EXTENSION for c in text):
        length = sum(2 if c in _GSM_EXTENSION else 1 for c in text)
        single, each = 160, 153
        encoding = Encoding.gsm7
    else:
        length = len(text.encode("utf-16-le")) // 2
        single, each = 70, 67
        encoding = Encoding.ucs2
    parts = 1 if length <= single else -(-length // each)
    return SmsParts(encoding, length, parts)
