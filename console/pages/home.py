"""Home: the shop's key numbers and what needs attention, as far as the role may see."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from console.web import PageRoute, Staff, current_staff, render, runtime_of
from herald.access.permissions import Permission
from herald.overview.actions import shop_overview
from herald.overview.service import Section

router = APIRouter(route_class=PageRoute, include_in_schema=False)

# Which figures each permission opens.
SECTIONS = {
    Section.customers: Permission.customers_read,
    Section.revenue: Permission.customers_read,
    Section.messages: Permission.messages_read,
    Section.automation: Permission.campaigns_read,
    Section.inquiries: Permission.inquiries_read,
    Section.events: Permission.runs_read,
}


@router.get("/")
async def home(request: Request, member: Staff = Depends(current_staff)) -> Response:
    sections = {section for section, needed in SECTIONS.items() if member.may(needed)}
    figures = await shop_overview(runtime_of(request), member.organization_id, sections)
    return render(request, "home.html", {"figures": figures, "nav": "home"})
