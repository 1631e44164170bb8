"""The follow-up's emails: Herald's default templates (a merchant edits them like any other
template, under the same keys) and who each one goes to."""

from __future__ import annotations

from typing import Any

from herald.inquiries.contracts import EmailKind
from herald.inquiries.models import Inquiry
from herald.messaging.schemas import TemplateCreate, transactional_email

_SUMMARY = (
    "<p><strong>{{ event.inquiry.name }}</strong> &lt;{{ event.inquiry.email }}&gt;"
    "{% if event.inquiry.company %}, {{ event.inquiry.company }}{% endif %}"
    "{% if event.inquiry.phone %}, {{ event.inquiry.phone }}{% endif %}</p>"
    '<blockquote style="white-space:pre-wrap">{{ event.inquiry.message }}</blockquote>'
    "<p>Inquiry {{ event.inquiry.id }}, received {{ event.inquiry.received }}.</p>"
)
_SUMMARY_TEXT = (
    "{{ event.inquiry.name }} <{{ event.inquiry.email }}>"
    "{% if event.inquiry.company %}, {{ event.inquiry.company }}{% endif %}\n\n"
    "{{ event.inquiry.message }}\n\nInquiry {{ event.inquiry.id }}, "
    "received {{ event.inquiry.received }}."
)


TEMPLATES: dict[EmailKind, TemplateCreate] = {
    EmailKind.new_inquiry: transactional_email(
        "inquiry-new",
        "Inquiry: new lead (to sales)",
        "New inquiry from {{ event.inquiry.name }}"
        "{% if event.inquiry.company %} ({{ event.inquiry.company }}){% endif %}",
        "<p>A new inquiry came in. Who takes it?</p>" + _SUMMARY,
        "A new inquiry came in. Who takes it?\n\n" + _SUMMARY_TEXT,
    ),
    EmailKind.unassigned: transactional_email(
        "inquiry-unassigned",
        "Inquiry: nobody has taken it (to owners)",
        "Unassigned for {{ event.waited }}: inquiry from {{ event.inquiry.name }}",
        "<p>Nobody has taken this inquiry for {{ event.waited }}.</p>" + _SUMMARY,
        "Nobody has taken this inquiry for {{ event.waited }}.\n\n" + _SUMMARY_TEXT,
    ),
    EmailKind.no_reply: transactional_email(
        "inquiry-no-reply",
        "Inquiry: no reply yet (escalation)",
        "No reply for {{ event.waited }}: inquiry from {{ event.inquiry.name }}",
        "<p>{{ event.assignee }} has not answered this lead for {{ event.waited }}.</p>" + _SUMMARY,
        "{{ event.assignee }} has not answered this lead for {{ event.waited }}.\n\n"
        + _SUMMARY_TEXT,
    ),
    EmailKind.nudge: transactional_email(
        "inquiry-nudge",
        "Inquiry: checking in with a quiet lead",
        "Following up on your inquiry to {{ organization.name }}",
        "<p>Hello {{ event.inquiry.name }},</p><p>we answered your inquiry a few days ago and "
        "wanted to make sure it reached you. Just reply to this email if you have any "
        "questions.</p><p>{{ organization.name }}</p>",
        "Hello {{ event.inquiry.name }},\n\nwe answered your inquiry a few days ago and wanted "
        "to make sure it reached you. Just reply to this email if you have any questions.\n\n"
        "{{ organization.name }}",
    ),
    EmailKind.reply: transactional_email(
        "inquiry-reply",
        "Inquiry: a reply to the lead",
        "{{ event.reply.subject }}",
        '<div style="white-space:pre-wrap">{{ event.reply.body }}</div>',
        "{{ event.reply.body }}",
    ),
}

# Whom each staff notice goes to; the lead's emails go to the inquiry's address.
STAFF_ROLES: dict[EmailKind, tuple[str, ...]] = {
    EmailKind.new_inquiry: ("owner", "sales"),
    EmailKind.unassigned: ("owner",),
    EmailKind.no_reply: ("owner", "manager"),
}


def inquiry_context(inquiry: Inquiry) -> dict[str, Any]:
    """The inquiry as templates see it; absent fields are empty strings, never "None"."""
    return {
        "id": str(inquiry.id),
        "name": inquiry.name,
        "email": inquiry.email,
        "phone": inquiry.phone or "",
        "company": inquiry.company or "",
        "company_size": inquiry.company_size or "",
        "industry": inquiry.industry or "",
        "website": inquiry.website or "",
        "message": inquiry.message,
        "source_page": inquiry.source_page or "",
        "received": inquiry.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        "status": inquiry.status.value,
    }
