from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
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
from herald.messaging.models import (
    Category,
    Channel,
    ConsentStatus,
    PushDeliveryStatus,
    SuppressionReason,
)
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


# A header name as HTTP allows it (APNs and Web Push headers travel through FCM).
HeaderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")]


class AndroidOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel_id: str | None = Field(
        default=None, max_length=100, description="the Android notification channel to post in"
    )
    priority: Literal["normal", "high"] = "high"


class ApnsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    headers: dict[HeaderName, str] = Field(
        default={}, max_length=10, examples=[{"apns-priority": "10", "apns-collapse-id": "sale"}]
    )


class WebPushOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    headers: dict[HeaderName, str] = Field(
        default={}, max_length=10, examples=[{"Urgency": "high"}]
    )


class PushContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=2000)
    data: dict[str, str] = Field(default={}, description="key-value data the app receives")
    link: str | None = Field(
        default=None,
        max_length=2000,
        description="where a tap leads: a deep link (myapp://cart) or a web address",
    )
    image: str | None = Field(default=None, max_length=2000, description="an https image URL")
    android: AndroidOptions | None = None
    apns: ApnsOptions | None = None
    webpush: WebPushOptions | None = None


class DisplayTrigger(BaseModel):
    """When the app shows a banner or modal: when it opens, or on a screen it names."""

    model_config = ConfigDict(extra="forbid")

    on: Literal["app_open", "screen"]
    screen: str | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _screen_named(self) -> DisplayTrigger:
        if (self.on == "screen") != (self.screen is not None):
            raise ValueError("a screen trigger names its screen, and only it does")
        return self


class InAppContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=10_000)
    data: dict[str, str] = {}
    link: str | None = Field(default=None, max_length=2000)
    image: str | None = Field(default=None, max_length=2000)
    kind: Literal["inbox", "banner", "modal"] = Field(
        default="inbox",
        description="inbox: listed only; banner and modal: also shown when a trigger matches",
    )
    priority: int = Field(default=0, ge=0, le=100, description="higher is shown first")
    expires_in: timedelta | None = Field(
        default=None, description="how long after sending it is shown at all (ISO 8601, P7D)"
    )
    expires_at: datetime | None = Field(default=None, description="or the moment it stops")
    triggers: list[DisplayTrigger] = Field(
        default=[],
        max_length=10,
        description="when a banner or modal shows; none: at the next chance (app open, any screen)",
    )

    @model_validator(mode="after")
    def _one_expiry(self) -> InAppContent:
        if self.expires_in is not None and self.expires_at is not None:
            raise ValueError("give expires_in or expires_at, not both")
        if self.expires_in is not None and self.expires_in <= timedelta(0):
            raise ValueError("expires_in must be positive")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError("expires_at needs a time zone (2026-12-31T23:59:00Z)")
        return self


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
    opened_at: datetime | None = None
    devices: list[PushDeliveryOut] | None = Field(
        default=None, description="push: what became of it on each device (one message only)"
    )


class PushDeliveryOut(BaseModel):
    device_id: uuid.UUID | None
    platform: str
    status: PushDeliveryStatus
    fcm_message_id: str | None
    error: str | None
    updated_at: datetime


class MessagePage(BaseModel):
    items: list[MessageOut]
    next_cursor: str | None


class FirebaseServiceAccount(BaseModel):
    """A Firebase service-account key file (Project settings → Service accounts → Generate
    new private key). Its other fields are kept as they come."""

    model_config = ConfigDict(extra="allow")

    type: Literal["service_account"]
    project_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    private_key: str = Field(min_length=100, max_length=10_000)
    client_email: str = Field(min_length=3, max_length=320)
    token_uri: HttpUrl = HttpUrl("https://oauth2.googleapis.com/token")


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
    fcm_service_account: FirebaseServiceAccount | None = Field(
        default=None,
        description="the Firebase service-account key file's JSON, as Google hands it out "
        "(write-only: Herald signs in to FCM with it)",
    )
    fcm_base_url: HttpUrl | None = Field(
        default=None, description="where FCM is reached when not at fcm.googleapis.com"
    )
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
    fcm_project_id: str | None = None
    fcm_client_email: str | None = None
    fcm_base_url: str | None = None
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
    active: bool
    deactivated_at: datetime | None
    deactivated_reason: str | None = Field(description="what FCM said of the token")
