"""The template library: starting points a marketer picks when composing a message, one per
purpose and channel. Each is ordinary template content (an email's is a block design), copied
into the new template and edited from there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from herald.messaging.models import Category, Channel

SHOP_URL = "https://example.com"


@dataclass(frozen=True)
class Starter:
    key: str
    name: str
    description: str
    channel: Channel
    category: Category
    content: dict[str, Any]


_GREETING = {"type": "heading", "text": "Hello {{ customer.first_name or 'there' }}"}
_FOOTER = [
    {"type": "divider"},
    {
        "type": "text",
        "align": "center",
        "text": "You receive this because you signed up at {{ organization.name }}.\n"
        "[Unsubscribe]({{ unsubscribe_url }})",
    },
]

STARTERS: tuple[Starter, ...] = (
    Starter(
        key="blank-email",
        name="Blank email",
        description="A heading, a paragraph and the footer.",
        channel=Channel.email,
        category=Category.marketing,
        content={
            "subject": "News from {{ organization.name }}",
            "design": {
                "blocks": [
                    _GREETING,
                    {"type": "text", "text": "Write your message here."},
                    *_FOOTER,
                ]
            },
        },
    ),
    Starter(
        key="promotional",
        name="Promotion",
        description="An offer with a button and two side-by-side pieces.",
        channel=Channel.email,
        category=Category.marketing,
        content={
            "subject": "{{ customer.first_name or 'Hi' }}, 20% off this weekend",
            "design": {
                "preheader": "Our weekend sale starts now.",
                "blocks": [
                    _GREETING,
                    {
                        "type": "text",
                        "text": "Everything in the shop is 20% off until Sunday. "
                        "You have {{ customer.points }} points to spend too.",
                    },
                    {
                        "type": "button",
                        "label": "Shop the sale",
                        "href": f"{SHOP_URL}/sale",
                    },
                    {
                        "type": "columns",
                        "columns": [
                            [
                                {"type": "heading", "level": 2, "text": "New in"},
                                {"type": "text", "text": "Fresh arrivals for the season."},
                            ],
                            [
                                {"type": "heading", "level": 2, "text": "Best sellers"},
                                {"type": "text", "text": "What everyone is buying."},
                            ],
                        ],
                    },
                    *_FOOTER,
                ],
            },
        },
    ),
    Starter(
        key="newsletter",
        name="Newsletter",
        description="A headline story and two side-by-side pieces.",
        channel=Channel.email,
        category=Category.marketing,
        content={
            "subject": "The {{ organization.name }} newsletter",
            "design": {
                "blocks": [
                    {"type": "heading", "text": "This month at {{ organization.name }}"},
                    {"type": "text", "text": "The main story of the month."},
                    {
                        "type": "columns",
                        "columns": [
                            [{"type": "heading", "level": 2, "text": "Story two"}],
                            [{"type": "heading", "level": 2, "text": "Story three"}],
                        ],
                    },
                    *_FOOTER,
                ]
            },
        },
    ),
    Starter(
        key="transactional",
        name="Transactional notice",
        description="A plain notice about an account or an order; no marketing consent needed.",
        channel=Channel.email,
        category=Category.transactional,
        content={
            "subject": "About your account at {{ organization.name }}",
            "design": {
                "blocks": [
                    _GREETING,
                    {"type": "text", "text": "Here is what changed on your account."},
                    {"type": "button", "label": "See your account", "href": f"{SHOP_URL}/account"},
                ]
            },
        },
    ),
    Starter(
        key="sms",
        name="Text message",
        description="A short offer with a link.",
        channel=Channel.sms,
        category=Category.marketing,
        content={"body": "{{ organization.name }}: 20% off this weekend. " + SHOP_URL},
    ),
    Starter(
        key="push",
        name="Push notification",
        description="A title, a line and a link into the app.",
        channel=Channel.push,
        category=Category.marketing,
        content={
            "title": "20% off this weekend",
            "body": "{{ customer.first_name or 'Hi' }}, the sale is on.",
            "data": {"url": f"{SHOP_URL}/sale"},
        },
    ),
    Starter(
        key="in-app",
        name="In-app message",
        description="A message in the app's inbox.",
        channel=Channel.in_app,
        category=Category.marketing,
        content={
            "title": "The sale is on",
            "body": "Everything is 20% off until Sunday.",
            "data": {"url": f"{SHOP_URL}/sale"},
        },
    ),
)


def starters_for(channel: Channel) -> list[Starter]:
    return [s for s in STARTERS if s.channel is channel]


def starter(key: str) -> Starter | None:
    return next((s for s in STARTERS if s.key == key), None)
