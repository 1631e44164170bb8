"""Herald's own open and click tracking, for channels whose provider does not track them
(the local outbox, SMS). Links become signed redirects to the URLs kept on the message, so a
token can only ever lead where the message itself pointed."""

from __future__ import annotations

import re
import uuid
from html import unescape
from typing import Any

from herald.messaging.email_design import append_to_body
from herald.messaging.unsubscribe import Links

_HREF = re.compile(r'href="(https?://[^"]+)"')
_URL = re.compile(r"https?://[^\s<>\"']+")
OPEN = "o"
CLICK = "c"
# A push notification opened in the app (the app reports it with the token the push carried).
PUSH_OPEN = "p"


def track(
    content: dict[str, Any],
    links: Links,
    organization_id: uuid.UUID,
    message_id: uuid.UUID,
    keep: set[str],
) -> dict[str, Any]:
    """Rewrite the links of an email's HTML or an SMS body, and add an open pixel to HTML.

    URLs in ``keep`` (unsubscribe links) stay as they are.
    """
    targets: list[str] = []

    def redirect(url: str) -> str:
        if url in keep:
            return url
        targets.append(url)
        return links.tracking_url(organization_id, message_id, CLICK, len(targets) - 1)

    tracked = dict(content)
    if "html" in content:
        tracked["html"] = _HREF.sub(
            lambda m: f'href="{redirect(unescape(m.group(1)))}"', content["html"]
        )
        pixel = links.tracking_url(organization_id, message_id, OPEN, 0)
        tracked["html"] = append_to_body(
            tracked["html"], f'<img src="{pixel}" width="1" height="1" alt="">'
        )
    elif "body" in content:
        tracked["body"] = _URL.sub(lambda m: redirect(m.group(0)), content["body"])
    if targets:
        tracked["tracked_links"] = targets
    return tracked
