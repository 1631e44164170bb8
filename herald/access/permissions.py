"""What each role may do. One table, read by the API's guards."""

from __future__ import annotations

import enum

from herald.access.models import Role


class Permission(enum.StrEnum):
    customers_read = "customers:read"
    customers_create = "customers:create"
    customers_update = "customers:update"
    customers_delete = "customers:delete"
    accounts_manage = "accounts:manage"
    events_write = "events:write"
    loyalty_read = "loyalty:read"
    loyalty_configure = "loyalty:configure"
    # Spend a customer's points on a reward; confirm or give back its code.
    loyalty_redeem = "loyalty:redeem"
    # Correct a balance by hand (audited).
    loyalty_adjust = "loyalty:adjust"
    runs_read = "runs:read"
    api_keys_manage = "api_keys:manage"
    # Invite staff, change their roles, remove them.
    users_manage = "users:manage"
    templates_read = "templates:read"
    templates_write = "templates:write"
    messages_read = "messages:read"
    # Send one message to one customer now (the consent rules of its category apply).
    messages_send = "messages:send"
    messaging_configure = "messaging:configure"
    # Consent and the suppression list: who may be reached.
    audience_manage = "audience:manage"
    journeys_read = "journeys:read"
    journeys_write = "journeys:write"
    # Enroll customers, exit runs and skip their waits.
    journeys_operate = "journeys:operate"
    # Publish a journey whose steps award points or update profiles: what the role could not do
    # by hand, it may not set running for every customer either.
    journeys_publish_effects = "journeys:publish_effects"
    segments_read = "segments:read"
    segments_write = "segments:write"
    campaigns_read = "campaigns:read"
    campaigns_write = "campaigns:write"
    # Start, pause, resume and cancel a campaign's send.
    campaigns_send = "campaigns:send"
    inquiries_read = "inquiries:read"
    # Assign, reply to, convert and close sales inquiries.
    inquiries_work = "inquiries:work"
    # The follow-up's timers and who hears of new inquiries.
    inquiries_configure = "inquiries:configure"
    # Import customers and past orders from files.
    data_import = "data:import"
    # Export the customer and subscriber lists as files.
    data_export = "data:export"
    # Everything Herald holds about one person, as an archive.
    personal_data_export = "personal_data:export"
    # Erase a person: irreversible, so the owner's alone.
    personal_data_erase = "personal_data:erase"
    # The product catalog (orders add the products they name whatever the key).
    catalog_write = "catalog:write"
    # The organization's name, reporting currency and currency rates, order history window.
    organization_configure = "organization:configure"
    # Revenue analytics: attribution, acquisition, cohorts, funnels, series.
    analytics_read = "analytics:read"
    # The attribution model and windows, message costs and marketing spend; a rollup now.
    analytics_configure = "analytics:configure"


_P = Permission

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.owner: frozenset(Permission),
    # Managers see and run everything but the loyalty program's rules, balances and the keys.
    Role.manager: frozenset(Permission)
    - {
        _P.loyalty_configure,
        _P.loyalty_adjust,
        _P.api_keys_manage,
        _P.users_manage,
        _P.personal_data_erase,
    },
    # At the till: look up and create customers, post orders, show points. No edits, no deletes.
    Role.cashier: frozenset(
        {
            _P.customers_read,
            _P.customers_create,
            _P.events_write,
            _P.loyalty_read,
            _P.loyalty_redeem,
        }
    ),
    # Marketers read profiles to build audiences but do not edit them.
    Role.marketing: frozenset(
        {
            _P.customers_read,
            _P.loyalty_read,
            _P.runs_read,
            _P.templates_read,
            _P.templates_write,
            _P.messages_read,
            _P.messages_send,
            _P.audience_manage,
            _P.journeys_read,
            _P.journeys_write,
            _P.journeys_operate,
            _P.segments_read,
            _P.segments_write,
            _P.campaigns_read,
            _P.campaigns_write,
            _P.campaigns_send,
            _P.data_export,
            _P.analytics_read,
        }
    ),
    # Sales work inquiries only; customer profiles are out of their reach.
    Role.sales: frozenset({_P.inquiries_read, _P.inquiries_work}),
    Role.customer: frozenset(),
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
