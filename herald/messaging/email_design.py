"""An email designed from blocks: the document the console's block editor edits, and the
responsive HTML and plain text Herald stores beside it and sends.

The design is kept in the template's locale variant (``design``) so it can be edited again;
``html`` and ``text`` are written from it whenever the variant is saved. Text a marketer types
may hold personalization tokens (``{{ customer.first_name }}``): they are left as Jinja and
rendered per recipient like any template, so only ``<``, ``>`` and ``&`` are escaped in text,
never the quotes a token may use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Align = Literal["left", "center", "right"]
COLOR_PATTERN = r"^#[0-9a-fA-F]{6}$"
# A link or image address: absolute http(s), or a token that renders to one.
_LINK_ADDRESS = re.compile(r"^(https?://\S+|\{\{[^{}]+\}\})$")


def _link(value: str) -> str:
    value = value.strip()
    if not _LINK_ADDRESS.match(value):
        raise ValueError("give a web address (https://…) or a token such as {{ unsubscribe_url }}")
    return value


Link = Annotated[str, Field(max_length=2000), AfterValidator(_link)]
MAX_BLOCKS = 100
CONTENT_WIDTH_PX = 600


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextBlock(_Block):
    type: Literal["text"] = "text"
    # Paragraphs separated by blank lines; [label](address) for a link; tokens allowed.
    text: str = Field(min_length=1, max_length=20_000)
    align: Align = "left"


class HeadingBlock(_Block):
    type: Literal["heading"] = "heading"
    text: str = Field(min_length=1, max_length=300)
    level: Literal[1, 2] = 1
    align: Align = "left"


class ImageBlock(_Block):
    type: Literal["image"] = "image"
    src: Link
    alt: str = Field(default="", max_length=300)
    href: Link | None = None
    # Percent of the column it sits in.
    width: int = Field(default=100, ge=10, le=100)


class ButtonBlock(_Block):
    type: Literal["button"] = "button"
    label: str = Field(min_length=1, max_length=100)
    href: Link
    color: str = Field(default="#1f5fbf", pattern=COLOR_PATTERN)
    align: Align = "center"


class DividerBlock(_Block):
    type: Literal["divider"] = "divider"


class SpacerBlock(_Block):
    type: Literal["spacer"] = "spacer"
    height: int = Field(default=24, ge=4, le=120)


class ProductCard(BaseModel):
    """A catalog product as it stood when it was put in the email."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    url: Link | None = None
    image_url: Link | None = None
    price: str | None = Field(default=None, max_length=40)


class ProductsBlock(_Block):
    type: Literal["products"] = "products"
    products: list[ProductCard] = Field(min_length=1, max_length=6)


class RecommendedBlock(_Block):
    """The recipient's own recommended products, chosen when each email is rendered (none for
    someone who has bought nothing: the block is then left out)."""

    type: Literal["recommended"] = "recommended"
    count: int = Field(default=3, ge=1, le=6)


LeafBlock = Annotated[
    TextBlock
    | HeadingBlock
    | ImageBlock
    | ButtonBlock
    | DividerBlock
    | SpacerBlock
    | ProductsBlock
    | RecommendedBlock,
    Field(discriminator="type"),
]


class ColumnsBlock(_Block):
    """Side by side on a wide screen, one under another on a phone."""

    type: Literal["columns"] = "columns"
    columns: list[list[LeafBlock]] = Field(min_length=2, max_length=3)


Block = Annotated[
    TextBlock
    | HeadingBlock
    | ImageBlock
    | ButtonBlock
    | DividerBlock
    | SpacerBlock
    | ProductsBlock
    | RecommendedBlock
    | ColumnsBlock,
    Field(discriminator="type"),
]


class DesignStyle(BaseModel):
    model_config = ConfigDict(extra="forbid")

    background: str = Field(default="#f4f4f5", pattern=COLOR_PATTERN)
    content_background: str = Field(default="#ffffff", pattern=COLOR_PATTERN)
    text_color: str = Field(default="#1f2328", pattern=COLOR_PATTERN)
    font: Literal["sans-serif", "serif"] = "sans-serif"


class EmailDesign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    blocks: list[Block] = Field(min_length=1, max_length=MAX_BLOCKS)
    style: DesignStyle = DesignStyle()
    # Shown by mail apps beside the subject; tokens allowed.
    preheader: str = Field(default="", max_length=200)


_FONTS = {
    "sans-serif": "-apple-system,'Segoe UI',Helvetica,Arial,sans-serif",
    "serif": "Georgia,'Times New Roman',serif",
}


def _text(value: str) -> str:
    """Typed text into HTML: markup characters escaped, tokens' quotes kept."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attribute(value: str) -> str:
    return _text(value).replace('"', "&quot;")


# [label](address) in typed text: a link.
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+|\{\{[^{}]+\}\})\)")


def _rich(text: str, color: str) -> str:
    """A paragraph of typed text: escaped, its [label](address) pairs made links."""
    escaped = _text(text).replace("\n", "<br>")
    return _LINK.sub(
        lambda m: (
            f'<a href="{m.group(2).replace(chr(34), "&quot;")}" style="color:{color}">'
            f"{m.group(1)}</a>"
        ),
        escaped,
    )


def _paragraphs(text: str, align: str, color: str) -> str:
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join(
        f'<p style="margin:0 0 12px;font-size:16px;line-height:1.5;color:{color};'
        f'text-align:{align}">{_rich(p, color)}</p>'
        for p in paragraphs
    )


def _leaf_html(block: BaseModel, style: DesignStyle) -> str:
    if isinstance(block, TextBlock):
        return _paragraphs(block.text, block.align, style.text_color)
    if isinstance(block, HeadingBlock):
        size = 28 if block.level == 1 else 22
        return (
            f'<h{block.level} style="margin:0 0 12px;font-size:{size}px;line-height:1.25;'
            f'color:{style.text_color};text-align:{block.align}">{_text(block.text)}</h{block.level}>'
        )
    if isinstance(block, ImageBlock):
        image = (
            f'<img src="{_attribute(block.src)}" alt="{_attribute(block.alt)}" '
            f'width="{block.width}%" style="display:block;width:{block.width}%;max-width:100%;'
            'height:auto;border:0;margin:0 auto 12px">'
        )
        if block.href:
            return f'<a href="{_attribute(block.href)}">{image}</a>'
        return image
    if isinstance(block, ButtonBlock):
        return (
            f'<table role="presentation" cellpadding="0" cellspacing="0" align="{block.align}" '
            'style="margin:0 0 12px"><tr>'
            f'<td style="border-radius:6px;background:{block.color}">'
            f'<a href="{_attribute(block.href)}" style="display:inline-block;padding:12px 24px;'
            'font-size:16px;font-weight:600;color:#ffffff;text-decoration:none;border-radius:6px">'
            f"{_text(block.label)}</a></td></tr></table>"
        )
    if isinstance(block, DividerBlock):
        return '<hr style="border:0;border-top:1px solid #d0d7de;margin:12px 0">'
    if isinstance(block, SpacerBlock):
        return f'<div style="height:{block.height}px;line-height:{block.height}px">&nbsp;</div>'
    if isinstance(block, ProductsBlock):
        return product_cards_html(block.products, style.text_color)
    if isinstance(block, RecommendedBlock):
        return _recommendations_token(block)
    raise TypeError(f"not a leaf block: {type(block).__name__}")


def product_cards_html(cards: Sequence[ProductCard], text_color: str) -> str:
    """Products side by side (one under another on a phone): image, linked name, price."""
    if not cards:
        return ""
    width = 100 // len(cards)
    cells = []
    for card in cards:
        image = (
            f'<img src="{_attribute(card.image_url)}" alt="{_attribute(card.name)}" width="100%" '
            'style="display:block;width:100%;height:auto;border:0;margin:0 0 8px">'
            if card.image_url
            else ""
        )
        name = _text(card.name)
        if card.url:
            name = f'<a href="{_attribute(card.url)}" style="color:{text_color}">{name}</a>'
        price = (
            f'<div style="font-size:15px;font-weight:600">{_text(card.price)}</div>'
            if card.price
            else ""
        )
        cells.append(
            f'<td class="herald-col" width="{width}%" valign="top" style="padding:0 6px 12px;'
            f'font-size:15px;color:{text_color};text-align:center">{image}'
            f'<div style="margin:0 0 4px">{name}</div>{price}</td>'
        )
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr>'
        + "".join(cells)
        + "</tr></table>"
    )


def _block_html(block: BaseModel, style: DesignStyle) -> str:
    if isinstance(block, ColumnsBlock):
        width = 100 // len(block.columns)
        cells = "".join(
            f'<td class="herald-col" width="{width}%" valign="top" style="padding:0 6px">'
            + "".join(_leaf_html(b, style) for b in column)
            + "</td>"
            for column in block.columns
        )
        return (
            '<table role="presentation" width="100%" cellpadding="0" cellspacing="0">'
            f"<tr>{cells}</tr></table>"
        )
    return _leaf_html(block, style)


def design_html(design: EmailDesign, subject: str) -> str:
    """A whole HTML document: a centred column of at most 600 px; columns stack under 620 px."""
    style = design.style
    body = "".join(
        f'<tr><td style="padding:0 24px">{_block_html(b, style)}</td></tr>' for b in design.blocks
    )
    preheader = (
        '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all">'
        f"{_text(design.preheader)}</div>"
        if design.preheader
        else ""
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_text(subject)}</title>"
        "<style>@media (max-width:620px){.herald-col{display:block!important;"
        "width:100%!important;padding:0!important}.herald-body{padding:12px 0!important}}"
        "</style></head>"
        f'<body style="margin:0;padding:0;background:{style.background}">{preheader}'
        f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
        f'style="background:{style.background}"><tr>'
        f'<td class="herald-body" align="center" style="padding:24px 0">'
        f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
        f'style="max-width:{CONTENT_WIDTH_PX}px;background:{style.content_background};'
        f"font-family:{_FONTS[style.font]};color:{style.text_color};"
        'border-radius:8px;padding:24px 0">'
        f"{body}</table></td></tr></table></body></html>"
    )


def _leaf_text(block: BaseModel) -> str:
    if isinstance(block, TextBlock):
        return _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", block.text.strip())
    if isinstance(block, HeadingBlock):
        return block.text.strip()
    if isinstance(block, ImageBlock):
        return f"[{block.alt}]" if block.alt else ""
    if isinstance(block, ButtonBlock):
        return f"{block.label}: {block.href}"
    if isinstance(block, DividerBlock):
        return "----"
    if isinstance(block, ProductsBlock):
        return product_cards_text(block.products)
    if isinstance(block, RecommendedBlock):
        return _recommendations_token(block)
    return ""


def _recommendations_token(block: RecommendedBlock) -> str:
    """Rendered per recipient: cards in the HTML part, a line per product in the text."""
    return f"{{{{ recommendations({block.count}) }}}}"


def product_cards_text(cards: Sequence[ProductCard]) -> str:
    """A line per product: name, price, address."""
    return "\n".join(
        " ".join(part for part in (card.name, card.price, card.url) if part) for card in cards
    )


def design_text(design: EmailDesign) -> str:
    """The plain-text part, in reading order (columns one after another)."""
    parts: list[str] = []
    for block in design.blocks:
        leaves = (
            [b for column in block.columns for b in column]
            if isinstance(block, ColumnsBlock)
            else [block]
        )
        parts.extend(text for text in map(_leaf_text, leaves) if text)
    return "\n\n".join(parts)


def append_to_body(html: str, fragment: str) -> str:
    """``fragment`` at the end of the visible email: before ``</body>`` when the HTML is a whole
    document, else after it."""
    at = html.lower().rfind("</body>")
    return f"{html[:at]}{fragment}{html[at:]}" if at != -1 else f"{html}{fragment}"
