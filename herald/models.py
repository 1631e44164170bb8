"""Every table, imported once so ``Base.metadata`` is complete (Alembic, tests)."""

from herald.access.models import ApiKey, User
from herald.analytics.models import (
    AnalyticsAcquisition,
    AnalyticsCohort,
    AnalyticsPeriod,
    AnalyticsSettings,
    AnalyticsState,
    MarketingSpend,
    OrderAttribution,
)
from herald.campaigns.models import Campaign, CampaignRecipient
from herald.customers.models import (
    Customer,
    CustomerActivity,
    CustomerAddress,
    CustomerBusiness,
    CustomerEmail,
    CustomerGroup,
    CustomerGroupMember,
    CustomerNote,
    CustomerPhone,
    CustomerTag,
)
from herald.dataops.models import (
    BulkAction,
    BulkTarget,
    DataExport,
    DataImport,
    ExportChunk,
    ImportRow,
)
from herald.db import Base
from herald.events.models import Event
from herald.inquiries.models import Inquiry, InquiryEntry, InquirySettings
from herald.journeys.models import Journey, JourneyEnrollment, JourneyVersion, RateLimitWindow
from herald.loyalty.models import (
    LedgerEntry,
    LoyaltyAccount,
    LoyaltySettings,
    LoyaltyTier,
    Redemption,
    Referral,
    ReferralCode,
    Reward,
)
from herald.messaging.models import (
    AdHocRecipient,
    Consent,
    Device,
    Message,
    MessageTemplate,
    MessagingSettings,
    Suppression,
    WebhookReceipt,
)
from herald.newsletter.models import Subscriber
from herald.orders.models import CurrencyRate, Order, OrderItem, OrderRefund
from herald.organizations.models import Organization
from herald.predictions.models import (
    ClvModel,
    CustomerPrediction,
    ProductAffinity,
    ProductPopularity,
)
from herald.products.models import Product
from herald.ratelimits import RateLimitCounter
from herald.segments.models import Segment, SegmentMembership
from herald.staff.models import SignInGuard, StaffSession, StaffToken

__all__ = [
    "AdHocRecipient",
    "AnalyticsAcquisition",
    "AnalyticsCohort",
    "AnalyticsPeriod",
    "AnalyticsSettings",
    "AnalyticsState",
    "ApiKey",
    "Base",
    "BulkAction",
    "BulkTarget",
    "Campaign",
    "CampaignRecipient",
    "ClvModel",
    "Consent",
    "CurrencyRate",
    "Customer",
    "CustomerActivity",
    "CustomerAddress",
    "CustomerBusiness",
    "CustomerEmail",
    "CustomerGroup",
    "CustomerGroupMember",
    "CustomerNote",
    "CustomerPhone",
    "CustomerPrediction",
    "CustomerTag",
    "DataExport",
    "DataImport",
    "Device",
    "Event",
    "ExportChunk",
    "ImportRow",
    "Inquiry",
    "InquiryEntry",
    "InquirySettings",
    "Journey",
    "JourneyEnrollment",
    "JourneyVersion",
    "LedgerEntry",
    "LoyaltyAccount",
    "LoyaltySettings",
    "LoyaltyTier",
    "MarketingSpend",
    "Message",
    "MessageTemplate",
    "MessagingSettings",
    "Order",
    "OrderAttribution",
    "OrderItem",
    "OrderRefund",
    "Organization",
    "Product",
    "ProductAffinity",
    "ProductPopularity",
    "RateLimitCounter",
    "RateLimitWindow",
    "Redemption",
    "Referral",
    "ReferralCode",
    "Reward",
    "Segment",
    "SegmentMembership",
    "SignInGuard",
    "StaffSession",
    "StaffToken",
    "Subscriber",
    "Suppression",
    "User",
    "WebhookReceipt",
]
