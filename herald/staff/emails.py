"""The console's own emails: Herald's default templates (editable under the same keys, like any
template), sent through the delivery path by the organization's email provider."""

from __future__ import annotations

from herald.messaging.schemas import TemplateCreate, transactional_email
from herald.staff.models import TokenPurpose


def _template(key: str, name: str, subject: str, lead: str, action: str) -> TemplateCreate:
    html = (
        f"<p>{lead}</p>"
        f'<p><a href="{{{{ event.link }}}}">{action}</a></p>'
        "<p>The link works once, until {{ event.expires }}. If you did not expect this email, "
        "ignore it.</p>"
    )
    text = (
        f"{lead}\n\n{action}: {{{{ event.link }}}}\n\n"
        "The link works once, until {{ event.expires }}. If you did not expect this email, "
        "ignore it."
    )
    return transactional_email(key, name, subject, html, text)


TEMPLATES: dict[TokenPurpose, TemplateCreate] = {
    TokenPurpose.invite: _template(
        "staff-invitation",
        "Console: invitation to staff",
        "You are invited to {{ event.organization }} on Herald",
        "You have been invited to {{ event.organization }}'s Herald console as {{ event.role }}.",
        "Set your password and sign in",
    ),
    TokenPurpose.reset: _template(
        "staff-password-reset",
        "Console: password reset",
        "Reset your Herald password for {{ event.organization }}",
        "Someone asked to reset the password of your {{ event.organization }} account.",
        "Choose a new password",
    ),
}
