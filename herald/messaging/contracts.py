"""Message delivery's Temporal names: what starters and the worker agree on."""

from __future__ import annotations

SEND_WORKFLOW = "SendMessage"
