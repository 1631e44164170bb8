"""What a journey key and a step id look like: checked where marketers write them, and where
they are asked for as search attribute values (``herald.runs``)."""

from __future__ import annotations

JOURNEY_KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,99}$"
STEP_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
