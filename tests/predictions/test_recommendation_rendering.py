"""``recommendations(n)`` in a template: printed whole as product cards (HTML) or lines (text),
looped over for a layout of one's own, escaped like any value, and empty but valid for a
customer without any; the email designer's block is the same call."""

from __future__ import annotations

from typing import Any

import pytest

from herald.messaging.email_design import EmailDesign, design_html, design_text
from herald.messaging.rendering import check_template, render

pytestmark = pytest.mark.fast

PICKS = [
    {
        "product_id": "grinder",
        "name": "Burr <grinder>",
        "url": "https://shop.example/p/grinder",
        "image": "https://shop.example/img/grinder.jpg",
        "price": "89.00",
        "currency": "EUR",
    },
    {
        "product_id": "filter",
        "name": "Paper filters",
        "url": None,
        "image": None,
        "price": None,
        "currency": None,
    },
    {
        "product_id": "kettle",
        "name": "Kettle",
        "url": "https://shop.example/p/kettle",
        "image": None,
        "price": "45.00",
        "currency": "EUR",
    },
]


def _context(picks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"customer": {"first_name": "Ada", "recommendations": picks}}


def test_printed_whole_they_are_cards_in_html_and_lines_in_text() -> None:
    check_template("{{ recommendations(2) }}", "html")
    html = render("{{ recommendations(2) }}", _context(PICKS), html=True)
    assert html.count("<td") == 2 and "Kettle" not in html
    assert "Burr &lt;grinder&gt;" in html and "<grinder>" not in html
    assert 'href="https://shop.example/p/grinder"' in html and "89.00 EUR" in html
    text = render("{{ recommendations(2) }}", _context(PICKS), html=False)
    assert text.splitlines() == [
        "Burr <grinder> 89.00 EUR https://shop.example/p/grinder",
        "Paper filters",
    ]


def test_a_loop_lays_them_out_and_no_history_renders_nothing() -> None:
    source = "{% for p in recommendations(3) %}[{{ p.name }}|{{ p.price or '-' }}]{% endfor %}"
    check_template(source, "text")
    assert (
        render(source, _context(PICKS)) == "[Burr <grinder>|89.00][Paper filters|-][Kettle|45.00]"
    )
    assert render(source, _context([])) == ""
    assert render("Hi{{ recommendations() }}", {"customer": {"first_name": "Ada"}}) == "Hi"
    assert render("{{ recommendations(99) | length }}", _context(PICKS * 5)) == "12"


def test_the_designer_block_renders_each_recipient_s_picks() -> None:
    design = EmailDesign.model_validate(
        {"blocks": [{"type": "heading", "text": "For you"}, {"type": "recommended", "count": 1}]}
    )
    html = render(design_html(design, "Picks"), _context(PICKS), html=True)
    assert "For you" in html and "Burr &lt;grinder&gt;" in html and "Paper filters" not in html
    text = render(design_text(design), _context(PICKS))
    assert text == "For you\n\nBurr <grinder> 89.00 EUR https://shop.example/p/grinder"
    with pytest.raises(ValueError, match="less than or equal to 6"):
        EmailDesign.model_validate({"blocks": [{"type": "recommended", "count": 7}]})
