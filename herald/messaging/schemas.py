from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    ValidationInfo,
    field_validator,
    model_validator,
)

from herald.customers.schemas import to_e164
from herald.messaging.contracts import MessageStatus
from herald.messaging.email_design import EmailDesign, design_html, design_text
from herald.messaging.models import Category, Channel, ConsentStatus, SuppressionReason
from herald.messaging.policy import FrequencyCap


class EmailContent(BaseModel):
    """An email's subject and body: HTML as written, or a block design the HTML and text are
    made from."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=998)
    design: EmailDesign | None = None
    html: str | None = Field(default=None, min_length=1, max_length=512_000, validate_default=True)
    text: str | None = Field(default=None, max_length=512_000)

    @field_validator("html")
    @classmethod
    def _html_or_design(cls, html: str | None, info: ValidationInfo) -> str | None:
        if html is None and info.data.get("design") is None:
            raise ValueError("html is required, or a design to make it from")
        return html

    @model_validator(mode="after")
    def _body_from_design(self) -> EmailContent:
        if self.design is not None:
            self.html = design_html(self.design, self.subject)
            self.text = design_text(self.design)
        return self


class SmsContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=1600)


class PushContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=2000)
    data: dict[str, str] = {}


class InAppContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=10_000)
    data: dict[str, str] = {}


CONTENT_MODELS: dict[Channel, type[BaseModel]] = {
    Channel.email: EmailContent,
    Channel.sms: SmsContent,
    Channel.push: PushContent,
    Channel.in_app: InAppContent,
}
# Fields rendered with HTML autoescaping; every other field is plain text.
HTML_FIELDS = frozenset({"html"})
# Fields kept to be edited again, never rendered nor sent: what other fields were made from.
SOURCE_FIELDS = frozenset({"design"})

TemplateKey = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$", examples=["welcome-email"])
LOCALE_PATTERN = r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$"
LocaleTag = Field(pattern=LOCALE_PATTERN, examples=["en", "de-AT"])


class TemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = TemplateKey
    name: str = Field(min_length=1, max_length=200)
    channel: Channel
    category: Category = Category.marketing
    default_locale: str = LocaleTag
    variants: dict[str, dict[str, Any]] = Field(
        min_length=1,
        max_length=50,
        description="content per locale; its fields depend on the channel "
        "(email: subject, html, text; sms: body; push and in_app: title, body, data)",
    )


def transactional_email(key: str, name: str, subject: str, html: str, text: str) -> TemplateCreate:
    """One of Herald's own default emails in English (staff notices, account links, answers to
    someone who asked): transactional, so no marketing consent is involved."""
    return TemplateCreate(
        key=key,
        name=name,
        channel=Channel.email,
        category=Category.transactional,
        default_locale="en",
        variants={"en": {"subject": subject, "html": html, "text": text}},
    )


class TemplateUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    category: Category | None = None
    default_locale: str | None = Field(default=None, pattern=LOCALE_PATTERN)
    variants: dict[str, dict[str, Any]] | None = Field(default=None, min_length=1, max_length=50)


class TemplateOut(BaseModel):
    id: uuid.UUID
    key: str
    name: str
    channel: Channel
    category: Category
    default_locale: str
    variants: dict[str, dict[str, Any]]
    created_at: datetime
    updated_at: datetime


class SampleContext(BaseModel):
    customer: dict[str, Any] = {}
    event: dict[str, Any] = {}


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID | None = Field(default=None, description="render for this customer")
    sample: SampleContext | None = Field(default=None, description="or for sample data")
    locale: str | None = None


class RenderedMessage(BaseModel):
    template_id: uuid.UUID
    channel: Channel
    locale: str
    content: dict[str, Any]


class MessageOut(BaseModel):
    id: uuid.UUID
    idempotency_key: str
    channel: Channel
    category: Category
    template_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    recipient: str
    locale: str | None
    content: dict[str, Any]
    provider: str
    provider_message_id: str | None
    status: MessageStatus
    status_reason: str | None
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    read_at: datetime | None


class MessagePage(BaseModel):
    items: list[MessageOut]
    next_cursor: str | None


class MessagingSettingsIn(BaseModel):
    """A partial update: fields left out keep their value; secrets are never read back."""

    model_config = ConfigDict(extra="forbid")

    email_from: EmailStr | None = None
    email_from_name: str | None = Field(default=None, max_length=200)
    postal_address: str | None = Field(default=None, max_length=500)
    sendgrid_api_key: str | None = Field(default=None, min_length=1, max_length=500)
    sendgrid_host: HttpUrl | None = None
    sendgrid_webhook_public_key: str | None = Field(default=None, min_length=20, max_length=2000)
    twilio_account_sid: str | None = Field(default=None, pattern=r"^AC[0-9a-fA-F]{32}$")
    twilio_auth_token: str | None = Field(default=None, min_length=1, max_length=200)
    twilio_base_url: HttpUrl | None = None
    sms_from: Annotated[str, AfterValidator(to_e164)] | None = None
    push_endpoint: HttpUrl | None = None
    push_access_token: str | None = Field(default=None, min_length=1, max_length=4000)
    quiet_hours_start: time | None = Field(default=None, examples=["21:00"])
    quiet_hours_end: time | None = Field(default=None, examples=["08:00"])
    frequency_caps: list[FrequencyCap] | None = None
    # On unless turned off: anyone can type someone else's address into a sign-up form.
    newsletter_double_opt_in: bool = True


class MessagingSettingsOut(BaseModel):
    email_from: str | None
    email_from_name: str | None
    postal_address: str | None
    sendgrid_configured: bool
    twilio_configured: bool
    twilio_account_sid: str | None
    sms_from: str | None
    email_provider: str
    sms_provider: str
    push_provider: str
    quiet_hours_start: time | None
    quiet_hours_end: time | None
    frequency_caps: list[FrequencyCap]
    newsletter_double_opt_in: bool


class ConsentIn(BaseModel):
    """Per-channel marketing consent; channels left out keep their state."""

    model_config = ConfigDict(extra="forbid")

    email: ConsentStatus | None = None
    sms: ConsentStatus | None = None
    push: ConsentStatus | None = None
    in_app: ConsentStatus | None = None
    source: str = Field(default="api", min_length=1, max_length=100)


class ConsentOut(BaseModel):
    customer_id: uuid.UUID
    channels: dict[Channel, ConsentStatus]


class SuppressionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel
    address: str = Field(min_length=3, max_length=320)


class SuppressionOut(BaseModel):
    id: uuid.UUID
    channel: Channel
    address: str
    reason: SuppressionReason
    created_at: datetime


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(
        min_length=10, max_length=500, description="the app's FCM registration token"
    )
    platform: Literal["ios", "android", "web"]


class DeviceOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    platform: str
    created_at: datetime
    last_seen_at: datetime
