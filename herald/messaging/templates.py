"""Message templates: validated when saved, picked by locale, rendered for one recipient."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterator
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.customers.models import (
    Customer,
    CustomerBusiness,
    CustomerGroup,
    CustomerGroupMember,
    CustomerPhone,
    CustomerTag,
)
from herald.customers.service import get_customer
from herald.db import commit_or_conflict, one_of, utcnow
from herald.errors import Conflict, InvalidInput, NotFound
from herald.loyalty.models import LoyaltyAccount
from herald.messaging.models import Channel, MessageTemplate
from herald.messaging.rendering import RECOMMENDATIONS, check_template, render
from herald.messaging.schemas import (
    CONTENT_MODELS,
    HTML_FIELDS,
    SOURCE_FIELDS,
    PreviewRequest,
    RenderedMessage,
    TemplateCreate,
    TemplateOut,
    TemplateUpdate,
)
from herald.messaging.unsubscribe import Links
from herald.organizations.models import Organization
from herald.pagination import keyset_page
from herald.predictions.models import CustomerPrediction
from herald.predictions.recommendations import recommend
from herald.predictions.schemas import RecommendedProduct


def _validated_variants(
    channel: Channel, variants: dict[str, dict[str, Any]], default_locale: str
) -> dict[str, dict[str, Any]]:
    if default_locale not in variants:
        raise InvalidInput(
            f"no variant for the default locale {default_locale!r}", field="default_locale"
        )
    model = CONTENT_MODELS[channel]
    clean: dict[str, dict[str, Any]] = {}
    for locale, raw in variants.items():
        try:
            content = model.model_validate(raw).model_dump(exclude_none=True, mode="json")
        except ValidationError as exc:
            error = exc.errors()[0]
            path = ".".join(str(p) for p in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            raise InvalidInput(message, field=f"variants.{locale}.{path}") from exc
        for name, value in content.items():
            if name not in SOURCE_FIELDS:
                for field, text in _texts(value, f"variants.{locale}.{name}"):
                    check_template(text, field)
        clean[locale] = content
    return clean


def create_template(
    session: Session, data: TemplateCreate, *, commit: bool = True
) -> MessageTemplate:
    template = MessageTemplate(
        key=data.key,
        name=data.name,
        channel=data.channel,
        category=data.category,
        default_locale=data.default_locale,
        variants=_validated_variants(data.channel, data.variants, data.default_locale),
    )
    if session.scalar(select(MessageTemplate.id).where(MessageTemplate.key == data.key)):
        raise Conflict(f"a template with key {data.key!r} exists", field="key")
    session.add(template)
    if not commit:
        session.flush()
        return template
    commit_or_conflict(session, f"a template with key {data.key!r} exists", field="key")
    return template


def template_out(template: MessageTemplate) -> TemplateOut:
    return TemplateOut.model_validate(template, from_attributes=True)


def get_template(session: Session, template_id: uuid.UUID) -> MessageTemplate:
    template = session.get(MessageTemplate, template_id)
    if template is None or template.deleted_at is not None:
        raise NotFound("no such template")
    return template


def template_for_key(session: Session, key: str) -> MessageTemplate | None:
    """The live template a journey step names by key, if there is one."""
    return session.scalar(
        select(MessageTemplate).where(
            MessageTemplate.key == key, MessageTemplate.deleted_at.is_(None)
        )
    )


def ensure_template(session: Session, default: TemplateCreate) -> MessageTemplate:
    """The organization's live template under the default's key (a merchant may have edited
    it), or Herald's default created for it, uncommitted.

    Two runs may need the default at once (two birthdays in one sweep): the one that loses the
    race to create it takes the winner's, instead of failing on the unique key."""
    found = template_for_key(session, default.key)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            return create_template(session, default, commit=False)
    except (Conflict, IntegrityError):
        found = template_for_key(session, default.key)
        if found is None:
            raise
        return found


def list_templates(
    session: Session, *, limit: int, cursor: str | None
) -> tuple[list[MessageTemplate], str | None]:
    """By key, and the cursor of the next page."""
    stmt = select(MessageTemplate).where(MessageTemplate.deleted_at.is_(None))
    return keyset_page(
        session,
        stmt,
        MessageTemplate.key,
        MessageTemplate.id,
        limit=limit,
        cursor=cursor,
        descending=False,
    )


def update_template(
    session: Session, template_id: uuid.UUID, data: TemplateUpdate
) -> MessageTemplate:
    template = get_template(session, template_id)
    if data.name is not None:
        template.name = data.name
    if data.category is not None:
        template.category = data.category
    default_locale = data.default_locale or template.default_locale
    variants = data.variants if data.variants is not None else template.variants
    template.variants = _validated_variants(template.channel, variants, default_locale)
    template.default_locale = default_locale
    template.updated_at = utcnow()
    session.commit()
    return template


def delete_template(session: Session, template_id: uuid.UUID) -> None:
    template = get_template(session, template_id)
    template.deleted_at = utcnow()
    session.commit()


def pick_variant(template: MessageTemplate, locale: str | None) -> tuple[str, dict[str, Any]]:
    """The recipient's locale, else its language, else the template's default."""
    for candidate in (locale, locale.split("-")[0] if locale else None):
        if candidate and candidate in template.variants:
            return candidate, template.variants[candidate]
    return template.default_locale, template.variants[template.default_locale]


def _texts(value: Any, field: str) -> Iterator[tuple[str, str]]:
    """Every text in a content field, however nested (push options, display triggers), with
    where it is; numbers and flags are not templates."""
    if isinstance(value, str):
        yield field, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(item, f"{field}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _texts(item, f"{field}.{index}")


def _rendered(value: Any, context: dict[str, Any], field: str, html: bool) -> Any:
    if isinstance(value, str):
        return render(value, context, html=html, field=field)
    if isinstance(value, dict):
        return {k: _rendered(v, context, f"{field}.{k}", False) for k, v in value.items()}
    if isinstance(value, list):
        return [_rendered(v, context, f"{field}.{i}", False) for i, v in enumerate(value)]
    return value


def render_content(content: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    return {
        name: _rendered(value, context, name, name in HTML_FIELDS)
        for name, value in content.items()
        if name not in SOURCE_FIELDS
    }


def uses_recommendations(template: MessageTemplate) -> bool:
    """Whether any variant may call ``recommendations()`` (then its recipients' are looked up)."""
    return RECOMMENDATIONS in json.dumps(template.variants)


def _recommended(product: RecommendedProduct) -> dict[str, Any]:
    return {
        "product_id": product.product_id,
        "name": product.name,
        "url": product.url,
        "image": product.image,
        "price": f"{product.price:.2f}" if product.price is not None else None,
        "currency": product.currency,
    }


def customer_contexts(
    session: Session, customer_ids: Collection[uuid.UUID], *, recommendations: bool = False
) -> dict[uuid.UUID, dict[str, Any]]:
    """What templates see of each customer not deleted: plain values, read as rows (a batch
    of a thousand needs no thousand ORM objects). Their recommended products only when asked
    (``recommendations``): a template that shows none needs no look-up."""
    ids = list(customer_ids)
    profiles = session.execute(
        select(
            Customer.id,
            Customer.name,
            Customer.primary_email,
            Customer.locale,
            Customer.timezone,
            Customer.attributes,
            Customer.country,
            Customer.orders_count,
            Customer.lifetime_value,
            Customer.last_order_at,
        ).where(one_of(session, Customer.id, ids), Customer.deleted_at.is_(None))
    )
    tags: dict[uuid.UUID, list[str]] = defaultdict(list)
    for customer_id, tag in session.execute(
        select(CustomerTag.customer_id, CustomerTag.tag)
        .where(one_of(session, CustomerTag.customer_id, ids))
        .order_by(CustomerTag.tag)
    ):
        tags[customer_id].append(tag)
    phones = dict(
        session.execute(
            select(CustomerPhone.customer_id, CustomerPhone.phone).where(
                one_of(session, CustomerPhone.customer_id, ids), CustomerPhone.is_primary
            )
        ).all()
    )
    balances = dict(
        session.execute(
            select(LoyaltyAccount.customer_id, LoyaltyAccount.balance).where(
                one_of(session, LoyaltyAccount.customer_id, ids)
            )
        ).all()
    )
    groups: dict[uuid.UUID, list[str]] = defaultdict(list)
    for customer_id, key in session.execute(
        select(CustomerGroupMember.customer_id, CustomerGroup.key)
        .join(CustomerGroup, CustomerGroup.id == CustomerGroupMember.group_id)
        .where(one_of(session, CustomerGroupMember.customer_id, ids))
        .order_by(CustomerGroup.key)
    ):
        groups[customer_id].append(key)
    businesses = {
        row.customer_id: {"legal_name": row.legal_name, "tax_id": row.tax_id}
        for row in session.execute(
            select(
                CustomerBusiness.customer_id, CustomerBusiness.legal_name, CustomerBusiness.tax_id
            ).where(one_of(session, CustomerBusiness.customer_id, ids))
        )
    }
    predicted = {
        row.customer_id: row
        for row in session.execute(
            select(
                CustomerPrediction.customer_id,
                CustomerPrediction.churn_risk,
                CustomerPrediction.expected_purchases,
                CustomerPrediction.predicted_clv,
            ).where(one_of(session, CustomerPrediction.customer_id, ids))
        )
    }
    recommended = recommend(session, ids) if recommendations and ids else {}
    return {
        customer_id: {
            "id": str(customer_id),
            "name": name,
            "first_name": name.split(" ")[0] if name else "",
            "email": email,
            "phone": phones.get(customer_id),
            "locale": locale,
            "timezone": timezone,
            "attributes": dict(attributes),
            "tags": tags.get(customer_id, []),
            "points": balances.get(customer_id, 0),
            "country": country,
            "groups": groups.get(customer_id, []),
            "business": businesses.get(customer_id),
            # Order figures as the customer row keeps them (money in the reporting currency).
            "orders": orders,
            "lifetime_value": f"{lifetime_value:.2f}",
            "last_order_at": last_order_at.isoformat() if last_order_at else None,
            # The latest lifetime-value fit's scores; empty for a customer it did not score.
            **_predicted(predicted.get(customer_id)),
            "recommendations": [_recommended(p) for p in recommended.get(customer_id, [])],
        }
        for (
            customer_id,
            name,
            email,
            locale,
            timezone,
            attributes,
            country,
            orders,
            lifetime_value,
            last_order_at,
        ) in profiles
    }


def _predicted(row: Any) -> dict[str, Any]:
    if row is None:
        return {"churn_risk": None, "expected_purchases": None, "predicted_clv": None}
    return {
        "churn_risk": row.churn_risk,
        "expected_purchases": row.expected_purchases,
        "predicted_clv": f"{row.predicted_clv:.2f}" if row.predicted_clv is not None else None,
    }


def organization_context(session: Session, organization_id: uuid.UUID) -> dict[str, Any]:
    org = session.get(Organization, organization_id)
    return {"name": org.name, "slug": org.slug} if org else {}


def preview(
    session: Session,
    organization_id: uuid.UUID,
    template_id: uuid.UUID,
    request: PreviewRequest,
    links: Links,
) -> RenderedMessage:
    template = get_template(session, template_id)
    organization = organization_context(session, organization_id)
    context: dict[str, Any] = {
        "organization": organization,
        "unsubscribe_url": links.sample_unsubscribe_url(organization["slug"]),
    }
    locale = request.locale
    if request.customer_id is not None:
        customer = get_customer(session, request.customer_id)
        context["customer"] = customer_contexts(session, [customer.id], recommendations=True)[
            customer.id
        ]
        context["unsubscribe_url"] = links.unsubscribe_url(
            organization["slug"], organization_id, customer.id
        )
        locale = locale or customer.locale
    if request.sample is not None:
        context.setdefault("customer", request.sample.customer)
        context["event"] = request.sample.event
    chosen, content = pick_variant(template, locale)
    return RenderedMessage(
        template_id=template.id,
        channel=template.channel,
        locale=chosen,
        content=render_content(content, context),
    )
